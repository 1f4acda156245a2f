// The sampler's draw and signals for one row of logits, written once for the
// device and the host: a backend with its logits in device memory runs it
// there (one block of kThreads threads a row), so a step of 64 branches over
// a 152k vocabulary sends the host a few hundred bytes a row instead of its
// logits; the host runs the same code to check it (tests/engine) and as the
// CPU backend's emulation of the seam.
//
// What it computes is the host sampler's (engine/sampling): z = logits / t,
// e = exp(z - max z) (the C library's expf, bit for bit), the inverse CDF of
// softmax(z) in the order z descending, ties by id (-0 as +0), after top-k,
// top-p and min-p, at the uniform u the host derives from the run's seed,
// stream and position; the signals' sums; the n best alternatives by raw
// logit. Its double sums are taken in another fixed order (kThreads strided
// partial sums, then a tree) and log is the device's, so the signals agree
// with the host sampler's to about the last bits of a double.
//
// Positions in the sampling order are 64-bit keys (z's order bits above the
// id's complement): "the first L tokens" are the tokens whose key is at least
// the L-th token's. Cuts and the draw each select the largest key whose
// tokens at or above it reach a count or a mass, by a radix select over the
// keys' bytes (a histogram pass per byte). Masses there are e in fixed point
// (kMassBits fraction bits), so they add exactly in any order: the selection
// is the same on every run, on the device and in the host's emulation, and
// a draw differs from the host sampler's only where u falls within about
// V * 2^-44 of an interval's edge.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/expf_data.h"
#include "cuda/quant.h"  // RS_HD

namespace rs::draw {

constexpr int kThreads = 1024;         // a row's block (the host emulates its reductions)
constexpr int kMaxAlternatives = 64;   // more: the host samples from the logits
constexpr int kWalkAlternatives = 16;  // alternatives found one maximum at a time

// One row's sampling.
struct Spec {
    int active = 1;       // 0: not drawn here (result kFallback, the row's logits to the host)
    float t = 1;          // temperature (1 when greedy)
    int greedy = 0;       // the first of the largest raw logits; signals at t = 1
    int top_k = 0;        // 0: off
    float top_p = 1;      // 1: off
    float min_p = 0;      // 0: off
    float log_min_p = 0;  // std::log(min_p), taken by the host (as its sampler does)
    double u = 0;         // the draw's uniform in [0, 1)
    int n_alt = 0;        // alternatives, at most kMaxAlternatives
};

enum Status : int {
    kDone = 0,
    kNotNumbers = 1,  // a NaN or +inf among the logits: nothing to sample
    kFallback = 2,    // not handled here (every logit -inf): the host samples the row
};

struct Result {
    int status = kFallback;
    int token = -1;
    float z_token = 0;  // the token's z
    float mx = 0;       // max z
    double s = 0;       // sum of e
    // With d = z - mx, lp = d - log s, p = e / s: sum p lp, sum p lp lp, sum d.
    double plp = 0, plp2 = 0, sd = 0;
    int n_alt = 0;  // alternatives, best first: id, raw logit, z
    int alt_id[kMaxAlternatives] = {};
    float alt_logit[kMaxAlternatives] = {}, alt_z[kMaxAlternatives] = {};
};

// x's bits as To (memcpy works in device code too).
template <class To, class From>
RS_HD To bit_cast(From x) {
    static_assert(sizeof(To) == sizeof(From));
    To y;
    std::memcpy(&y, &x, sizeof y);
    return y;
}

// std::exp(x) in float, bit for bit: the SIMD kernels' algorithm
// (kernels/cpu/expf_data.h) one value at a time; tst_sampling checks it
// against std::exp. tab: kExp2fTab, or the device's copy of it.
RS_HD float expf_libm(float x, const uint64_t* tab) {
    using namespace rs::kernels;
    if (x != x) return x;  // NaN
    if (x < kExpfUnderflow) return 0.0f;
    if (x > kExpfOverflow) return INFINITY;
    const double xd = x;
    const double kd0 = fma(kExpfInvLn2N, xd, kExpfShift);
    const double kd = kd0 - kExpfShift;
    const double r = fma(kExpfInvLn2N, xd, -kd);
    const auto ki = bit_cast<uint64_t>(kd0);
    const double t = bit_cast<double>(tab[ki & 31] + (ki << (52 - 5)));
    const double z = fma(kExpfC0, r, kExpfC1);
    const double r2 = r * r;
    double y = fma(kExpfC2, r, 1.0);
    y = fma(z, r2, y) * t;
    return static_cast<float>(y);
}

// A token's place in the sampling order: larger keys come first.
RS_HD uint64_t order_key(float z, int id) {
    if (z == 0.0f) z = 0.0f;  // -0 as +0
    auto u = bit_cast<uint32_t>(z);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return (static_cast<uint64_t>(u) << 32) |
           static_cast<uint32_t>(0xFFFFFFFFu - static_cast<uint32_t>(id));
}
RS_HD int key_id(uint64_t key) {
    return static_cast<int>(0xFFFFFFFFu - static_cast<uint32_t>(key));
}

// Token masses for the cuts and the draw: e in fixed point, kMassBits
// fraction bits (truncated), so that masses add exactly in any order (a
// block's histogram by atomics is deterministic) and a row of up to 2^19
// tokens sums within 64 bits.
constexpr int kMassBits = 44;
constexpr int kMaxVocab = 1 << 19;
RS_HD uint64_t fixed_mass(float e) {
    return static_cast<uint64_t>(static_cast<double>(e) * 0x1p44);
}

// The result of a selection: the key, and the count and mass of the tokens
// at or above it.
struct Selected {
    uint64_t key = 0, count = 0, mass = 0;
};

// The largest token key K with F(K) >= need, F(K) the count (by_mass false)
// or the mass of the tokens whose key is at least K (need >= 1, and F of
// every token at least need): a radix select over the keys' bytes from the
// top, one histogram pass (counts and masses of the next byte among tokens
// sharing the bytes decided) per byte. Once the z part (the high 32 bits)
// is decided and holds one token, that token is the answer (one more pass
// for its id instead of four).
template <class R, class KeyOf, class MassOf>
RS_HD Selected radix_select(R& r, KeyOf key_of, MassOf mass_of, bool by_mass, uint64_t need) {
    Selected sel;
    uint64_t above_count = 0, above_mass = 0;  // tokens above the decided prefix
    for (int byte = 7; byte >= 0; --byte) {
        const int shift = 8 * byte;
        const uint64_t prefix = sel.key;
        const uint32_t* hc;
        const uint64_t* hm;
        r.histogram(
            [&](int i) {
                const uint64_t k = key_of(i);
                if (byte < 7 && (k >> (shift + 8)) != (prefix >> (shift + 8))) return -1;
                return static_cast<int>((k >> shift) & 255);
            },
            mass_of, hc, hm);
        int b = 255;
        for (; b > 0; --b) {
            const uint64_t f = by_mass ? above_mass + hm[b] : above_count + hc[b];
            if (f >= need) break;
            above_count += hc[b];
            above_mass += hm[b];
        }
        sel.key = prefix | (static_cast<uint64_t>(b) << shift);
        sel.count = above_count + hc[b];
        sel.mass = above_mass + hm[b];
        if (byte == 4 && hc[b] == 1) {  // one token with this z: find its id
            const uint64_t hi = sel.key;
            sel.key = r.max_key([&](int i) {
                const uint64_t k = key_of(i);
                return (k >> 32) == (hi >> 32) ? k : uint64_t{0};
            });
            return sel;
        }
    }
    return sel;
}

// One row. tab: the exponential's table. R, the reductions of a block over
// i in [0, V), each returning the same value to every thread: sum and sum3
// (doubles, in the block's fixed order), sum_u64, count, max_key,
// histogram (256 bins of counts and masses, read through the
// pointers until the next call), for_each (each thread its own i), collect
// (emit(slot, i) for each i with pred(i), slots 0.. in any order) and single
// (runs once, after every thread's writes). z, e: V floats of scratch.
template <class R>
RS_HD void draw_row(R& r, const float* logits, int V, const Spec& sp, const uint64_t* tab, float* z,
                    float* e, Result& out) {
    // The best raw logit, and whether every logit is below +inf (NaN and
    // +inf have the largest key).
    constexpr uint64_t kBad = ~uint64_t{0};
    auto raw = [&](int i) { return logits[i] < INFINITY ? order_key(logits[i], i) : kBad; };
    const uint64_t raw_top = r.max_key(raw);
    if (raw_top == kBad) {
        r.single([&] { out.status = kNotNumbers; });
        return;
    }
    const float t = sp.greedy ? 1.0f : sp.t;
    const float mx_raw = logits[key_id(raw_top)];
    const float mx = t == 1.0f ? mx_raw : mx_raw / t;  // (division is monotone: max z)
    if (mx == -INFINITY || V > kMaxVocab) {
        r.single([&] { out.status = kFallback; });
        return;
    }
    r.for_each([&](int i) {
        const float zi = t == 1.0f ? logits[i] : logits[i] / t;
        z[i] = zi;
        e[i] = expf_libm(zi - mx, tab);
    });
    const double s = r.sum([&](int i) { return static_cast<double>(e[i]); });
    const double L = log(s), inv_s = 1.0 / s;
    // sum p lp, sum p lp lp, sum d (an impossible token, e = 0 and lp =
    // -inf, adds nothing to the first two: p lp -> 0)
    double sums[3];
    r.sum3(
        [&](int i, double* v) {
            const double d = static_cast<double>(z[i]) - mx, lp = d - L;
            const double p = static_cast<double>(e[i]) * inv_s;
            v[0] = p == 0 ? 0.0 : p * lp;
            v[1] = p == 0 ? 0.0 : p * lp * lp;
            v[2] = d;
        },
        sums);

    auto key = [&](int i) { return order_key(z[i], i); };
    auto mass = [&](int i) { return fixed_mass(e[i]); };
    uint64_t token_key = raw_top;  // greedy: the first of the largest raw logits
    if (!sp.greedy) {
        // The kept prefix: its count and mass (all tokens, then each cut's).
        Selected kept;
        kept.count = static_cast<uint64_t>(V);
        kept.mass = r.sum_u64(mass);
        if (sp.top_k > 0 && static_cast<uint64_t>(sp.top_k) < kept.count)
            kept = radix_select(r, key, mass, false, static_cast<uint64_t>(sp.top_k));
        if (sp.top_p < 1.0f) {
            // the fewest tokens whose mass reaches top_p of the kept mass
            const auto want = static_cast<uint64_t>(static_cast<double>(sp.top_p) *
                                                    static_cast<double>(kept.mass));
            kept = radix_select(r, key, mass, true, want > 1 ? want : 1);
        }
        if (sp.min_p > 0) {
            const float cut = mx + sp.log_min_p;
            int within = r.count([&](int i) { return z[i] >= cut; });
            if (within < 1) within = 1;
            if (static_cast<uint64_t>(within) < kept.count)
                kept = radix_select(r, key, mass, false, static_cast<uint64_t>(within));
        }
        // The token where the running mass passes u times the kept mass.
        const uint64_t u53 = static_cast<uint64_t>(sp.u * 0x1p53);
#if defined(__CUDA_ARCH__)
        const uint64_t lo = u53 * kept.mass, hi = __umul64hi(u53, kept.mass);
#else
        const unsigned __int128 prod = static_cast<unsigned __int128>(u53) * kept.mass;
        const auto lo = static_cast<uint64_t>(prod), hi = static_cast<uint64_t>(prod >> 64);
#endif
        const uint64_t target = (hi << 11) | (lo >> 53);  // floor(u * mass) < mass
        token_key = radix_select(r, key, mass, true, target + 1).key;
    }
    // The n best by raw logit (ties by id): a few one maximum at a time,
    // more by a count selection.
    const int n_alt = sp.n_alt < V ? sp.n_alt : V;
    if (n_alt > 0 && n_alt <= kWalkAlternatives) {
        uint64_t k = raw_top;
        for (int a = 0; a < n_alt; ++a) {
            if (a > 0) {
                const uint64_t prev = k;
                k = r.max_key([&](int i) {
                    const uint64_t x = raw(i);
                    return x < prev ? x : uint64_t{0};
                });
            }
            r.single([&] {
                const int id = key_id(k);
                out.alt_id[a] = id;
                out.alt_logit[a] = logits[id];
                out.alt_z[a] = z[id];
            });
        }
    } else if (n_alt > 0) {
        const uint64_t alt_thr =
            radix_select(
                r, raw, [](int) { return uint64_t{0}; }, false, static_cast<uint64_t>(n_alt))
                .key;
        r.collect([&](int i) { return raw(i) >= alt_thr; },
                  [&](int slot, int i) {
                      if (slot >= kMaxAlternatives) return;  // (exactly n_alt: keys are unique)
                      out.alt_id[slot] = i;
                      out.alt_logit[slot] = logits[i];
                      out.alt_z[slot] = z[i];
                  });
    }
    r.single([&] {
        const int tok = key_id(token_key);
        out.status = kDone;
        out.token = tok;
        out.z_token = z[tok];
        out.mx = mx;
        out.s = s;
        out.plp = sums[0];
        out.plp2 = sums[1];
        out.sd = sums[2];
        out.n_alt = n_alt;
        // best first (insertion sort by raw key: at most kMaxAlternatives)
        for (int a = 1; a < n_alt; ++a)
            for (int b = a; b > 0 && order_key(out.alt_logit[b], out.alt_id[b]) >
                                         order_key(out.alt_logit[b - 1], out.alt_id[b - 1]);
                 --b) {
                const int id = out.alt_id[b];
                const float lg = out.alt_logit[b], zz = out.alt_z[b];
                out.alt_id[b] = out.alt_id[b - 1];
                out.alt_logit[b] = out.alt_logit[b - 1];
                out.alt_z[b] = out.alt_z[b - 1];
                out.alt_id[b - 1] = id;
                out.alt_logit[b - 1] = lg;
                out.alt_z[b - 1] = zz;
            }
    });
}

}  // namespace rs::draw
