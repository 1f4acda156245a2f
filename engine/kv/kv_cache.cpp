#include "reasonscope/kv_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
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

HostKvStorage::HostKvStorage(const KvLayout& layout)
    : layout_(layout), block_bytes_(layout.block_bytes()) {
    constexpr size_t kHuge = size_t{2} << 20;
    const size_t bytes = static_cast<size_t>(layout.n_blocks) * layout.n_layers * 2 * block_bytes_;
    const size_t arena_bytes = std::max(kHuge, (bytes + kHuge - 1) / kHuge * kHuge);
    arena_ = static_cast<uint8_t*>(std::aligned_alloc(kHuge, arena_bytes));
    if (!arena_)
        throw Error("cannot allocate the KV cache (" + std::to_string(arena_bytes >> 20) + " MiB)");
#ifdef MADV_HUGEPAGE
    madvise(arena_, arena_bytes, MADV_HUGEPAGE);  // (a hint: fine if refused)
#endif
}

HostKvStorage::~HostKvStorage() {
    std::free(arena_);
}

void HostKvStorage::copy_block(int dst, int src) {
    // A block holds every layer's K and V side by side.
    std::memcpy(k_block(0, dst), k_block(0, src),
                static_cast<size_t>(layout_.n_layers) * 2 * block_bytes_);
}

KvCache::KvCache(std::unique_ptr<KvStorage> storage, int max_seq_len)
    : storage_(std::move(storage)), max_seq_len_(max_seq_len) {
    const KvLayout& l = storage_->layout();
    if (l.n_layers <= 0 || l.kv_dim <= 0 || l.n_blocks <= 0 || l.block_tokens <= 0 ||
        max_seq_len <= 0)
        throw Error("kv cache: invalid geometry");
    bt_ = l.block_tokens;
    n_blocks_ = l.n_blocks;
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
        storage_->copy_block(fresh, old);
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

KvStats KvCache::stats() const {
    KvStats st;
    st.blocks_total = n_blocks_;
    st.blocks_used = n_blocks_ - static_cast<int>(free_.size());
    st.block_tokens = bt_;
    for (const auto& s : seqs_) st.sequences += s.alive;
    st.bytes_per_block = layout().bytes_per_block();
    return st;
}

std::vector<SharedPrefix> plan_shared_prefixes(const KvCache& kv, std::span<const int> seqs,
                                               std::span<const int> n_pos, int min_positions) {
    std::vector<SharedPrefix> out;
    const int R = static_cast<int>(seqs.size()), bt = kv.block_tokens();
    if (R < 2) return out;
    std::vector<int> order;
    for (int r = 0; r < R; ++r)
        if (n_pos[static_cast<size_t>(r)] >= min_positions) order.push_back(r);
    auto first_block = [&](int r) { return kv.block_table(seqs[static_cast<size_t>(r)])[0]; };
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return first_block(a) < first_block(b); });
    for (size_t i = 0; i < order.size();) {
        size_t j = i + 1;
        while (j < order.size() && first_block(order[j]) == first_block(order[i])) ++j;
        if (j - i >= 2) {
            const int lead = order[i];
            const int* lt = kv.block_table(seqs[static_cast<size_t>(lead)]);
            int shared = n_pos[static_cast<size_t>(lead)];
            for (size_t m = i + 1; m < j; ++m) {
                const int r = order[m];
                const int* t = kv.block_table(seqs[static_cast<size_t>(r)]);
                const int n = std::min(shared, n_pos[static_cast<size_t>(r)]);
                int blk = 0;
                while (blk * bt < n && t[blk] == lt[blk]) ++blk;
                shared = std::min(n, blk * bt);
            }
            if (shared >= min_positions)
                out.push_back({std::vector<int>(order.begin() + static_cast<std::ptrdiff_t>(i),
                                                order.begin() + static_cast<std::ptrdiff_t>(j)),
                               shared});
        }
        i = j;
    }
    return out;
}

}  // namespace rs
