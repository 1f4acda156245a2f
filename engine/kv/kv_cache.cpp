#include "reasonscope/kv_cache.h"

#include <cstring>
#include <string>

#include "reasonscope/error.h"

namespace rs {

KvType parse_kv_type(const std::string& name) {
    if (name == "f32") return KvType::F32;
    if (name == "f16") return KvType::F16;
    throw Error("KV cache type must be f16 or f32, not '" + name + "'");
}

const char* kv_type_name(KvType t) {
    return t == KvType::F32 ? "f32" : "f16";
}

KvCache::KvCache(int n_layers, int kv_dim, int max_tokens, int max_seq_len, KvType type,
                 int block_tokens)
    : n_layers_(n_layers),
      kv_dim_(kv_dim),
      bt_(block_tokens),
      max_seq_len_(max_seq_len),
      type_(type) {
    if (n_layers <= 0 || kv_dim <= 0 || max_tokens <= 0 || block_tokens <= 0)
        throw Error("kv cache: invalid geometry");
    n_blocks_ = (max_tokens + bt_ - 1) / bt_;
    const size_t bytes = static_cast<size_t>(n_blocks_) * block_bytes();
    for (int l = 0; l < n_layers; ++l) {
        k_.emplace_back(new uint8_t[bytes]);
        v_.emplace_back(new uint8_t[bytes]);
    }
    refs_.assign(static_cast<size_t>(n_blocks_), 0);
    for (int b = n_blocks_ - 1; b >= 0; --b) free_.push_back(b);
}

KvCache::Seq& KvCache::seq_ref(int seq) {
    if (seq < 0 || seq >= static_cast<int>(seqs_.size()) || !seqs_[static_cast<size_t>(seq)].alive)
        throw Error("kv cache: no sequence " + std::to_string(seq));
    return seqs_[static_cast<size_t>(seq)];
}
const KvCache::Seq& KvCache::seq_ref(int seq) const {
    return const_cast<KvCache*>(this)->seq_ref(seq);
}

int KvCache::create() {
    for (size_t i = 0; i < seqs_.size(); ++i) {
        if (!seqs_[i].alive) {
            seqs_[i] = Seq{true, 0, {}};
            return static_cast<int>(i);
        }
    }
    seqs_.push_back(Seq{true, 0, {}});
    return static_cast<int>(seqs_.size() - 1);
}

int KvCache::fork(int seq) {
    Seq copy = seq_ref(seq);
    for (int b : copy.blocks) ++refs_[static_cast<size_t>(b)];
    int id = create();
    seqs_[static_cast<size_t>(id)] = std::move(copy);
    return id;
}

void KvCache::unref(int block) {
    if (--refs_[static_cast<size_t>(block)] == 0) free_.push_back(block);
}

void KvCache::release(int seq) {
    Seq& s = seq_ref(seq);
    for (int b : s.blocks) unref(b);
    s = Seq{};
}

bool KvCache::alive(int seq) const {
    return seq >= 0 && seq < static_cast<int>(seqs_.size()) &&
           seqs_[static_cast<size_t>(seq)].alive;
}

int KvCache::length(int seq) const {
    return seq_ref(seq).len;
}

int KvCache::alloc_block() {
    int b = free_.back();
    free_.pop_back();
    refs_[static_cast<size_t>(b)] = 1;
    return b;
}

void KvCache::copy_block(int dst, int src) {
    size_t bb = block_bytes();
    for (int l = 0; l < n_layers_; ++l) {
        std::memcpy(k_[static_cast<size_t>(l)].get() + static_cast<size_t>(dst) * bb,
                    k_[static_cast<size_t>(l)].get() + static_cast<size_t>(src) * bb, bb);
        std::memcpy(v_[static_cast<size_t>(l)].get() + static_cast<size_t>(dst) * bb,
                    v_[static_cast<size_t>(l)].get() + static_cast<size_t>(src) * bb, bb);
    }
}

void KvCache::reserve(int seq, int n) {
    Seq& s = seq_ref(seq);
    if (n <= 0) return;
    if (s.len + n > max_seq_len_)
        throw Error("context overflow: sequence " + std::to_string(seq) + " would reach " +
                    std::to_string(s.len + n) + " tokens, the context length is " +
                    std::to_string(max_seq_len_));
    int have = static_cast<int>(s.blocks.size());
    int need = (s.len + n + bt_ - 1) / bt_;
    bool cow = s.len % bt_ != 0 &&
               refs_[static_cast<size_t>(s.blocks[static_cast<size_t>(s.len / bt_)])] > 1;
    int new_blocks = need - have + (cow ? 1 : 0);
    if (new_blocks > static_cast<int>(free_.size()))
        throw Error("kv cache full: " + std::to_string(new_blocks) + " more blocks needed, " +
                    std::to_string(free_.size()) + " free of " + std::to_string(n_blocks_));
    if (cow) {  // the partial last block is shared: this sequence gets its own copy
        size_t i = static_cast<size_t>(s.len / bt_);
        int old = s.blocks[i];
        int fresh = alloc_block();
        copy_block(fresh, old);
        unref(old);
        s.blocks[i] = fresh;
    }
    for (int i = have; i < need; ++i) s.blocks.push_back(alloc_block());
}

void KvCache::commit(int seq, int n) {
    Seq& s = seq_ref(seq);
    if (s.len + n > static_cast<int>(s.blocks.size()) * bt_)
        throw Error("kv cache: commit without reserve");
    s.len += n;
}

void KvCache::truncate(int seq, int len) {
    Seq& s = seq_ref(seq);
    if (len < 0 || len > s.len) throw Error("kv cache: bad truncate length");
    s.len = len;
    size_t keep = static_cast<size_t>((len + bt_ - 1) / bt_);
    while (s.blocks.size() > keep) {
        unref(s.blocks.back());
        s.blocks.pop_back();
    }
}

void* KvCache::k_at(int layer, int seq, int pos) {
    const Seq& s = seqs_[static_cast<size_t>(seq)];
    int b = s.blocks[static_cast<size_t>(pos / bt_)];
    return k_[static_cast<size_t>(layer)].get() + static_cast<size_t>(b) * block_bytes() +
           static_cast<size_t>(pos % bt_) * kv_dim_ * elem_bytes();
}

void* KvCache::v_at(int layer, int seq, int pos) {
    const Seq& s = seqs_[static_cast<size_t>(seq)];
    int b = s.blocks[static_cast<size_t>(pos / bt_)];
    return v_[static_cast<size_t>(layer)].get() + static_cast<size_t>(b) * block_bytes() +
           static_cast<size_t>(pos % bt_) * kv_dim_ * elem_bytes();
}

const uint8_t* KvCache::k_block(int layer, int block) const {
    return k_[static_cast<size_t>(layer)].get() + static_cast<size_t>(block) * block_bytes();
}
const uint8_t* KvCache::v_block(int layer, int block) const {
    return v_[static_cast<size_t>(layer)].get() + static_cast<size_t>(block) * block_bytes();
}

KvStats KvCache::stats() const {
    KvStats st;
    st.blocks_total = n_blocks_;
    st.blocks_used = n_blocks_ - static_cast<int>(free_.size());
    st.block_tokens = bt_;
    for (const auto& s : seqs_) st.sequences += s.alive;
    st.bytes_per_block = static_cast<int64_t>(block_bytes()) * 2 * n_layers_;
    return st;
}

}  // namespace rs
