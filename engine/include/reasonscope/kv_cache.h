// Paged KV cache: fixed-size blocks in one arena per layer, a block table per
// sequence, reference counts. fork() shares the parent's blocks (no copy);
// the first write into a shared block copies that block only (copy-on-write).
// A shared prefix is therefore stored once however many branches grow from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rs {

enum class KvType { F32, F16 };
// "f32" / "f16"; anything else is an Error naming the value.
KvType parse_kv_type(const std::string& name);
const char* kv_type_name(KvType t);

struct KvStats {
    int blocks_total = 0, blocks_used = 0, block_tokens = 0, sequences = 0;
    int64_t bytes_per_block = 0;  // all layers, K and V
    int64_t bytes_used() const { return bytes_per_block * blocks_used; }
    int64_t bytes_total() const { return bytes_per_block * blocks_total; }
};

class KvCache {
  public:
    // kv_dim = n_kv_heads * head_dim. max_seq_len bounds each sequence.
    KvCache(int n_layers, int kv_dim, int max_tokens, int max_seq_len, KvType type = KvType::F16,
            int block_tokens = 16);

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

    // Element storage of position pos of seq in layer (kv_dim values).
    void* k_at(int layer, int seq, int pos);
    void* v_at(int layer, int seq, int pos);
    const int* block_table(int seq) const { return seqs_[static_cast<size_t>(seq)].blocks.data(); }
    const uint8_t* k_block(int layer, int block) const;
    const uint8_t* v_block(int layer, int block) const;

    KvType type() const { return type_; }
    int kv_dim() const { return kv_dim_; }
    int block_tokens() const { return bt_; }
    int max_seq_len() const { return max_seq_len_; }
    size_t elem_bytes() const { return type_ == KvType::F32 ? 4 : 2; }
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
    void copy_block(int dst, int src);
    size_t block_bytes() const { return static_cast<size_t>(bt_) * kv_dim_ * elem_bytes(); }
    Seq& seq_ref(int seq);
    const Seq& seq_ref(int seq) const;

    int n_layers_, kv_dim_, bt_, n_blocks_, max_seq_len_;
    KvType type_;
    // [layer] -> n_blocks * block_bytes, left uninitialised: a large arena
    // costs nothing until blocks are used (every read follows a write).
    std::vector<std::unique_ptr<uint8_t[]>> k_, v_;
    std::vector<int> refs_;
    std::vector<int> free_;
    std::vector<Seq> seqs_;
};

}  // namespace rs
