// The CUDA backend: the op set of backend.h on an NVIDIA GPU. Weights are
// uploaded once per model and device as the file stores them (each kernel
// decodes its type, kernels/cuda/quant.h); the KV cache is one device arena
// of blocks, as the CPU's host arena; activations are F32 slots in device
// memory. Matrix products of up to eight rows (decode) take the own
// matrix-vector kernels, which read each weight once for all rows; more rows
// (prompts, many branches) go through cuBLAS on weights dequantized to
// half precision (bfloat16 for BF16 files), unless the session asked for
// batch-invariant results, where every row takes the per-row kernels. The
// host sees only the logits (and taps) it asked for.
#include "reasonscope/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "cuda/ops.h"
#include "cuda/quant.h"
#include "reasonscope/backend.h"
#include "reasonscope/ggml_types.h"
#include "reasonscope/model.h"
#include "reasonscope/thread_pool.h"

namespace rs {
namespace {

namespace C = rs::cuda;

std::string gib(double bytes) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
    return b;
}

// Device memory, freed with the owner. Growing keeps the contents.
class DevBuf {
  public:
    DevBuf() = default;
    DevBuf(const DevBuf&) = delete;
    DevBuf& operator=(const DevBuf&) = delete;
    DevBuf(DevBuf&& o) noexcept : p_(o.p_), bytes_(o.bytes_) { o.p_ = nullptr, o.bytes_ = 0; }
    DevBuf& operator=(DevBuf&& o) noexcept {
        std::swap(p_, o.p_);
        std::swap(bytes_, o.bytes_);
        return *this;
    }
    ~DevBuf() {
        if (p_) cudaFree(p_);
    }
    void* get() const { return p_; }
    size_t bytes() const { return bytes_; }
    // At least n bytes; keep: copy the old contents over (on stream s).
    void reserve(size_t n, cudaStream_t s, bool keep) {
        if (n <= bytes_) return;
        n = std::max(n, bytes_ + bytes_ / 2);
        void* q = nullptr;
        CUDA_CHECK(cudaMalloc(&q, n));
        if (p_) {
            cudaError_t e =
                keep ? cudaMemcpyAsync(q, p_, bytes_, cudaMemcpyDeviceToDevice, s) : cudaSuccess;
            if (e == cudaSuccess) e = cudaStreamSynchronize(s);
            if (e != cudaSuccess) {
                cudaFree(q);
                CUDA_CHECK(e);
            }
            CUDA_CHECK(cudaFree(p_));
        }
        p_ = q;
        bytes_ = n;
    }

  private:
    void* p_ = nullptr;
    size_t bytes_ = 0;
};

// The model's tensors in device memory, each uploaded once (fused tensors'
// row ranges point into theirs), by Weight::index.
struct CudaWeights final : PreparedWeights {
    int device = 0;
    std::vector<DevBuf> tensors;
    std::vector<const uint8_t*> ptr;  // by Weight::index
    uint64_t bytes = 0;
};

std::shared_ptr<CudaWeights> upload_weights(const Model& m, int device) {
    if (std::string why = cuda_unsupported_reason(m); !why.empty())
        throw Error(m.path() + ": " + why);
    CUDA_CHECK(cudaSetDevice(device));
    auto p = std::make_shared<CudaWeights>();
    p->device = device;
    std::map<const GgufTensor*, size_t> index;  // tensor -> p->tensors
    std::vector<const GgufTensor*> order;
    for (const Weight* w : m.weights())
        if (index.emplace(w->tensor, order.size()).second) order.push_back(w->tensor);
    for (const GgufTensor* t : order) p->bytes += t->n_bytes;
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const uint64_t margin = uint64_t{512} << 20;  // cuBLAS workspace, scratch, activations
    if (p->bytes + margin > free_b) {
        cudaDeviceProp prop{};
        cudaGetDeviceProperties(&prop, device);
        throw Error(m.path() + ": the model's weights need " + gib(static_cast<double>(p->bytes)) +
                    " (and about 0.5 GiB of scratch); CUDA device " + std::to_string(device) +
                    " (" + prop.name + ") has " + gib(static_cast<double>(free_b)) + " free of " +
                    gib(static_cast<double>(total_b)));
    }
    p->tensors.resize(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
        p->tensors[i].reserve(order[i]->n_bytes, nullptr, false);
        CUDA_CHECK(cudaMemcpy(p->tensors[i].get(), order[i]->data, order[i]->n_bytes,
                              cudaMemcpyHostToDevice));
    }
    size_t n_idx = 0;
    for (const Weight* w : m.weights()) n_idx = std::max(n_idx, static_cast<size_t>(w->index) + 1);
    p->ptr.assign(n_idx, nullptr);
    for (const Weight* w : m.weights()) {
        const size_t t = index.at(w->tensor);
        p->ptr[static_cast<size_t>(w->index)] =
            static_cast<const uint8_t*>(p->tensors[t].get()) + (w->data - w->tensor->data);
    }
    return p;
}

// The KV arena in device memory, block-major as the CPU's (a block holds
// every layer's K then V), so a copy-on-write copy is one contiguous copy.
class CudaKvStorage final : public KvStorage {
  public:
    CudaKvStorage(const KvLayout& layout, cudaStream_t s) : layout_(layout), stream_(s) {
        const size_t bytes = static_cast<size_t>(layout.bytes_per_block()) * layout.n_blocks;
        size_t free_b = 0, total_b = 0;
        CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
        if (bytes + (uint64_t{256} << 20) > free_b)
            throw Error("the KV cache of " + std::to_string(layout.n_blocks * layout.block_tokens) +
                        " tokens needs " + gib(static_cast<double>(bytes)) +
                        "; the CUDA device has " + gib(static_cast<double>(free_b)) + " free of " +
                        gib(static_cast<double>(total_b)) + " after the weights");
        arena_.reserve(bytes, s, false);
    }
    const KvLayout& layout() const override { return layout_; }
    void copy_block(int dst, int src) override {
        const size_t b = static_cast<size_t>(layout_.bytes_per_block());
        auto* base = static_cast<uint8_t*>(arena_.get());
        CUDA_CHECK(cudaMemcpyAsync(base + static_cast<size_t>(dst) * b,
                                   base + static_cast<size_t>(src) * b, b, cudaMemcpyDeviceToDevice,
                                   stream_));
    }
    C::KvArena arena() const {
        return {static_cast<uint8_t*>(arena_.get()), layout_.n_layers, layout_.kv_dim,
                layout_.block_tokens, layout_.type == KvType::F16};
    }

  private:
    KvLayout layout_;
    cudaStream_t stream_;
    DevBuf arena_;
};

class CudaBackend final : public Backend {
  public:
    CudaBackend(const Model& m, const BackendOptions& opt, int device)
        : pool_(opt.threads), invariant_(opt.batch_invariant), device_(device) {
        CUDA_CHECK(cudaSetDevice(device));
        cudaDeviceProp prop{};
        CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
        name_ = std::string("cuda (") + prop.name + ", sm_" + std::to_string(prop.major) +
                std::to_string(prop.minor) + ")";
        weights_ = std::static_pointer_cast<CudaWeights>(m.prepared(
            "cuda:" + std::to_string(device), [&] { return upload_weights(m, device); }));
        CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
        try {
            CUBLAS_CHECK(cublasCreate(&cublas_));
            CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
            CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
        } catch (...) {
            if (cublas_) cublasDestroy(cublas_);
            cudaStreamDestroy(stream_);
            throw;
        }
    }
    ~CudaBackend() override {
        if (stream_) cudaStreamSynchronize(stream_);
        if (cublas_) cublasDestroy(cublas_);
        slots_.clear();
        for (DevBuf* b :
             {&ints_, &cs_, &logits_, &wtile_, &xhalf_, &moe_ints_, &moe_w_, &moe_x_, &moe_g_,
              &moe_u_, &moe_y_, &moe_out_, &draw_spec_, &draw_out_, &draw_z_, &draw_e_})
            *b = DevBuf();
        if (stream_) cudaStreamDestroy(stream_);
    }
    std::string name() const override { return name_; }
    BackendCaps caps() const override {
        BackendCaps c;
        c.batch_invariant = invariant_;
        c.device_memory = true;
        c.device_draw = device_draw_;
        return c;
    }
    int threads() const override { return pool_.size(); }
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) override {
        pool_.run(n, [&](int64_t b, int64_t e, int) { fn(b, e); });
    }
    std::unique_ptr<KvStorage> make_kv_storage(const KvLayout& layout) override {
        CUDA_CHECK(cudaSetDevice(device_));
        return std::make_unique<CudaKvStorage>(layout, stream_);
    }

    void begin_pass(const Pass& pass) override;
    void end_pass() override {
        CUDA_CHECK(cudaStreamSynchronize(stream_));
        CUDA_CHECK(cudaGetLastError());
    }
    Act act(int slot, int rows, int cols) override {
        if (slot >= static_cast<int>(slots_.size())) slots_.resize(static_cast<size_t>(slot) + 1);
        slots_[static_cast<size_t>(slot)].reserve(static_cast<size_t>(rows) * cols * 4, stream_,
                                                  true);
        return {slot, rows, cols};
    }
    void embed(const Weight& table, Act out) override {
        C::embed(table.type, dev(table), table.row_bytes, out.cols, ints(kTokens), out.rows,
                 ptr(out), stream_);
        launched();
    }
    void matmul(const Weight& w, Act in, Act out) override {
        matmul_to(w, ptr(in), in.rows, ptr(out));
    }
    void add_bias(Act x, const Weight& bias) override {
        C::add_bias(ptr(x), f32(bias), x.rows, x.cols, stream_);
        launched();
    }
    void rmsnorm(Act in, const Weight& w, Act out, int width, float eps) override {
        if (w && w.cols != width)
            throw Error("rmsnorm: weight of " + std::to_string(w.cols) + " values for groups of " +
                        std::to_string(width));
        C::rmsnorm(ptr(in), w ? f32(w) : nullptr, ptr(out),
                   static_cast<int64_t>(in.rows) * (in.cols / width), width, eps, stream_);
        launched();
    }
    void rope(Act x, int n_heads, int head_dim, const RopeSpec& spec) override;
    void store_kv(int layer, Act k, Act v) override {
        C::store_kv(kv().arena(), layer, ptr(k), ptr(v), ints(kBlocks), ints(kSlots), k.rows,
                    stream_);
        launched();
    }
    void attention(int layer, Act q, Act out, const AttnSpec& spec) override;
    void swiglu(Act gate, Act up, Act out) override {
        C::swiglu(ptr(gate), ptr(up), ptr(out), static_cast<int64_t>(gate.rows) * gate.cols,
                  stream_);
        launched();
    }
    void geglu(Act gate, Act up, Act out) override {
        C::geglu(ptr(gate), ptr(up), ptr(out), static_cast<int64_t>(gate.rows) * gate.cols,
                 stream_);
        launched();
    }
    void add(Act x, Act y) override {
        C::add(ptr(x), ptr(y), static_cast<int64_t>(x.rows) * x.cols, stream_);
        launched();
    }
    void moe(const MoeSpec& spec, Act logits, Act in, Act out) override;
    void scale(Act x, float s) override {
        C::scale(ptr(x), s, static_cast<int64_t>(x.rows) * x.cols, stream_);
        launched();
    }
    uint64_t weight_bytes_read() const override { return bytes_read_; }
    double measure_bandwidth() override;
    BackendMemory memory() const override {
        BackendMemory m;
        m.device = true;
        m.weights = weights_->bytes;
        for (const DevBuf& b : slots_) m.scratch += b.bytes();
        for (const DevBuf* b :
             {&ints_, &cs_, &logits_, &wtile_, &xhalf_, &moe_ints_, &moe_w_, &moe_x_, &moe_g_,
              &moe_u_, &moe_y_, &moe_out_, &draw_spec_, &draw_out_, &draw_z_, &draw_e_})
            m.scratch += b->bytes();
        return m;
    }
    void tap(int layer, Act x) override;
    void gather_logit_rows(Act x, Act out) override {
        C::gather_rows(ptr(x), x.cols, ints(kLogitRows), out.rows, ptr(out), stream_);
        launched();
    }
    void upload(const float* src, Act out) override {
        CUDA_CHECK(cudaMemcpyAsync(ptr(out), src, static_cast<size_t>(out.rows) * out.cols * 4,
                                   cudaMemcpyHostToDevice, stream_));
    }
    void output(const Weight& w, Act in) override;

  private:
    // The pass's integers on the device, one upload per pass: sections of
    // R entries each, then the block tables.
    enum Section { kTokens, kBlocks, kSlots, kTableOff, kNPos, kLogitRows, kSections };

    float* ptr(Act a) { return static_cast<float*>(slots_[static_cast<size_t>(a.slot)].get()); }
    const uint8_t* dev(const Weight& w) const {
        if (w.index < 0 || static_cast<size_t>(w.index) >= weights_->ptr.size() ||
            !weights_->ptr[static_cast<size_t>(w.index)])
            throw Error("cuda backend: a weight that was not uploaded (" +
                        (w.tensor ? w.tensor->name : std::string("a view")) + ")");
        return weights_->ptr[static_cast<size_t>(w.index)];
    }
    const float* f32(const Weight& w) const {
        if (w.type != C::kF32)
            throw Error("cuda backend: " + w.tensor->name + " must be F32 for this op");
        return reinterpret_cast<const float*>(dev(w));
    }
    const int* ints(Section s) const {
        return static_cast<const int*>(ints_.get()) + static_cast<size_t>(s) * pass_.rows.size();
    }
    CudaKvStorage& kv() { return static_cast<CudaKvStorage&>(pass_.kv->storage()); }
    void launched() { CUDA_CHECK(cudaGetLastError()); }
    void matmul_to(const Weight& w, const float* in, int n_rows, float* out) {
        matmul_raw(w.type, dev(w), w.row_bytes, static_cast<int>(w.cols), static_cast<int>(w.rows),
                   in, n_rows, out);
    }
    // out (n_rows, n_out) = in (n_rows, cols) times the rows of a weight
    // matrix at dw (a whole weight, or one expert's rows of a stacked one).
    void matmul_raw(uint32_t type, const uint8_t* dw, size_t row_bytes, int cols, int n_out,
                    const float* in, int n_rows, float* out);

    ThreadPool pool_;
    const bool invariant_;
    const int device_;
    std::string name_;
    std::shared_ptr<CudaWeights> weights_;
    cudaStream_t stream_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
    Pass pass_;
    std::vector<DevBuf> slots_;
    DevBuf ints_, cs_, logits_, wtile_, xhalf_;
    // MoE: the routing's integers and weights, each expert's rows, the
    // weighted outputs by (row, rank) slot; the host's copies.
    DevBuf moe_ints_, moe_w_, moe_x_, moe_g_, moe_u_, moe_y_, moe_out_;
    // Sampling on the device (Pass::draw): the specs, results and each
    // row's z and e. RS_DRAW_ON_BACKEND=0 turns it off (the host samples).
    DevBuf draw_spec_, draw_out_, draw_z_, draw_e_;
    const bool device_draw_ = !(std::getenv("RS_DRAW_ON_BACKEND") &&
                                std::string(std::getenv("RS_DRAW_ON_BACKEND")) == "0");
    std::vector<float> moe_logits_, moe_wh_;
    std::vector<int> moe_sel_, moe_ih_;
    std::vector<int> host_ints_;
    // Where the attention's chunks of rows sharing a prefix, their rows and
    // the rows alone start in the pass's integers.
    int n_chunks_ = 0, chunk_rows_at_ = 0, chunks_at_ = 0, alone_at_ = 0, n_alone_ = 0;
    std::vector<float> host_cs_;
    RopeSpec rope_spec_;
    bool rope_ready_ = false;
    uint64_t bytes_read_ = 0;
};

void CudaBackend::begin_pass(const Pass& pass) {
    CUDA_CHECK(cudaSetDevice(device_));  // (the host thread may have another current device)
    pass_ = pass;
    rope_ready_ = false;
    const size_t R = pass.rows.size();
    const KvCache& kv = *pass.kv;
    const int bt = kv.block_tokens();
    host_ints_.assign(R * kSections, 0);
    auto at = [&](Section s, size_t r) -> int& {
        return host_ints_[static_cast<size_t>(s) * R + r];
    };
    int n_logits = 0;
    for (size_t r = 0; r < R; ++r) {
        const BatchRow& row = pass.rows[r];
        at(kTokens, r) = row.token;
        if (!kv.alive(row.seq))
            throw Error("cuda backend: a pass row names sequence " + std::to_string(row.seq) +
                        ", which holds no KV blocks");
        at(kBlocks, r) = kv.block_of(row.seq, row.pos);
        at(kSlots, r) = row.pos % bt;
        at(kNPos, r) = row.pos + 1;
        if (row.logits) at(kLogitRows, static_cast<size_t>(n_logits++)) = static_cast<int>(r);
    }
    // Each row's block table up to its position (rows of one sequence share one).
    std::map<std::pair<int, int>, int> tables;  // (seq, blocks) -> offset
    for (size_t r = 0; r < R; ++r) {
        const BatchRow& row = pass.rows[r];
        const int nb = row.pos / bt + 1;
        auto [it, fresh] = tables.emplace(std::make_pair(row.seq, nb),
                                          static_cast<int>(host_ints_.size() - R * kSections));
        if (fresh) {
            const int* t = kv.block_table(row.seq);
            host_ints_.insert(host_ints_.end(), t, t + nb);
        }
        at(kTableOff, r) = it->second;
    }
    // (the tables follow the sections: offsets count from there)
    for (size_t r = 0; r < R; ++r) at(kTableOff, r) += static_cast<int>(R * kSections);
    // Rows sharing prefix blocks, in even chunks of up to 8 for the
    // attention kernel that reads each shared position once for all of them;
    // then the rows alone. Not for a prompt (its rows share their own
    // sequence: one warp a row would serialise it) nor with the deterministic
    // option (a row's sums must not depend on its batch: rows alone always
    // take the same kernel).
    std::vector<char> grouped(R, 0);
    std::vector<int> chunk_rows, chunks;
    if (!invariant_ && !pass.one_sequence)
        for (const SharedPrefix& sp : pass.shared) {
            const size_t n = sp.rows.size();
            const size_t pieces = (n + C::kAttnChunkRows - 1) / C::kAttnChunkRows;
            for (size_t c = 0; c < pieces; ++c) {
                const size_t b = n * c / pieces, e = n * (c + 1) / pieces;
                chunks.insert(chunks.end(), {static_cast<int>(chunk_rows.size()),
                                             static_cast<int>(e - b), sp.positions});
                for (size_t j = b; j < e; ++j) {
                    chunk_rows.push_back(sp.rows[j]);
                    grouped[static_cast<size_t>(sp.rows[j])] = 1;
                }
            }
        }
    n_chunks_ = static_cast<int>(chunks.size() / 3);
    chunk_rows_at_ = static_cast<int>(host_ints_.size());
    host_ints_.insert(host_ints_.end(), chunk_rows.begin(), chunk_rows.end());
    chunks_at_ = static_cast<int>(host_ints_.size());
    host_ints_.insert(host_ints_.end(), chunks.begin(), chunks.end());
    alone_at_ = static_cast<int>(host_ints_.size());
    for (size_t r = 0; r < R; ++r)
        if (!grouped[r]) host_ints_.push_back(static_cast<int>(r));
    n_alone_ = static_cast<int>(host_ints_.size()) - alone_at_;
    ints_.reserve(host_ints_.size() * 4, stream_, false);
    CUDA_CHECK(cudaMemcpyAsync(ints_.get(), host_ints_.data(), host_ints_.size() * 4,
                               cudaMemcpyHostToDevice, stream_));
}

void CudaBackend::rope(Act x, int n_heads, int head_dim, const RopeSpec& spec) {
    const int nd = spec.n_dims;
    const RopeSpec& o = rope_spec_;
    const bool same = rope_ready_ && spec.n_dims == o.n_dims && spec.neox == o.neox &&
                      spec.base == o.base && spec.freq_scale == o.freq_scale &&
                      spec.freq_factors == o.freq_factors && spec.ext_factor == o.ext_factor &&
                      spec.attn_factor == o.attn_factor && spec.beta_fast == o.beta_fast &&
                      spec.beta_slow == o.beta_slow && spec.n_ctx_orig == o.n_ctx_orig;
    if (!same) {
        rope_spec_ = spec;
        rope_ready_ = true;
        host_cs_.resize(pass_.rows.size() * static_cast<size_t>(nd));
        rope_cos_sin(spec, pass_.rows, host_cs_.data());
        cs_.reserve(host_cs_.size() * 4, stream_, false);
        CUDA_CHECK(cudaMemcpyAsync(cs_.get(), host_cs_.data(), host_cs_.size() * 4,
                                   cudaMemcpyHostToDevice, stream_));
    }
    C::rope(ptr(x), x.rows, x.cols, n_heads, head_dim, nd, spec.neox,
            static_cast<const float*>(cs_.get()), stream_);
    launched();
}

void CudaBackend::attention(int layer, Act q, Act out, const AttnSpec& spec) {
    if (spec.head_dim > 256)
        throw Error("cuda backend: heads of " + std::to_string(spec.head_dim) +
                    " dimensions (the attention kernel takes at most 256)");
    C::AttnArgs a;
    a.q = ptr(q);
    a.out = ptr(out);
    a.tables = static_cast<const int*>(ints_.get());
    a.table_off = ints(kTableOff);
    a.n_pos = ints(kNPos);
    a.sinks = spec.sinks ? f32(*spec.sinks) : nullptr;
    a.rows = q.rows;
    a.n_heads = spec.n_heads;
    a.n_kv_heads = spec.n_kv_heads;
    a.head_dim = spec.head_dim;
    a.layer = layer;
    a.window = spec.window;
    a.scale = spec.scale;
    if (spec.window == 0 && n_chunks_ > 0) {  // (a window masks the prefix: every row alone)
        const int* base = static_cast<const int*>(ints_.get());
        a.chunks = base + chunks_at_;
        a.chunk_rows = base + chunk_rows_at_;
        a.n_chunks = n_chunks_;
        a.alone = base + alone_at_;
        a.n_alone = n_alone_;
    }
    C::attention(kv().arena(), a, stream_);
    launched();
}

// The product's path by its rows: up to 8 the matrix-vector kernel (one
// read of the weights for all rows); up to 256 rows of quantized weights
// the tensor-core kernel (one read per 64 rows, activations in bfloat16);
// more, or float weights, cuBLAS (quantized weights dequantized to
// bfloat16 slices, which costs about four bytes a weight, paid once for
// every row). With the deterministic option every row takes the
// matrix-vector kernel, so its result does not depend on its batch.
constexpr int kGemvRows = 8, kTensorCoreRows = 256;
// Weights dequantized for cuBLAS a slice of rows at a time, at most this many values.
constexpr int64_t kTileValues = int64_t{32} << 20;

void CudaBackend::matmul_raw(uint32_t type, const uint8_t* dw, size_t row_bytes, int cols,
                             int n_out, const float* in, int n_rows, float* out) {
    bytes_read_ += static_cast<uint64_t>(n_out) * row_bytes;
    if (n_rows <= kGemvRows || invariant_) {
        C::gemv(type, dw, row_bytes, cols, n_out, in, n_rows, out, n_out, stream_);
        launched();
        return;
    }
    const float one = 1.0f, zero = 0.0f;
    if (type == C::kF32) {
        CUBLAS_CHECK(cublasSgemm(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, n_out, n_rows, cols, &one,
                                 reinterpret_cast<const float*>(dw), cols, in, cols, &zero, out,
                                 n_out));
        return;
    }
    // F16 weights meet activations rounded to F16 (as on the CPU); every
    // other type bfloat16, whose range holds any activation (F16 overflows
    // at 65504, which some FFN activations pass).
    const bool bf16 = type != C::kF16;
    const cudaDataType_t t = bf16 ? CUDA_R_16BF : CUDA_R_16F;
    xhalf_.reserve(static_cast<size_t>(n_rows) * cols * 2, stream_, false);
    C::convert_f32(in, static_cast<int64_t>(n_rows) * cols, xhalf_.get(), bf16, stream_);
    launched();
    if (n_rows <= kTensorCoreRows && C::gemm_tc_supported(type, cols)) {
        C::gemm_tc(type, dw, row_bytes, cols, n_out, xhalf_.get(), n_rows, out, n_out, stream_);
        launched();
        return;
    }
    // out (column-major n_out x n_rows) = W^T (W row-major is column-major
    // cols x n_out) times the activations (column-major cols x n_rows).
    if (type == C::kF16 || type == C::kBF16) {
        CUBLAS_CHECK(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, n_out, n_rows, cols, &one, dw,
                                  t, cols, xhalf_.get(), t, cols, &zero, out, CUDA_R_32F, n_out,
                                  CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        return;
    }
    // (slices of 16 rows and more: out + r0 stays aligned for cuBLAS)
    const int64_t slice =
        std::min<int64_t>(n_out, std::max<int64_t>(16, kTileValues / cols / 16 * 16));
    wtile_.reserve(static_cast<size_t>(slice) * cols * 2, stream_, false);
    for (int64_t r0 = 0; r0 < n_out; r0 += slice) {
        const int64_t n = std::min<int64_t>(slice, n_out - r0);
        C::dequantize_rows(type, dw, row_bytes, cols, r0, n, wtile_.get(), true, stream_);
        launched();
        CUBLAS_CHECK(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), n_rows,
                                  cols, &one, wtile_.get(), t, cols, xhalf_.get(), t, cols, &zero,
                                  out + r0, CUDA_R_32F, n_out, CUBLAS_COMPUTE_32F,
                                  CUBLAS_GEMM_DEFAULT));
    }
}

// Mixture of experts: the router logits come to the host and are routed
// by moe_route (the CPU's choices, the same code); then each chosen
// expert's rows go through its slices of the stacked matrices together,
// and each row's expert outputs are summed in rank order, as on the CPU.
void CudaBackend::moe(const MoeSpec& sp, Act logits, Act in, Act out) {
    const int R = in.rows, D = in.cols, E = sp.n_experts, k = sp.n_used;
    check_moe_shapes(sp, D, logits.cols);
    const int F = static_cast<int>(sp.gate->rows / E);
    const size_t RK = static_cast<size_t>(R) * k;
    moe_logits_.resize(static_cast<size_t>(R) * E);
    CUDA_CHECK(cudaMemcpyAsync(moe_logits_.data(), ptr(logits), moe_logits_.size() * 4,
                               cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    moe_sel_.resize(RK);
    moe_wh_.resize(RK);
    moe_route(sp, moe_logits_.data(), R, moe_sel_.data(), moe_wh_.data());
    // Per expert, its (row, rank) slots: the input rows (slot / k), then the slots.
    std::vector<int> first(static_cast<size_t>(E) + 1, 0);
    for (int e : moe_sel_) ++first[static_cast<size_t>(e) + 1];
    for (int e = 0; e < E; ++e) first[static_cast<size_t>(e) + 1] += first[static_cast<size_t>(e)];
    moe_ih_.assign(2 * RK, 0);
    std::vector<int> fill(first.begin(), first.end() - 1);
    for (size_t slot = 0; slot < RK; ++slot) {
        const int at = fill[static_cast<size_t>(moe_sel_[slot])]++;
        moe_ih_[static_cast<size_t>(at)] = static_cast<int>(slot) / k;
        moe_ih_[RK + static_cast<size_t>(at)] = static_cast<int>(slot);
    }
    moe_ints_.reserve(moe_ih_.size() * 4, stream_, false);
    moe_w_.reserve(RK * 4, stream_, false);
    CUDA_CHECK(cudaMemcpyAsync(moe_ints_.get(), moe_ih_.data(), moe_ih_.size() * 4,
                               cudaMemcpyHostToDevice, stream_));
    CUDA_CHECK(
        cudaMemcpyAsync(moe_w_.get(), moe_wh_.data(), RK * 4, cudaMemcpyHostToDevice, stream_));
    int most = 0;
    for (int e = 0; e < E; ++e)
        most = std::max(most, first[static_cast<size_t>(e) + 1] - first[static_cast<size_t>(e)]);
    moe_x_.reserve(static_cast<size_t>(most) * D * 4, stream_, false);
    moe_g_.reserve(static_cast<size_t>(most) * F * 4, stream_, false);
    moe_u_.reserve(static_cast<size_t>(most) * F * 4, stream_, false);
    moe_y_.reserve(static_cast<size_t>(most) * D * 4, stream_, false);
    moe_out_.reserve(RK * D * 4, stream_, false);
    auto* x = static_cast<float*>(moe_x_.get());
    auto* g = static_cast<float*>(moe_g_.get());
    auto* u = static_cast<float*>(moe_u_.get());
    auto* y = static_cast<float*>(moe_y_.get());
    const int* rows_of = static_cast<const int*>(moe_ints_.get());
    const int* slots_of = rows_of + RK;
    auto slice = [&](const Weight& w, int e) {  // expert e's rows of a stacked matrix
        return dev(w) + static_cast<size_t>(w.rows / E) * e * w.row_bytes;
    };
    auto bias = [&](const Weight* b, int e, int n) {
        return b ? f32(*b) + static_cast<size_t>(e) * n : nullptr;
    };
    for (int e = 0; e < E; ++e) {
        const int off = first[static_cast<size_t>(e)];
        const int n = first[static_cast<size_t>(e) + 1] - off;
        if (n == 0) continue;
        C::gather_rows(ptr(in), D, rows_of + off, n, x, stream_);
        launched();
        matmul_raw(sp.gate->type, slice(*sp.gate, e), sp.gate->row_bytes, D, F, x, n, g);
        matmul_raw(sp.up->type, slice(*sp.up, e), sp.up->row_bytes, D, F, x, n, u);
        if (const float* b = bias(sp.up_b, e, F)) C::add_bias(u, b, n, F, stream_);
        if (const float* b = bias(sp.gate_b, e, F)) C::add_bias(g, b, n, F, stream_);
        launched();
        if (sp.glu == MoeSpec::Glu::SwiGluOai)
            C::swiglu_oai(g, u, g, static_cast<int64_t>(n) * F, sp.alpha, sp.limit, stream_);
        else
            C::swiglu(g, u, g, static_cast<int64_t>(n) * F, stream_);
        launched();
        matmul_raw(sp.down->type, slice(*sp.down, e), sp.down->row_bytes, F, D, g, n, y);
        C::moe_scatter(y, bias(sp.down_b, e, D), slots_of + off,
                       static_cast<const float*>(moe_w_.get()), n, D,
                       static_cast<float*>(moe_out_.get()), stream_);
        launched();
    }
    C::moe_sum(static_cast<const float*>(moe_out_.get()), R, k, D, ptr(out), stream_);
    launched();
}

// Device memory bandwidth: the median of timed device-to-device copies of
// 1 GiB (or a quarter of what is free), counting the bytes read and written.
double CudaBackend::measure_bandwidth() {
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const size_t bytes = std::min<size_t>(size_t{1} << 30, free_b / 4) & ~size_t{255};
    DevBuf a, b;
    a.reserve(bytes, stream_, false);
    b.reserve(bytes, stream_, false);
    CUDA_CHECK(cudaMemsetAsync(a.get(), 1, bytes, stream_));
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    std::vector<float> ms;
    for (int rep = 0; rep < 8; ++rep) {
        CUDA_CHECK(cudaEventRecord(e0, stream_));
        CUDA_CHECK(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, stream_));
        CUDA_CHECK(cudaEventRecord(e1, stream_));
        CUDA_CHECK(cudaEventSynchronize(e1));
        float t = 0;
        CUDA_CHECK(cudaEventElapsedTime(&t, e0, e1));
        if (rep > 0) ms.push_back(t);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    std::sort(ms.begin(), ms.end());
    return 2.0 * static_cast<double>(bytes) / (ms[ms.size() / 2] * 1e-3);
}

// The logits rows to the host, or (Pass::draw) each row sampled here and
// only its result to the host: a row's logits follow only where the draw
// leaves it to the host (draw::kFallback).
void CudaBackend::output(const Weight& w, Act in) {
    const size_t V = static_cast<size_t>(w.rows), R = static_cast<size_t>(in.rows);
    logits_.reserve(R * V * 4, stream_, false);
    auto* dl = static_cast<float*>(logits_.get());
    matmul_to(w, ptr(in), in.rows, dl);
    if (!pass_.draw) {
        CUDA_CHECK(cudaMemcpyAsync(pass_.logits, dl, R * V * 4, cudaMemcpyDeviceToHost, stream_));
        return;
    }
    draw_spec_.reserve(R * sizeof(draw::Spec), stream_, false);
    draw_out_.reserve(R * sizeof(draw::Result), stream_, false);
    draw_z_.reserve(R * V * 4, stream_, false);
    draw_e_.reserve(R * V * 4, stream_, false);
    auto* specs = static_cast<draw::Spec*>(draw_spec_.get());
    auto* results = static_cast<draw::Result*>(draw_out_.get());
    CUDA_CHECK(cudaMemcpyAsync(specs, pass_.draw, R * sizeof(draw::Spec), cudaMemcpyHostToDevice,
                               stream_));
    C::draw_rows(dl, in.rows, static_cast<int>(V), specs, static_cast<float*>(draw_z_.get()),
                 static_cast<float*>(draw_e_.get()), results, stream_);
    launched();
    CUDA_CHECK(cudaMemcpyAsync(pass_.draw_out, results, R * sizeof(draw::Result),
                               cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    for (size_t r = 0; r < R; ++r)
        if (pass_.draw_out[r].status == draw::kFallback)
            CUDA_CHECK(cudaMemcpyAsync(pass_.logits + r * V, dl + r * V, V * 4,
                                       cudaMemcpyDeviceToHost, stream_));
}

void CudaBackend::tap(int layer, Act x) {
    if (!pass_.taps) return;
    const TapRequest& taps = *pass_.taps;
    const size_t D = static_cast<size_t>(x.cols), nl = taps.layers.size();
    for (size_t li = 0; li < nl; ++li) {
        if (taps.layers[li] != layer) continue;
        size_t k = 0;
        for (size_t r = 0; r < pass_.rows.size(); ++r) {
            if (!pass_.rows[r].tap) continue;
            CUDA_CHECK(cudaMemcpyAsync(taps.out + (k * nl + li) * D, ptr(x) + r * D, D * 4,
                                       cudaMemcpyDeviceToHost, stream_));
            ++k;
        }
    }
}

}  // namespace
}  // namespace rs

// --- the module's entry points (loader.cpp finds them with dlsym) ---

extern "C" __attribute__((visibility("default"))) void rs_cuda_module_probe(rs::CudaStatus* st) {
    cudaRuntimeGetVersion(&st->runtime_version);
    cudaDriverGetVersion(&st->driver_version);
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        st->why_not = std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ")";
        cudaGetLastError();
        return;
    }
    if (n == 0) {
        st->why_not = "the driver reports no CUDA device";
        return;
    }
    int64_t best = -1;
    for (int i = 0; i < n; ++i) {
        cudaDeviceProp p{};
        rs::CudaDevice d;
        d.index = i;
        if (const cudaError_t pe = cudaGetDeviceProperties(&p, i); pe != cudaSuccess) {
            d.why_not = std::string("its properties cannot be read: ") + cudaGetErrorString(pe);
            st->devices.push_back(d);
            continue;
        }
        d.name = p.name;
        d.cc_major = p.major;
        d.cc_minor = p.minor;
        d.memory_total = static_cast<int64_t>(p.totalGlobalMem);
        d.sm_count = p.multiProcessorCount;
        d.usable = p.major * 10 + p.minor >= RS_CUDA_MIN_ARCH;
        if (!d.usable) {
            d.why_not = "compute capability " + std::to_string(p.major) + "." +
                        std::to_string(p.minor) + " is below this build's sm_" +
                        std::to_string(RS_CUDA_MIN_ARCH) + " (built for " RS_CUDA_ARCHITECTURES ")";
        } else if (cudaSetDevice(i) == cudaSuccess) {
            // The kernels' code must run there (SASS for it, or PTX it can compile).
            const cudaError_t ke = rs::cuda::kernel_image_error();
            if (ke != cudaSuccess) {
                d.usable = false;
                d.why_not = std::string("no kernel code for sm_") + std::to_string(p.major) +
                            std::to_string(p.minor) +
                            " in this build (" RS_CUDA_ARCHITECTURES "): " + cudaGetErrorString(ke);
                cudaGetLastError();
            }
        }
        if (d.usable && d.memory_total > best) {
            best = d.memory_total;
            st->chosen = i;
        }
        st->devices.push_back(d);
    }
    if (const char* want = std::getenv("RS_CUDA_DEVICE"); want && *want) {
        const int i = std::atoi(want);
        if (i < 0 || i >= static_cast<int>(st->devices.size()) ||
            !st->devices[static_cast<size_t>(i)].usable) {
            st->why_not = std::string("RS_CUDA_DEVICE=") + want + " is not a usable device (" +
                          std::to_string(st->devices.size()) + " found)";
            st->chosen = -1;
            return;
        }
        st->chosen = i;
    }
    if (st->chosen < 0) {
        st->why_not = "no device this build has code for:";
        for (const rs::CudaDevice& d : st->devices)
            st->why_not += " " + d.name + ": " + d.why_not + ";";
    }
}

extern "C" __attribute__((visibility("default"))) rs::Backend* rs_cuda_module_make(
    const rs::Model* model, const rs::BackendOptions* opt) {
    const rs::CudaStatus& st = rs::cuda_status();
    return new rs::CudaBackend(*model, *opt, st.chosen);
}
