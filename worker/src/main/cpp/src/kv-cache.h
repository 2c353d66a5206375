// kv-cache.h - paged KV cache: a pool of fixed-size blocks shared by all sequences.
//
// A block holds block_size positions of K and V for every layer:
//   pool: [n_blocks][n_layers][2 (K, V)][block_size][kv_dim] of the cache's dtype, BF16 (the
//   default: half the bytes, so a budget holds twice the positions) or F32. On a CUDA device the
//   pool lives in device memory and this class keeps only the bookkeeping.
// Each sequence has a block table (its blocks in position order) and a length. Blocks are taken
// from the free list on demand and returned when no sequence holds them any more. Attention only
// reads positions below a sequence's length, each written by the sequence (or the sequence it was
// forked from) first, so a reused block never leaks another sequence's data.
//
// Forking: a fork shares its source's full blocks by reference count and gets its own copy of the
// partial last block, so n sequences that continue one prompt hold the prompt's KV once. A shared
// block is never written in place: a sequence about to write into one (a rewind into the shared
// prompt) first takes a private copy (copy on write).
#pragma once

#include <cstdint>
#include <functional>
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
    // Sequences holding block b (0 = free).
    int block_refs(int32_t b) const { return refs_[b]; }
    // Blocks that must be taken from the free list for seq to hold new_length positions and write
    // positions pos0 .. new_length-1 (new blocks, and private copies of shared blocks written).
    int blocks_needed(int seq, int pos0, int new_length) const;
    // Sets the length to new_length, taking or returning blocks, and copies each shared block that
    // positions pos0 .. new_length-1 fall in; the caller checked blocks_needed against
    // free_blocks() for all sequences of the step.
    void prepare_write(int seq, int pos0, int new_length);
    void free_seq(int seq) { prepare_write(seq, 0, 0); }
    // Blocks fork(src, dst) takes from the free list: 1 when src's last block is partial.
    int fork_blocks_needed(int src) const { return seqs_[src].length % block_size_ != 0 ? 1 : 0; }
    // dst (empty, not src) gets src's positions: its full blocks shared, the partial last one
    // copied. The caller checked fork_blocks_needed against free_blocks().
    void fork(int src, int dst);
    // Copies block from's contents to block to when the pool lives elsewhere (a device).
    void set_device_copy(std::function<void(int32_t from, int32_t to)> copy) { device_copy_ = std::move(copy); }

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
    int32_t take_block();
    void release_block(int32_t b);
    void copy_block(int32_t from, int32_t to);

    Buffer pool_;               // [n_blocks][n_layers][2][block_size][kv_dim] of dtype_
    std::vector<int32_t> free_; // free block ids (stack)
    std::vector<int32_t> refs_; // [n_blocks] sequences holding each block
    std::vector<Seq> seqs_;     // [max_sequences]
    std::function<void(int32_t, int32_t)> device_copy_;
};

} // namespace fl
