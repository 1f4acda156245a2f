// A compute backend evaluates one batch of token rows through the model.
// Rows may belong to different sequences at different positions (batched
// decode of many branches) or be consecutive tokens of one sequence
// (prefill); weights are read once per batch. The CPU backend is always
// available and is every other backend's reference; CUDA and remote
// backends implement the same interface.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "reasonscope/kv_cache.h"
#include "reasonscope/tokenizer.h"

namespace rs {

class Model;
class ThreadPool;

struct BatchRow {
    int seq = 0;  // KV cache sequence
    int pos = 0;  // position of this token in its sequence
    TokenId token = 0;
    bool logits = false;  // produce next-token logits for this row
    bool tap = false;     // copy this row's residual stream at the tap layers
};

// Hidden-state taps: the residual stream after each listed layer (-1 = after
// the final norm) for rows with tap set, written row-major as
// (tapped rows, layers.size(), dim) floats.
struct TapRequest {
    std::vector<int> layers;
    float* out = nullptr;
};

struct ForwardStats {
    int64_t rows = 0, passes = 0;
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    // K/V of each row are written at (seq, pos); the caller has reserved room
    // in `kv`. Rows of one sequence must be in position order. Writes n_vocab
    // logits per row that asks for them, in row order, to `logits`.
    virtual void forward(std::span<const BatchRow> rows, KvCache& kv, float* logits,
                         const TapRequest* taps = nullptr) = 0;
    virtual int threads() const { return 1; }
    // Host-side work split over the backend's threads: fn(begin, end) on
    // disjoint ranges covering [0, n), all done on return (the CPU backend
    // uses its pool; the default runs it on the caller). The search runtime
    // samples a step's branches this way.
    virtual void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
        if (n > 0) fn(0, n);
    }
};

// batch_invariant: no prompt-batch summation order (see SessionOptions::deterministic).
std::unique_ptr<Backend> make_cpu_backend(const Model& model, int n_threads,
                                          bool batch_invariant = false);

}  // namespace rs
