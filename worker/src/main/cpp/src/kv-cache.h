// kv-cache.h - paged KV cache: a pool of fixed-size blocks shared by all sequences, with an index of
// full blocks by content (automatic prefix caching).
//
// A block holds block_size positions of K and V for every layer:
//   pool: [n_blocks][n_layers][2 (K, V)][block_size][kv_dim] of the cache's dtype, BF16 (the
//   default: half the bytes, so a budget holds twice the positions) or F32. On a CUDA device the
//   pool lives in device memory and this class keeps only the bookkeeping.
// Each sequence has a block table (its blocks in position order) and a length. Blocks are taken
// from the free list on demand and returned when no sequence holds them any more. Attention only
// reads positions below a sequence's length, each written by the sequence (or the sequence it was
// forked from, or the one that computed an adopted block) first, so a reused block never leaks
// another sequence's data.
//
// Forking: a fork shares its source's full blocks by reference count and gets its own copy of the
// partial last block, so n sequences that continue one prompt hold the prompt's KV once. A shared
// block is never written in place: a sequence about to write into one (a rewind into the shared
// prompt) first takes a private copy (copy on write).
//
// Prefix caching: once a block's last position is written (commit), the block is registered under
// a key: (adapter id, the key of the block before it, its block_size tokens), so the key names the
// adapter and every token up to and including the block. The index is a hash map from a 64-bit
// chain hash of that key to the block; a lookup compares the whole key (the stored tokens, the
// adapter id and the parent's registration id, a number never reused), so a hash collision can
// only cost a hit, never serve wrong KV. A new sequence adopts the longest registered run of
// blocks for its tokens (adopt) instead of computing them. A registered block never changes: a
// sequence about to write into one it holds alone unregisters it first (one it shares is copied
// as above). A registered block no sequence holds is not freed: it waits, reclaimable, in an LRU
// list and is taken (oldest first, and unregistered) only when the free list is empty, so
// free_blocks() counts it as available.
//
// One LRU order with whatever else shares the memory budget (the scheduler's resident adapters):
// a release clock advances by one each time a block becomes reclaimable and stamps it, so the
// stamps order reclaimable blocks by release and anything the caller stamps with clock() in
// between falls in its place in that order. The caller reclaims blocks explicitly (reclaim: the
// oldest first, none released after a given stamp) and interleaves its own items, older first,
// keeping enough blocks free that a write never falls back on the implicit reclaim above.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "tensor.h"

namespace fl {

class KvCache {
public:
    // The adapter id of a run whose rows use different adapters: its blocks are never registered.
    static constexpr uint64_t kMixedAdapters = ~uint64_t(0);

    struct PrefixStats {
        int64_t lookups = 0;       // adopt calls
        int64_t lookup_tokens = 0; // tokens offered to adopt
        int64_t hit_tokens = 0;    // positions adopt reused
        int64_t evictions = 0;     // registered blocks taken for new data or reclaimed
    };

    // dtype: F32 or BF16; host_pool false: the pool lives elsewhere (a device).
    KvCache(int block_size, int n_layers, int kv_dim, int64_t budget_bytes, int max_sequences, int max_positions,
            DType dtype, bool host_pool = true);

    DType dtype() const { return dtype_; }
    int block_size() const { return block_size_; }
    int total_blocks() const { return n_blocks_; }
    // Blocks a write may take: the free list and the reclaimable cached blocks.
    int free_blocks() const { return static_cast<int>(free_.size()) + lru_size_; }
    // Registered blocks no sequence holds (included in free_blocks()).
    int reclaimable_blocks() const { return lru_size_; }
    // Registered blocks, held or reclaimable.
    int cached_blocks() const { return static_cast<int>(index_.size()); }
    // The release clock: how many times a block has become reclaimable so far.
    uint64_t clock() const { return clock_; }
    // The clock's stamp of the least recently released reclaimable block; 0 when none is.
    uint64_t oldest_reclaimable_stamp() const { return lru_head_ >= 0 ? block_stamp_[lru_head_] : 0; }
    // Frees up to max_blocks reclaimable blocks stamped at or before max_stamp, oldest first, taking
    // them out of the index; returns how many it freed (free_blocks() is unchanged).
    int reclaim(uint64_t max_stamp, int max_blocks);
    const PrefixStats& prefix_stats() const { return stats_; }
    int64_t bytes_per_block() const { return bytes_per_block_; }
    int max_sequences() const { return static_cast<int>(seqs_.size()); }
    int64_t max_tokens() const { return int64_t(n_blocks_) * block_size_; }

    int length(int seq) const { return seqs_[seq].length; }
    // A sequence's blocks in position order.
    const std::vector<int32_t>& blocks(int seq) const { return seqs_[seq].blocks; }
    // Sequences holding block b (0 = free or reclaimable).
    int block_refs(int32_t b) const { return refs_[b]; }
    // Whether block b is in the prefix index.
    bool block_registered(int32_t b) const { return block_cid_[b] != 0; }
    // Blocks that must be taken from the free list for seq to hold new_length positions and write
    // positions pos0 .. new_length-1 (new blocks, and private copies of shared blocks written).
    int blocks_needed(int seq, int pos0, int new_length) const;
    // Sets the length to new_length, taking or returning blocks, copies each shared block that
    // positions pos0 .. new_length-1 fall in and unregisters each registered one it holds alone;
    // the caller checked blocks_needed against free_blocks() for all sequences of the step.
    void prepare_write(int seq, int pos0, int new_length);
    // Records the tokens written at positions pos0 .. pos0+n-1 of seq (after prepare_write and the
    // forward pass that wrote their K and V) with the id of the adapter that computed them, and
    // registers each block they complete.
    void commit(int seq, int pos0, const int32_t* tokens, int n, uint64_t adapter_id);
    void free_seq(int seq) { prepare_write(seq, 0, 0); }
    // Blocks fork(src, dst) takes from the free list: 1 when src's last block is partial.
    int fork_blocks_needed(int src) const { return seqs_[src].length % block_size_ != 0 ? 1 : 0; }
    // dst (empty, not src) gets src's positions: its full blocks shared, the partial last one
    // copied. The caller checked fork_blocks_needed against free_blocks().
    void fork(int src, int dst);

    // Positions of tokens[0 .. n) whose KV the index holds for adapter_id: whole blocks, at most
    // n - 1 positions (the last token is always left to compute). shared_blocks (may be NULL): how
    // many of those blocks sequences hold now (adopting the others takes them from free_blocks()).
    int lookup(const int32_t* tokens, int n, uint64_t adapter_id, int* shared_blocks) const;
    // seq (empty) takes the blocks lookup finds and that many positions; returns the positions.
    int adopt(int seq, const int32_t* tokens, int n, uint64_t adapter_id);

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
        // Prefix keys: the tokens written so far (a prefix of the positions; fewer than length
        // only after a failed step), and for each full block its chain hash and registration id
        // (0: the chain cannot be registered from here on).
        std::vector<int32_t> tokens;
        std::vector<uint64_t> chain_hash;
        std::vector<uint64_t> chain_cid;
        uint64_t adapter = 0;
        bool untracked = false; // mixed adapters or unknown tokens: nothing more is registered
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

    uint64_t block_hash(uint64_t parent_hash, const int32_t* tokens) const;
    uint64_t root_hash(uint64_t adapter_id) const;
    // The registered block with this key, or -1.
    int32_t find(uint64_t hash, uint64_t parent_cid, uint64_t adapter_id, const int32_t* tokens) const;
    void register_block(Seq& s, int i);
    void unregister(int32_t b);
    void lru_push(int32_t b);
    void lru_remove(int32_t b);
    // Takes the least recently released reclaimable block out of the LRU list and the index.
    int32_t evict_oldest();
    // Matches tokens against the index; fills blocks, hashes and cids of the matched run.
    int match(const int32_t* tokens, int n, uint64_t adapter_id, std::vector<int32_t>* blocks,
              std::vector<uint64_t>* hashes, std::vector<uint64_t>* cids) const;

    Buffer pool_;               // [n_blocks][n_layers][2][block_size][kv_dim] of dtype_
    std::vector<int32_t> free_; // free block ids (stack)
    std::vector<int32_t> refs_; // [n_blocks] sequences holding each block
    std::vector<Seq> seqs_;     // [max_sequences]
    std::function<void(int32_t, int32_t)> device_copy_;

    // --- prefix index; per block, meaningful while block_cid_ != 0 ---------------------------
    std::unordered_map<uint64_t, int32_t> index_; // chain hash -> registered block
    std::vector<uint64_t> block_hash_;            // [n_blocks] chain hash
    std::vector<uint64_t> block_cid_;             // [n_blocks] registration id; 0 = not registered
    std::vector<uint64_t> block_parent_cid_;      // [n_blocks] the previous block's; 0 for the first
    std::vector<uint64_t> block_adapter_;         // [n_blocks]
    std::vector<int32_t> block_tokens_;           // [n_blocks][block_size]
    uint64_t next_cid_ = 1;
    // reclaimable blocks, oldest first: a doubly linked list through lru_prev_ / lru_next_
    std::vector<int32_t> lru_prev_, lru_next_;
    std::vector<uint64_t> block_stamp_; // [n_blocks] clock_ when it last became reclaimable
    uint64_t clock_ = 0;
    int32_t lru_head_ = -1, lru_tail_ = -1;
    int lru_size_ = 0;
    PrefixStats stats_;
};

} // namespace fl
