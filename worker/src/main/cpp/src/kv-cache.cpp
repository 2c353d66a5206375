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
    block_hash_.assign(n_blocks_, 0);
    block_cid_.assign(n_blocks_, 0);
    block_parent_cid_.assign(n_blocks_, 0);
    block_adapter_.assign(n_blocks_, 0);
    block_tokens_.assign(size_t(n_blocks_) * block_size_, 0);
    lru_prev_.assign(n_blocks_, -1);
    lru_next_.assign(n_blocks_, -1);
    block_stamp_.assign(n_blocks_, 0);
    for (int b = n_blocks_ - 1; b >= 0; b--) free_.push_back(b);
    seqs_.resize(max_sequences);
    // block tables never grow during a step: room for the longest sequence the pool allows
    // (bounded to 64 MiB of tables; beyond that a table may grow once in a step)
    size_t max_blocks_per_seq = std::min<size_t>(n_blocks_, (size_t(max_positions) + block_size - 1) / block_size);
    if (max_blocks_per_seq * seqs_.size() * 4 > (size_t(64) << 20))
        max_blocks_per_seq = std::min<size_t>(max_blocks_per_seq, 64);
    for (auto& s : seqs_) s.blocks.reserve(max_blocks_per_seq);
}

namespace {
// splitmix64's finaliser: every input bit moves every output bit.
uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}
} // namespace

uint64_t KvCache::root_hash(uint64_t adapter_id) const { return mix(adapter_id ^ 0x9e3779b97f4a7c15ull); }

uint64_t KvCache::block_hash(uint64_t parent_hash, const int32_t* tokens) const {
    uint64_t h = parent_hash;
    for (int j = 0; j < block_size_; j++) h = mix(h + 0x9e3779b97f4a7c15ull + uint32_t(tokens[j]));
    return h;
}

int32_t KvCache::find(uint64_t hash, uint64_t parent_cid, uint64_t adapter_id, const int32_t* tokens) const {
    auto it = index_.find(hash);
    if (it == index_.end()) return -1;
    int32_t b = it->second;
    if (block_parent_cid_[b] != parent_cid || block_adapter_[b] != adapter_id) return -1;
    if (std::memcmp(&block_tokens_[size_t(b) * block_size_], tokens, size_t(block_size_) * 4) != 0) return -1;
    return b;
}

void KvCache::register_block(Seq& s, int i) {
    const int32_t* toks = s.tokens.data() + size_t(i) * block_size_;
    uint64_t parent_cid = i == 0 ? 0 : s.chain_cid[i - 1];
    uint64_t hash = block_hash(i == 0 ? root_hash(s.adapter) : s.chain_hash[i - 1], toks);
    if (s.untracked || (i > 0 && parent_cid == 0)) {
        s.chain_hash.push_back(hash);
        s.chain_cid.push_back(0);
        return;
    }
    int32_t same = find(hash, parent_cid, s.adapter, toks);
    if (same >= 0) { // another block holds these positions already: the sequence's copy stays private
        s.chain_hash.push_back(hash);
        s.chain_cid.push_back(block_cid_[same]);
        return;
    }
    auto it = index_.find(hash);
    if (it != index_.end()) {
        // A different key under this hash: a block whose parent was unregistered (unreachable) or,
        // rarely, a collision. The newer block takes the place.
        int32_t old = it->second;
        unregister(old);
        if (refs_[old] == 0) {
            lru_remove(old);
            free_.push_back(old);
        }
    }
    int32_t b = s.blocks[i];
    block_hash_[b] = hash;
    block_cid_[b] = next_cid_++;
    block_parent_cid_[b] = parent_cid;
    block_adapter_[b] = s.adapter;
    std::memcpy(&block_tokens_[size_t(b) * block_size_], toks, size_t(block_size_) * 4);
    index_[hash] = b;
    s.chain_hash.push_back(hash);
    s.chain_cid.push_back(block_cid_[b]);
}

void KvCache::unregister(int32_t b) {
    auto it = index_.find(block_hash_[b]);
    if (it != index_.end() && it->second == b) index_.erase(it);
    block_cid_[b] = 0;
}

void KvCache::lru_push(int32_t b) {
    lru_prev_[b] = lru_tail_;
    lru_next_[b] = -1;
    if (lru_tail_ >= 0)
        lru_next_[lru_tail_] = b;
    else
        lru_head_ = b;
    lru_tail_ = b;
    lru_size_++;
    block_stamp_[b] = ++clock_;
}

void KvCache::lru_remove(int32_t b) {
    if (lru_prev_[b] >= 0)
        lru_next_[lru_prev_[b]] = lru_next_[b];
    else
        lru_head_ = lru_next_[b];
    if (lru_next_[b] >= 0)
        lru_prev_[lru_next_[b]] = lru_prev_[b];
    else
        lru_tail_ = lru_prev_[b];
    lru_prev_[b] = lru_next_[b] = -1;
    lru_size_--;
}

void KvCache::commit(int seq, int pos0, const int32_t* tokens, int n, uint64_t adapter_id) {
    Seq& s = seqs_[seq];
    if (static_cast<int>(s.tokens.size()) != pos0) { // a failed step left positions without tokens
        s.untracked = true;
        s.tokens.resize(pos0, -1);
    }
    if (pos0 == 0) {
        s.adapter = adapter_id;
        s.untracked = adapter_id == kMixedAdapters;
    } else if (adapter_id != s.adapter) {
        s.untracked = true;
    }
    s.tokens.insert(s.tokens.end(), tokens, tokens + n);
    int full = std::min(static_cast<int>(s.tokens.size()), s.length) / block_size_;
    for (int i = static_cast<int>(s.chain_cid.size()); i < full; i++) register_block(s, i);
}

int KvCache::match(const int32_t* tokens, int n, uint64_t adapter_id, std::vector<int32_t>* blocks,
                   std::vector<uint64_t>* hashes, std::vector<uint64_t>* cids) const {
    if (adapter_id == kMixedAdapters || n < 1) return 0;
    int max_blocks = (n - 1) / block_size_;
    uint64_t hash = root_hash(adapter_id), cid = 0;
    int i = 0;
    for (; i < max_blocks; i++) {
        const int32_t* toks = tokens + size_t(i) * block_size_;
        hash = block_hash(hash, toks);
        int32_t b = find(hash, cid, adapter_id, toks);
        if (b < 0) break;
        cid = block_cid_[b];
        if (blocks) blocks->push_back(b);
        if (hashes) hashes->push_back(hash);
        if (cids) cids->push_back(cid);
    }
    return i;
}

int KvCache::lookup(const int32_t* tokens, int n, uint64_t adapter_id, int* shared_blocks) const {
    std::vector<int32_t> found;
    int m = match(tokens, n, adapter_id, &found, nullptr, nullptr);
    if (shared_blocks) {
        *shared_blocks = 0;
        for (int32_t b : found) *shared_blocks += refs_[b] > 0;
    }
    return m * block_size_;
}

int KvCache::adopt(int seq, const int32_t* tokens, int n, uint64_t adapter_id) {
    Seq& s = seqs_[seq];
    stats_.lookups++;
    stats_.lookup_tokens += n;
    std::vector<int32_t> found;
    std::vector<uint64_t> hashes, cids;
    int m = match(tokens, n, adapter_id, &found, &hashes, &cids);
    for (int32_t b : found) {
        if (refs_[b] == 0) lru_remove(b);
        refs_[b]++;
        s.blocks.push_back(b);
    }
    s.length = m * block_size_;
    s.tokens.assign(tokens, tokens + s.length);
    s.chain_hash = std::move(hashes);
    s.chain_cid = std::move(cids);
    s.adapter = adapter_id;
    s.untracked = false;
    stats_.hit_tokens += s.length;
    return s.length;
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
    int32_t b;
    if (!free_.empty()) {
        b = free_.back();
        free_.pop_back();
    } else if (lru_head_ >= 0) { // the least recently released cached block
        b = evict_oldest();
    } else {
        fail(FL_INTERNAL, "KV block pool exhausted after the capacity check");
    }
    refs_[b] = 1;
    return b;
}

int32_t KvCache::evict_oldest() {
    int32_t b = lru_head_;
    lru_remove(b);
    unregister(b);
    stats_.evictions++;
    return b;
}

int KvCache::reclaim(uint64_t max_stamp, int max_blocks) {
    int n = 0;
    for (; n < max_blocks && lru_head_ >= 0 && block_stamp_[lru_head_] <= max_stamp; n++)
        free_.push_back(evict_oldest());
    return n;
}

void KvCache::release_block(int32_t b) {
    if (--refs_[b] != 0) return;
    if (block_cid_[b] != 0)
        lru_push(b);
    else
        free_.push_back(b);
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
    // positions from pos0 on get new tokens: their keys go
    if (static_cast<int>(s.tokens.size()) > pos0) s.tokens.resize(pos0);
    if (static_cast<int>(s.chain_cid.size()) > pos0 / block_size_) {
        s.chain_cid.resize(pos0 / block_size_);
        s.chain_hash.resize(pos0 / block_size_);
    }
    if (new_length == 0) s.untracked = false;
    int want = (new_length + block_size_ - 1) / block_size_;
    while (static_cast<int>(s.blocks.size()) > want) {
        release_block(s.blocks.back());
        s.blocks.pop_back();
    }
    for (int i = pos0 / block_size_; i < static_cast<int>(s.blocks.size()); i++) {
        int32_t shared = s.blocks[i];
        if (refs_[shared] == 1) {
            if (block_cid_[shared] != 0) unregister(shared); // a cached block never changes
            continue;
        }
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
    to.tokens = from.tokens;
    to.chain_hash = from.chain_hash;
    to.chain_cid = from.chain_cid;
    to.adapter = from.adapter;
    to.untracked = from.untracked;
}

} // namespace fl
