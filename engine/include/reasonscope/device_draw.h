// The draw on the backend (kernels/cuda/draw.h): a backend whose logits live
// in device memory samples each row there and hands the host the token and
// its signals. This is the host's side of it: which requests it can take,
// their specs, the signals from a result, and the same computation on the
// host (the CPU backend's emulation of the seam, and the reference the
// device is checked against).
#pragma once

#include <cstdint>

#include "reasonscope/sampling.h"

namespace rs {
namespace draw {
struct Spec;
struct Result;
}  // namespace draw

// Whether a backend's draw gives what Sampler::sample gives with `p` (no
// repetition penalty, at most draw::kMaxAlternatives alternatives).
bool draw_on_backend_possible(const SamplingParams& p);
// The row's spec: the sampler's uniform for (seed, stream, position).
void draw_spec(const SamplingParams& p, uint64_t stream, uint64_t pos, draw::Spec& out);
// The token and its signals (as Sampler::sample reports them) from a
// result with status draw::kDone; n_vocab for the self-certainty.
TokenSignals draw_signals(const draw::Result& r, int n_vocab);
// The backend's computation on the host, as the device does it (its block
// of draw::kThreads threads emulated: the same reductions in the same order,
// so the same tokens; log s is the host's, so the signals' sums may differ
// from the device's in the last bits).
void draw_on_host(const float* logits, int n_vocab, const draw::Spec& spec, draw::Result& out);

}  // namespace rs
