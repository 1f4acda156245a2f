// Paged KV cache: fixed-size blocks, a block table per sequence, reference
// counts. fork() shares the parent's blocks (no copy); the first write into a
// shared block copies that block only (copy-on-write). A shared prefix is
// therefore stored once however many branches grow from it.
//
// The bookkeeping here (tables, counts, fork, reserve, the copy-on-write
// decision, shared-prefix planning) is backend-neutral. The K/V values live
// in a KvStorage that the backend makes (host memory for the CPU, device
// memory for a GPU): the cache only tells it which block to copy where.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace rs {

enum class KvType { F32, F16 };
// "f32" / "f16"; anything else is an Error naming the value.
KvType parse_kv_type(const std::string& name);
const char* kv_type_name(KvType t);

// What a KV storage holds: n_blocks blocks of block_tokens positions, each
// position kv_dim values of K and of V per layer.
struct KvLayout {
    int n_layers = 0, kv_dim = 0, n_blocks = 0, block_tokens = 16;
    KvType type = KvType::F32;
    size_t elem_bytes() const { return type == KvType::F32 ? 4 : 2; }
    // One layer's K (or V) of one block.
    size_t block_bytes() const { return static_cast<size_t>(block_tokens) * kv_dim * elem_bytes(); }
    // All layers, K and V.
    int64_t bytes_per_block() const { return static_cast<int64_t>(block_bytes()) * 2 * n_layers; }
};

// K/V values of every block, owned by a backend.
class KvStorage {
  public:
    virtual ~KvStorage() = default;
    virtual const KvLayout& layout() const = 0;
    // Block dst gets block src's K and V in every layer (copy-on-write).
    virtual void copy_block(int dst, int src) = 0;
};

// Host-memory storage: one arena per layer for K and one for V (the CPU
// backend's; usable by any backend that computes on the host).
class HostKvStorage final : public KvStorage {
  public:
    explicit HostKvStorage(const KvLayout& layout);
    ~HostKvStorage() override;
    HostKvStorage(const HostKvStorage&) = delete;
    HostKvStorage& operator=(const HostKvStorage&) = delete;
    const KvLayout& layout() const override { return layout_; }
    void copy_block(int dst, int src) override;
    uint8_t* k_block(int layer, int block) const {
        return arena_ + (static_cast<size_t>(block) * layout_.n_layers + layer) * 2 * block_bytes_;
    }
    uint8_t* v_block(int layer, int block) const { return k_block(layer, block) + block_bytes_; }

  private:
    KvLayout layout_;
    size_t block_bytes_;
    // One arena, block by block (a block: every layer's K then V), left
    // uninitialised: a large arena costs nothing until blocks are used
    // (every read follows a write). Advised for huge pages, so a block's
    // first use costs one page fault per 2 MiB rather than one per 4 KiB.
    uint8_t* arena_ = nullptr;
};

struct KvStats {
    int blocks_total = 0, blocks_used = 0, block_tokens = 0, sequences = 0;
    int64_t bytes_per_block = 0;  // all layers, K and V
    int64_t bytes_used() const { return bytes_per_block * blocks_used; }
    int64_t bytes_total() const { return bytes_per_block * blocks_total; }
};

class KvCache {
  public:
    // The storage's layout gives the geometry; max_seq_len bounds each sequence.
    KvCache(std::unique_ptr<KvStorage> storage, int max_seq_len);

    int create();           // new empty sequence; returns its id
    int fork(int seq);      // new sequence sharing seq's tokens
    void release(int seq);  // frees the sequence's blocks (shared ones stay with others)
    bool alive(int seq) const;
    int length(int seq) const;
    // Makes room for n more tokens at the end of seq (allocating blocks and
    // copying a shared last block). Throws rs::Error, leaving seq unchanged,
    // if the sequence would pass the context length or the arena is full.
    void reserve(int seq, int n);
    void commit(int seq, int n);      // length += n (after reserve + writes)
    void truncate(int seq, int len);  // forget tokens from len on

    const int* block_table(int seq) const { return seqs_[static_cast<size_t>(seq)].blocks.data(); }
    // The block holding position pos of seq, and the position's slot in it.
    int block_of(int seq, int pos) const { return block_table(seq)[pos / layout().block_tokens]; }

    KvStorage& storage() { return *storage_; }
    const KvStorage& storage() const { return *storage_; }
    const KvLayout& layout() const { return storage_->layout(); }
    KvType type() const { return layout().type; }
    int kv_dim() const { return layout().kv_dim; }
    int block_tokens() const { return layout().block_tokens; }
    int max_seq_len() const { return max_seq_len_; }
    size_t elem_bytes() const { return layout().elem_bytes(); }
    KvStats stats() const;
    int block_refcount(int block) const { return refs_[static_cast<size_t>(block)]; }

  private:
    struct Seq {
        bool alive = false;
        int len = 0;
        std::vector<int> blocks;
    };
    int alloc_block();
    void unref(int block);
    Seq& seq_ref(int seq);
    const Seq& seq_ref(int seq) const;

    std::unique_ptr<KvStorage> storage_;
    int bt_, n_blocks_, max_seq_len_;
    std::vector<int> refs_;
    std::vector<int> free_;
    std::vector<Seq> seqs_;
};

// Rows of a pass whose sequences share their first KV blocks (branches
// forked from one prefix): the rows and the positions [0, positions) that all
// of them see in the same blocks. Block tables do not change during a pass
// (reserve() made room and copied shared blocks that get written), so this is
// worked out once per pass; a block that is still shared was written before
// the fork and holds the same K/V for every sequence that points to it. A
// backend may take the shared positions once for all the group's rows.
struct SharedPrefix {
    std::vector<int> rows;  // indices into the pass's rows
    int positions = 0;
};
// seqs[r], n_pos[r]: row r's sequence and the positions it attends to
// (its own included). Groups of two or more rows sharing at least
// min_positions positions.
std::vector<SharedPrefix> plan_shared_prefixes(const KvCache& kv, std::span<const int> seqs,
                                               std::span<const int> n_pos, int min_positions = 32);

}  // namespace rs
