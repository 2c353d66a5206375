#include "kv-cache.h"

#include <algorithm>
#include <cstring>

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
    refs_.assign(n_blocks_, 0);
    for (int b = n_blocks_ - 1; b >= 0; b--) free_.push_back(b);
    seqs_.resize(max_sequences);
    // block tables never grow during a step: room for the longest sequence the pool allows
    // (bounded to 64 MiB of tables; beyond that a table may grow once in a step)
    size_t max_blocks_per_seq = std::min<size_t>(n_blocks_, (size_t(max_positions) + block_size - 1) / block_size);
    if (max_blocks_per_seq * seqs_.size() * 4 > (size_t(64) << 20))
        max_blocks_per_seq = std::min<size_t>(max_blocks_per_seq, 64);
    for (auto& s : seqs_) s.blocks.reserve(max_blocks_per_seq);
}

int KvCache::blocks_needed(int seq, int pos0, int new_length) const {
    const Seq& s = seqs_[seq];
    int want = (new_length + block_size_ - 1) / block_size_;
    int have = static_cast<int>(s.blocks.size());
    int need = want > have ? want - have : 0;
    for (int i = pos0 / block_size_; i < std::min(want, have); i++)
        if (refs_[s.blocks[i]] > 1) need++;
    return need;
}

int32_t KvCache::take_block() {
    if (free_.empty()) fail(FL_INTERNAL, "KV block pool exhausted after the capacity check");
    int32_t b = free_.back();
    free_.pop_back();
    refs_[b] = 1;
    return b;
}

void KvCache::release_block(int32_t b) {
    if (--refs_[b] == 0) free_.push_back(b);
}

void KvCache::copy_block(int32_t from, int32_t to) {
    if (device_copy_)
        device_copy_(from, to);
    else
        std::memcpy(pool_.as<char>() + size_t(to) * bytes_per_block_,
                    pool_.as<char>() + size_t(from) * bytes_per_block_, size_t(bytes_per_block_));
}

void KvCache::prepare_write(int seq, int pos0, int new_length) {
    Seq& s = seqs_[seq];
    int want = (new_length + block_size_ - 1) / block_size_;
    while (static_cast<int>(s.blocks.size()) > want) {
        release_block(s.blocks.back());
        s.blocks.pop_back();
    }
    for (int i = pos0 / block_size_; i < static_cast<int>(s.blocks.size()); i++) {
        int32_t shared = s.blocks[i];
        if (refs_[shared] == 1) continue;
        int32_t own = take_block();
        copy_block(shared, own);
        release_block(shared);
        s.blocks[i] = own;
    }
    while (static_cast<int>(s.blocks.size()) < want) s.blocks.push_back(take_block());
    s.length = new_length;
}

void KvCache::fork(int src, int dst) {
    const Seq& from = seqs_[src];
    Seq& to = seqs_[dst];
    int full = from.length / block_size_;
    for (int i = 0; i < full; i++) {
        refs_[from.blocks[i]]++;
        to.blocks.push_back(from.blocks[i]);
    }
    if (from.length % block_size_ != 0) {
        int32_t own = take_block();
        copy_block(from.blocks[full], own);
        to.blocks.push_back(own);
    }
    to.length = from.length;
}

} // namespace fl
