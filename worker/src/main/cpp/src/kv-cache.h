// kv-cache.h - paged KV cache: a pool of fixed-size blocks shared by all sequences.
//
// A block holds block_size positions of K and V for every layer:
//   pool: [n_blocks][n_layers][2 (K, V)][block_size][kv_dim] of the cache's dtype, BF16 (the
//   default: half the bytes, so a budget holds twice the positions) or F32. On a CUDA device the
//   pool lives in device memory and this class keeps only the bookkeeping.
// Each sequence owns a block table (its blocks in position order) and a length. Blocks are taken
// from the free list on demand and returned when the sequence is freed or rewound. Attention only
// reads positions below a sequence's length, each written by the sequence itself first, so a
// reused block never leaks another sequence's data.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor.h"

namespace fl {

class KvCache {
public:
    // dtype: F32 or BF16; host_pool false: the pool lives elsewhere (a device).
    KvCache(int block_size, int n_layers, int kv_dim, int64_t budget_bytes, int max_sequences, int max_positions,
            DType dtype, bool host_pool = true);

    DType dtype() const { return dtype_; }
    int block_size() const { return block_size_; }
    int total_blocks() const { return n_blocks_; }
    int free_blocks() const { return static_cast<int>(free_.size()); }
    int64_t bytes_per_block() const { return bytes_per_block_; }
    int max_sequences() const { return static_cast<int>(seqs_.size()); }
    int64_t max_tokens() const { return int64_t(n_blocks_) * block_size_; }

    int length(int seq) const { return seqs_[seq].length; }
    // A sequence's blocks in position order.
    const std::vector<int32_t>& blocks(int seq) const { return seqs_[seq].blocks; }
    // Blocks that must be taken from the free list for seq to hold new_length positions.
    int blocks_needed(int seq, int new_length) const;
    // Sets the length to new_length, taking or returning blocks; the caller checked
    // blocks_needed against free_blocks() for all sequences of the step.
    void resize(int seq, int new_length);
    void free_seq(int seq) { resize(seq, 0); }

    // K or V row of one position: [kv_dim] of dtype().
    void* k(int seq, int layer, int pos) { return row(seq, layer, pos, 0); }
    void* v(int seq, int layer, int pos) { return row(seq, layer, pos, 1); }

private:
    void* row(int seq, int layer, int pos, int kv) {
        int block = seqs_[seq].blocks[pos / block_size_];
        size_t off = ((size_t(block) * n_layers_ + layer) * 2 + kv) * block_size_ + pos % block_size_;
        return pool_.as<char>() + off * row_bytes_;
    }

    struct Seq {
        std::vector<int32_t> blocks; // block table, position order
        int32_t length = 0;
    };

    DType dtype_;
    int block_size_;
    int n_layers_;
    int kv_dim_;
    size_t row_bytes_; // kv_dim x the dtype's size
    int n_blocks_;
    int64_t bytes_per_block_;
    Buffer pool_;               // [n_blocks][n_layers][2][block_size][kv_dim] of dtype_
    std::vector<int32_t> free_; // free block ids (stack)
    std::vector<Seq> seqs_;     // [max_sequences]
};

} // namespace fl
