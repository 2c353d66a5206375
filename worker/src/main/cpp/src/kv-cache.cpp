#include "kv-cache.h"

#include <algorithm>

#include "error.h"

namespace fl {

KvCache::KvCache(int block_size, int n_layers, int kv_dim, int64_t budget_bytes, int max_sequences, int max_positions,
                 DType dtype, bool host_pool)
    : dtype_(dtype), block_size_(block_size), n_layers_(n_layers), kv_dim_(kv_dim),
      row_bytes_(size_t(kv_dim) * dtype_size(dtype)) {
    if (dtype != DType::F32 && dtype != DType::BF16)
        fail(FL_INVALID_ARGUMENT, "kv_dtype %s is not F32 or BF16", dtype_name(dtype));
    bytes_per_block_ = int64_t(n_layers) * 2 * block_size * int64_t(row_bytes_);
    int64_t n = budget_bytes / bytes_per_block_;
    if (n < 1)
        fail(FL_INVALID_ARGUMENT,
             "kv_budget_bytes %lld is less than one KV block (%lld bytes: %d layers x 2 x %d positions x %d %s values)",
             (long long)budget_bytes, (long long)bytes_per_block_, n_layers, block_size, kv_dim, dtype_name(dtype));
    if (n > (1 << 30)) n = 1 << 30;
    n_blocks_ = static_cast<int>(n);
    if (host_pool) pool_.allocate(size_t(n_blocks_) * size_t(bytes_per_block_));
    free_.reserve(n_blocks_);
    for (int b = n_blocks_ - 1; b >= 0; b--) free_.push_back(b);
    seqs_.resize(max_sequences);
    // block tables never grow during a step: room for the longest sequence the pool allows
    // (bounded to 64 MiB of tables; beyond that a table may grow once in a step)
    size_t max_blocks_per_seq = std::min<size_t>(n_blocks_, (size_t(max_positions) + block_size - 1) / block_size);
    if (max_blocks_per_seq * seqs_.size() * 4 > (size_t(64) << 20))
        max_blocks_per_seq = std::min<size_t>(max_blocks_per_seq, 64);
    for (auto& s : seqs_) s.blocks.reserve(max_blocks_per_seq);
}

int KvCache::blocks_needed(int seq, int new_length) const {
    int want = (new_length + block_size_ - 1) / block_size_;
    int have = static_cast<int>(seqs_[seq].blocks.size());
    return want > have ? want - have : 0;
}

void KvCache::resize(int seq, int new_length) {
    Seq& s = seqs_[seq];
    int want = (new_length + block_size_ - 1) / block_size_;
    while (static_cast<int>(s.blocks.size()) > want) {
        free_.push_back(s.blocks.back());
        s.blocks.pop_back();
    }
    while (static_cast<int>(s.blocks.size()) < want) {
        if (free_.empty()) fail(FL_INTERNAL, "KV block pool exhausted after the capacity check");
        s.blocks.push_back(free_.back());
        free_.pop_back();
    }
    s.length = new_length;
}

} // namespace fl
