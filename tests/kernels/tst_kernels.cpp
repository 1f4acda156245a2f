// Every SIMD kernel against its scalar reference, on random data, for every
// ISA this CPU can run; plus dequantize/quantize consistency.
#include <QtTest>
#include <bit>
#include <cmath>
#include <cstring>
#include <random>

#include "cpu/blocks.h"
#include "cpu/fp16.h"
#include "cpu/kernels.h"

using namespace rs::kernels;

namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

// Random but valid K-quant blocks: random bits, sane fp16 scales.
template <typename Block>
std::vector<Block> random_kblocks(int nb, uint32_t seed) {
    std::mt19937 g(seed);
    std::vector<Block> v(static_cast<size_t>(nb));
    auto* bytes = reinterpret_cast<uint8_t*>(v.data());
    for (size_t i = 0; i < v.size() * sizeof(Block); ++i) bytes[i] = static_cast<uint8_t>(g());
    for (auto& b : v) {
        if constexpr (std::is_same_v<Block, BlockQ4_K> || std::is_same_v<Block, BlockQ5_K> ||
                      std::is_same_v<Block, BlockQ2_K>) {
            b.d = fp32_to_fp16(0.01f + 0.001f * (g() % 10));
            b.dmin = fp32_to_fp16(0.005f + 0.001f * (g() % 10));
        } else if constexpr (std::is_same_v<Block, BlockMXFP4>) {
            b.e = static_cast<uint8_t>(118 + g() % 12);  // 2^-9 .. 2^2
        } else {
            b.d = fp32_to_fp16(0.002f + 0.0005f * (g() % 10));
        }
    }
    return v;
}

struct Case {
    uint32_t type;
    int n;
    std::vector<uint8_t> w;  // one row
};

template <typename Block>
Case block_case(uint32_t type, int n, int per_block, uint32_t seed) {
    auto v = random_kblocks<Block>(n / per_block, seed);
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    return {type, n, std::vector<uint8_t>(p, p + v.size() * sizeof(Block))};
}

// The first element where `gemm` (every count of weight rows in nws and of
// activation rows in nas) differs from want[j * rows + r]; empty when none.
QString gemm_mismatch(const char* isa, GemmFn gemm, int n, const uint8_t* w, size_t wrow,
                      const uint8_t* a, size_t stride, const std::vector<float>& want, int rows,
                      std::initializer_list<int> nws, std::initializer_list<int> nas) {
    for (int nw : nws)
        for (int na : nas) {
            std::vector<float> got(static_cast<size_t>(nw) * na, -1.0f);
            gemm(n, w, wrow, nw, a, stride, na, got.data(), static_cast<size_t>(nw));
            for (int j = 0; j < na; ++j)
                for (int r = 0; r < nw; ++r)
                    if (got[static_cast<size_t>(j) * nw + r] !=
                        want[static_cast<size_t>(j) * rows + r])
                        return QString("%1: %2 rows x %3 acts, element (%4,%5)")
                            .arg(isa)
                            .arg(nw)
                            .arg(na)
                            .arg(r)
                            .arg(j);
        }
    return {};
}

// count random activation rows of n values as the scalar table quantizes
// them to Q8_0 (row j from seed + j), act_row_bytes apart.
std::vector<uint8_t> q8_acts(int n, int count, uint32_t seed) {
    const size_t stride = act_row_bytes(ActFormat::Q8_0, n);
    std::vector<uint8_t> a(stride * static_cast<size_t>(count));
    for (int j = 0; j < count; ++j) {
        auto v = randn(static_cast<size_t>(n), seed + static_cast<uint32_t>(j));
        kScalarTable.quantize_q8_0(v.data(), a.data() + stride * static_cast<size_t>(j), n);
    }
    return a;
}

// The first element where a packed product (whole, and from the second
// tile on) differs from want[j * rows + r] for na activation rows; empty
// when none.
QString packed_gemm_mismatch(const char* isa, GemmPackedFn gemm, int n, const uint8_t* packed,
                             const uint8_t* a, size_t stride, int na,
                             const std::vector<float>& want, int rows) {
    std::vector<float> got(static_cast<size_t>(rows) * na, -1.0f);
    gemm(n, packed, 0, rows, a, stride, na, got.data(), rows);
    std::vector<float> tail(static_cast<size_t>(rows - 16) * na, -1.0f);
    gemm(n, packed, 1, rows - 16, a, stride, na, tail.data(), rows - 16);
    for (int j = 0; j < na; ++j)
        for (int r = 0; r < rows; ++r) {
            const float wv = want[static_cast<size_t>(j) * rows + r];
            if (got[static_cast<size_t>(j) * rows + r] != wv ||
                (r >= 16 && tail[static_cast<size_t>(j) * (rows - 16) + r - 16] != wv))
                return QString("%1: %2 acts, element (%3,%4)").arg(isa).arg(na).arg(r).arg(j);
        }
    return {};
}

}  // namespace

class TestKernels : public QObject {
    Q_OBJECT

    std::vector<Case> cases() {
        std::vector<Case> cs;
        for (int n : {256, 1024, 4864}) {
            auto x = randn(static_cast<size_t>(n), static_cast<uint32_t>(n), 0.05f);
            Case f32{W_F32, n,
                     std::vector<uint8_t>(reinterpret_cast<uint8_t*>(x.data()),
                                          reinterpret_cast<uint8_t*>(x.data()) + n * 4)};
            Case f16{W_F16, n, std::vector<uint8_t>(static_cast<size_t>(n) * 2)};
            Case bf16{W_BF16, n, std::vector<uint8_t>(static_cast<size_t>(n) * 2)};
            for (int i = 0; i < n; ++i) {
                reinterpret_cast<uint16_t*>(f16.w.data())[i] =
                    fp32_to_fp16(x[static_cast<size_t>(i)]);
                reinterpret_cast<uint16_t*>(bf16.w.data())[i] =
                    fp32_to_bf16(x[static_cast<size_t>(i)]);
            }
            Case q40{W_Q4_0, n,
                     std::vector<uint8_t>(static_cast<size_t>(n / 32) * sizeof(BlockQ4_0))};
            quantize_row_q4_0_ref(x.data(), q40.w.data(), n);
            Case q80{W_Q8_0, n,
                     std::vector<uint8_t>(static_cast<size_t>(n / 32) * sizeof(BlockQ8_0))};
            quantize_row_q8_0_ref(x.data(), q80.w.data(), n);
            Case q50{W_Q5_0, n,
                     std::vector<uint8_t>(static_cast<size_t>(n / 32) * sizeof(BlockQ5_0))};
            quantize_row_q5_0_ref(x.data(), q50.w.data(), n);
            Case q51{W_Q5_1, n,
                     std::vector<uint8_t>(static_cast<size_t>(n / 32) * sizeof(BlockQ5_1))};
            quantize_row_q5_1_ref(x.data(), q51.w.data(), n);
            cs.insert(cs.end(), {f32, f16, bf16, q40, q50, q51, q80});
            if (n % 256 == 0) {
                auto k4 = random_kblocks<BlockQ4_K>(n / 256, 7u + static_cast<uint32_t>(n));
                auto k6 = random_kblocks<BlockQ6_K>(n / 256, 9u + static_cast<uint32_t>(n));
                cs.push_back({W_Q4_K, n,
                              std::vector<uint8_t>(reinterpret_cast<uint8_t*>(k4.data()),
                                                   reinterpret_cast<uint8_t*>(k4.data()) +
                                                       k4.size() * sizeof(BlockQ4_K))});
                cs.push_back({W_Q6_K, n,
                              std::vector<uint8_t>(reinterpret_cast<uint8_t*>(k6.data()),
                                                   reinterpret_cast<uint8_t*>(k6.data()) +
                                                       k6.size() * sizeof(BlockQ6_K))});
                const auto sd = static_cast<uint32_t>(n);
                cs.push_back(block_case<BlockQ2_K>(W_Q2_K, n, 256, 11u + sd));
                cs.push_back(block_case<BlockQ3_K>(W_Q3_K, n, 256, 13u + sd));
                cs.push_back(block_case<BlockQ5_K>(W_Q5_K, n, 256, 15u + sd));
                cs.push_back(block_case<BlockIQ4_XS>(W_IQ4_XS, n, 256, 17u + sd));
            }
        }
        // 32-blocks of table codes, odd block counts too (every group of
        // activation rows meets a tail of blocks).
        for (int n : {32, 96, 224, 1024, 4864}) {
            const auto sd = static_cast<uint32_t>(n);
            cs.push_back(block_case<BlockIQ4_NL>(W_IQ4_NL, n, 32, 19u + sd));
            cs.push_back(block_case<BlockMXFP4>(W_MXFP4, n, 32, 21u + sd));
        }
        return cs;
    }

    // Activations for a case, in the format its kernel consumes: 7 rows.
    static std::vector<uint8_t> acts(const KernelTable& k, const Case& c, int rows,
                                     size_t& stride) {
        ActFormat f;
        act_format_for(c.type, f);
        stride = act_row_bytes(f, c.n);
        std::vector<uint8_t> a(stride * static_cast<size_t>(rows));
        for (int r = 0; r < rows; ++r) {
            auto x = randn(static_cast<size_t>(c.n), 100u + static_cast<uint32_t>(r));
            uint8_t* dst = a.data() + stride * static_cast<size_t>(r);
            if (f == ActFormat::F32)
                std::memcpy(dst, x.data(), stride);
            else if (f == ActFormat::Q8_0)
                k.quantize_q8_0(x.data(), dst, c.n);
            else
                k.quantize_q8_k(x.data(), dst, c.n);
        }
        return a;
    }

  private slots:
    void simdMatchesScalar_data() {
        QTest::addColumn<int>("isa");
        QTest::newRow("avx2") << static_cast<int>(Isa::Avx2);
        QTest::newRow("avx512") << static_cast<int>(Isa::Avx512);
    }
    void simdMatchesScalar() {
        QFETCH(int, isa);
        const KernelTable* simd = kernels_for(static_cast<Isa>(isa));
        if (!simd) QSKIP("this CPU cannot run that ISA");
        const KernelTable& ref = kScalarTable;
        int checked = 0;
        for (const Case& c : cases()) {
            size_t stride;
            auto a = acts(ref, c, 7, stride);
            float want[7], got[7], got1[7];
            dot_for(ref, c.type)(c.n, c.w.data(), a.data(), stride, 7, want);
            dot_for(*simd, c.type)(c.n, c.w.data(), a.data(), stride, 7, got);
            for (int j = 0; j < 7; ++j)
                dot_for(*simd, c.type)(c.n, c.w.data(), a.data() + stride * j, stride, 1, got1 + j);
            for (int j = 0; j < 7; ++j) {
                // Every kernel but BF16 sums in one defined order (kernels.h), so the
                // SIMD result is the scalar one to the bit.
                const float tol = c.type == W_BF16 ? 1e-4f * (1.0f + std::fabs(want[j])) : 0.0f;
                if (std::fabs(got[j] - want[j]) > tol)
                    QFAIL(qPrintable(QString("type %1 n %2 row %3: simd %4 vs scalar %5")
                                         .arg(c.type)
                                         .arg(c.n)
                                         .arg(j)
                                         .arg(got[j])
                                         .arg(want[j])));
                // Batch invariance: a row's result does not depend on the group it is computed in.
                QCOMPARE(got1[j], got[j]);
            }
            // Groups of two and three rows (7 rows run as 4 + 3 above, alone as 1).
            float got2[2];
            dot_for(*simd, c.type)(c.n, c.w.data(), a.data() + stride * 5, stride, 2, got2);
            QCOMPARE(got2[0], got[5]);
            QCOMPARE(got2[1], got[6]);
            ++checked;
        }
        QVERIFY(checked >= 40);
        auto x = randn(1000, 1), y = randn(1000, 2);
        auto one_row = [&](DotFn f, const void* w, int n) {
            float r;
            f(n, w, y.data(), 0, 1, &r);
            return r;
        };
        for (int n : {8, 64, 100, 1000}) {
            QCOMPARE(one_row(simd->dot_f32, x.data(), n), one_row(ref.dot_f32, x.data(), n));
            std::vector<uint16_t> h(static_cast<size_t>(n));
            for (int i = 0; i < n; ++i)
                h[static_cast<size_t>(i)] = fp32_to_fp16(x[static_cast<size_t>(i)]);
            QCOMPARE(one_row(simd->dot_f16, h.data(), n), one_row(ref.dot_f16, h.data(), n));
        }
        // Prompt-batch order (tinyBLAS): F32 and F16 rows against 7 F32 rows.
        for (int n : {16, 64, 176, 200, 1024}) {
            auto w = randn(static_cast<size_t>(n), 5u + static_cast<uint32_t>(n));
            std::vector<uint16_t> wh(static_cast<size_t>(n));
            for (int i = 0; i < n; ++i)
                wh[static_cast<size_t>(i)] = fp32_to_fp16(w[static_cast<size_t>(i)]);
            std::vector<float> a;
            for (int r = 0; r < 7; ++r) {
                auto row = randn(static_cast<size_t>(n), 200u + static_cast<uint32_t>(r));
                a.insert(a.end(), row.begin(), row.end());
            }
            const size_t st = static_cast<size_t>(n) * 4;
            // SIMD = scalar on 7 rows at once, and each row alone gives the same.
            auto agree = [&](DotFn fr, DotFn fs, const void* wp, float* want) {
                float got[7], one;
                fr(n, wp, a.data(), st, 7, want);
                fs(n, wp, a.data(), st, 7, got);
                for (int j = 0; j < 7; ++j) {
                    QVERIFY(got[j] == want[j]);  // (exact: QCOMPARE on floats is fuzzy)
                    fs(n, wp, a.data() + static_cast<size_t>(j) * n, st, 1, &one);
                    QVERIFY(one == got[j]);
                }
            };
            // vec_dot order (decode rows, branches): grouped rows and tails too.
            for (int kind = 0; kind < 2; ++kind) {
                float want[7];
                agree(kind ? ref.dot_f16 : ref.dot_f32, kind ? simd->dot_f16 : simd->dot_f32,
                      kind ? static_cast<const void*>(wh.data()) : w.data(), want);
            }
            if (QTest::currentTestFailed()) return;
            if (n % 16 != 0) continue;  // the prompt-batch order takes whole steps of 16
            for (int kind = 0; kind < 2; ++kind) {
                float want[7];
                agree(kind ? ref.dot_f16_tiled : ref.dot_f32_tiled,
                      kind ? simd->dot_f16_tiled : simd->dot_f32_tiled,
                      kind ? static_cast<const void*>(wh.data()) : w.data(), want);
                if (QTest::currentTestFailed()) return;
                // One 16-lane accumulator summed in halves: a different order
                // from vec_dot's four accumulators, so the two must differ
                // somewhere on these rows (or the kernel is not the tiled one).
                if (n >= 64) {
                    bool differs = false;
                    for (int j = 0; j < 7; ++j) {
                        float v;
                        (kind ? ref.dot_f16 : ref.dot_f32)(
                            n, kind ? static_cast<const void*>(wh.data()) : w.data(),
                            a.data() + static_cast<size_t>(j) * n, st, 1, &v);
                        differs = differs || v != want[j];
                    }
                    QVERIFY(differs);
                }
            }
        }
    }

  private:
    // Attention over an E cache through a table's kernel `fn`: for head sizes
    // 8-256 (the 512-bit paths for 64/128/256 and the loop otherwise), 1-100
    // positions, 1-18 heads per call and the positions split between two
    // calls, every table (the scalar one included) gives the scalar table's
    // one-call result to the bit. Returns the scalar outputs per (hd, n).
    template <typename E>
    using AttnFn = void (*KernelTable::*)(AttnHead*, int, const E* const*, const E* const*, int,
                                          int, float);
    // nq heads (queries q, hd each) over n positions in calls of `heads`
    // heads, the positions split at `split`; out = the finished heads.
    template <typename E>
    static void attend(const KernelTable& k, AttnFn<E> fn, const float* q, int nq,
                       const std::vector<const E*>& kp, const std::vector<const E*>& vp, int n,
                       int hd, float scale, int heads, int split, float* out) {
        std::vector<AttnHead> st(static_cast<size_t>(nq));
        std::vector<float> acc(static_cast<size_t>(nq) * hd, -1.0f);
        for (int h = 0; h < nq; ++h)
            attn_start(st[static_cast<size_t>(h)], q + static_cast<size_t>(h) * hd,
                       acc.data() + static_cast<size_t>(h) * hd, hd);
        for (int h0 = 0; h0 < nq; h0 += heads) {
            const int nh = std::min(heads, nq - h0);
            (k.*fn)(st.data() + h0, nh, kp.data(), vp.data(), split, hd, scale);
            (k.*fn)(st.data() + h0, nh, kp.data() + split, vp.data() + split, n - split, hd, scale);
        }
        for (int h = 0; h < nq; ++h)
            attn_finish(st[static_cast<size_t>(h)], out + static_cast<size_t>(h) * hd, hd);
    }
    template <typename E, typename Check>
    static void attention_tables_agree(AttnFn<E> fn, std::initializer_list<int> hds, Check check) {
        // amp 30: scores far apart, so exponentials underflow (e^x < 2^-126).
        for (float amp : {1.0f, 30.0f})
            for (int hd : hds) {
                for (int n : {1, 7, 33, 100}) {
                    const int nq = 18;
                    auto qf =
                        randn(static_cast<size_t>(nq) * hd, 31u + static_cast<uint32_t>(hd), amp);
                    auto r = randn(static_cast<size_t>(2 * n * hd), 41u + static_cast<uint32_t>(n),
                                   1.0f);
                    std::vector<E> kv(r.size());
                    if constexpr (sizeof(E) == 2) {
                        for (auto& x : qf)
                            x = fp16_to_fp32(fp32_to_fp16(x));  // queries as F16 values
                        for (size_t i = 0; i < kv.size(); ++i) kv[i] = fp32_to_fp16(r[i]);
                    } else {
                        kv = r;
                    }
                    std::vector<const E*> kp(static_cast<size_t>(n)), vp(static_cast<size_t>(n));
                    for (int p = n - 1; p >= 0; --p) {  // positions need not be contiguous
                        kp[static_cast<size_t>(p)] =
                            kv.data() + static_cast<size_t>(2 * (n - 1 - p)) * hd;
                        vp[static_cast<size_t>(p)] = kp[static_cast<size_t>(p)] + hd;
                    }
                    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
                    std::vector<float> want(static_cast<size_t>(nq) * hd), got(want.size());
                    attend<E>(kScalarTable, fn, qf.data(), nq, kp, vp, n, hd, scale, nq, n,
                              want.data());
                    check(hd, n, qf, kp, vp, scale, want);
                    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
                        const KernelTable* k = kernels_for(isa);
                        if (!k) continue;
                        for (int heads : {1, 2, 3, 7, 10, 11, 14, 18})
                            for (int split : {n, n / 3}) {
                                std::fill(got.begin(), got.end(), -1.0f);
                                attend<E>(*k, fn, qf.data(), nq, kp, vp, n, hd, scale, heads, split,
                                          got.data());
                                if (got != want)
                                    QFAIL(qPrintable(QString("%1 hd %2 n %3 heads %4 split %5")
                                                         .arg(isa_name(isa))
                                                         .arg(hd)
                                                         .arg(n)
                                                         .arg(heads)
                                                         .arg(split)));
                            }
                    }
                }
            }
    }

  private slots:
    // Attention over an F16 cache (value sums rounded to F16 after every update).
    void attentionMatchesScalar() {
        attention_tables_agree<uint16_t>(&KernelTable::attn_f16, {8, 64, 80, 128, 256},
                                         [](auto&&...) {});
    }

    // Over an F32 cache (attn_f32); the scalar loop is llama.cpp's online
    // softmax, checked against a direct softmax in double.
    void attentionF32MatchesScalar() {
        attention_tables_agree<float>(
            &KernelTable::attn_f32, {8, 32, 64, 80, 128, 256},
            [](int hd, int n, const std::vector<float>& qf, const std::vector<const float*>& kp,
               const std::vector<const float*>& vp, float scale, const std::vector<float>& want) {
                for (int h = 0; h < 18; ++h) {
                    std::vector<double> sc(static_cast<size_t>(n));
                    double mx = -1e300, sum = 0;
                    for (int p = 0; p < n; ++p) {
                        double d = 0;
                        for (int i = 0; i < hd; ++i)
                            d += static_cast<double>(kp[static_cast<size_t>(p)][i]) *
                                 qf[static_cast<size_t>(h * hd + i)];
                        sc[static_cast<size_t>(p)] = d * scale;
                        mx = std::max(mx, sc[static_cast<size_t>(p)]);
                    }
                    for (auto& x : sc) sum += (x = std::exp(x - mx));
                    for (int i = 0; i < hd; ++i) {
                        double o = 0;
                        for (int p = 0; p < n; ++p)
                            o += sc[static_cast<size_t>(p)] * vp[static_cast<size_t>(p)][i];
                        QVERIFY(std::fabs(o / sum - want[static_cast<size_t>(h * hd + i)]) < 1e-4);
                    }
                }
            });
    }

    // SwiGLU: SIMD equals scalar bit for bit, including the C-library tail
    // (n not a multiple of 16) and inputs far out in both directions; and
    // silu stays within a few ulp of x / (1 + exp(-x)) computed in double.
    void swigluMatchesScalar() {
        const int n = 1000 + 7;
        auto g = randn(static_cast<size_t>(n), 21, 6.0f), u = randn(static_cast<size_t>(n), 22);
        g[0] = 95.0f;
        g[1] = -95.0f;
        g[2] = 0.0f;
        g[3] = -0.0f;
        g[4] = 200.0f;
        g[5] = -200.0f;
        std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
        kScalarTable.swiglu(g.data(), u.data(), want.data(), n);
        for (int i = 0; i < n; ++i) {
            const double x = g[static_cast<size_t>(i)];
            const double ref = x / (1.0 + std::exp(-x)) * u[static_cast<size_t>(i)];
            QVERIFY2(std::fabs(want[static_cast<size_t>(i)] - ref) <=
                         1e-6 * (std::fabs(ref) + 1e-30) + 1e-37,
                     qPrintable(QString("silu(%1)").arg(x)));
        }
        for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
            const KernelTable* k = kernels_for(isa);
            if (!k) continue;
            k->swiglu(g.data(), u.data(), got.data(), n);
            for (int i = 0; i < n; ++i)  // (exact: QCOMPARE on floats is fuzzy)
                QVERIFY(got[static_cast<size_t>(i)] == want[static_cast<size_t>(i)]);
        }
    }

    // RMSNorm: scalar within float rounding of the double-precision definition,
    // every table equal to it to the bit (row lengths with and without a
    // vector tail, one row and groups of eight with a partial one, with and
    // without a weight, in place).
    void rmsnormMatchesScalar() {
        for (int n : {8, 64, 100, 896, 1003})
            for (int rows : {1, 3, 8, 11}) {
                auto x = randn(static_cast<size_t>(rows * n), 31, 3.0f);
                auto w = randn(static_cast<size_t>(n), 32);
                std::vector<float> want(x.size()), got(x.size());
                kScalarTable.rmsnorm(x.data(), w.data(), want.data(), rows, n, 1e-6f);
                for (int r = 0; r < rows; ++r) {
                    double ss = 0;
                    for (int i = 0; i < n; ++i)
                        ss += double(x[size_t(r * n + i)]) * x[size_t(r * n + i)];
                    const double sc = 1.0 / std::sqrt(ss / n + 1e-6);
                    for (int i = 0; i < n; ++i) {
                        const double ref = x[size_t(r * n + i)] * sc * w[size_t(i)];
                        QVERIFY(std::fabs(want[size_t(r * n + i)] - ref) <=
                                1e-5 * (std::fabs(ref) + 1e-3));
                    }
                }
                for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
                    const KernelTable* k = kernels_for(isa);
                    if (!k) continue;
                    k->rmsnorm(x.data(), w.data(), got.data(), rows, n, 1e-6f);
                    QCOMPARE(got, want);
                    std::vector<float> in_place = x, plain(x.size()), plain_ref(x.size());
                    k->rmsnorm(in_place.data(), w.data(), in_place.data(), rows, n, 1e-6f);
                    QCOMPARE(in_place, want);
                    k->rmsnorm(x.data(), nullptr, plain.data(), rows, n, 1e-5f);
                    kScalarTable.rmsnorm(x.data(), nullptr, plain_ref.data(), rows, n, 1e-5f);
                    QCOMPARE(plain, plain_ref);
                }
            }
    }

    // RoPE: scalar rotates each pair by its angle (within float rounding of
    // the rotation in double) and leaves dimensions past n_dims alone; every
    // table equals it to the bit, both pair layouts, partial rotation, tails.
    void ropeMatchesScalar() {
        struct Shape {
            int heads, hd, n_dims;
        };
        for (Shape sh : {Shape{2, 64, 64}, Shape{3, 128, 128}, Shape{2, 64, 32}, Shape{1, 20, 20},
                         Shape{2, 80, 52}}) {
            for (bool neox : {false, true}) {
                const size_t n = size_t(sh.heads * sh.hd);
                auto x = randn(n, 41, 2.0f);
                std::vector<float> cs(size_t(sh.n_dims / 2)), sn(cs.size());
                for (size_t i = 0; i < cs.size(); ++i) {
                    const double t = 37.0 * std::pow(10000.0, -2.0 * double(i) / sh.n_dims);
                    cs[i] = float(std::cos(t));
                    sn[i] = float(std::sin(t));
                }
                std::vector<float> want = x;
                kScalarTable.rope(want.data(), sh.heads, sh.hd, sh.n_dims, cs.data(), sn.data(),
                                  neox);
                const int half = sh.n_dims / 2;
                for (int h = 0; h < sh.heads; ++h)
                    for (int i = 0; i < sh.hd; ++i) {
                        const size_t at = size_t(h * sh.hd + i);
                        if (i >= sh.n_dims) {
                            QCOMPARE(want[at], x[at]);
                            continue;
                        }
                        const int pair = neox ? i % half : i / 2;
                        const bool first = neox ? i < half : i % 2 == 0;
                        const size_t other =
                            size_t(h * sh.hd) +
                            size_t(neox ? (first ? i + half : i - half) : (first ? i + 1 : i - 1));
                        const double c = cs[size_t(pair)], s = sn[size_t(pair)];
                        const double ref =
                            first ? x[at] * c - x[other] * s : x[other] * s + x[at] * c;
                        QVERIFY(std::fabs(want[at] - ref) <= 1e-5);
                    }
                for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
                    const KernelTable* k = kernels_for(isa);
                    if (!k) continue;
                    std::vector<float> got = x;
                    k->rope(got.data(), sh.heads, sh.hd, sh.n_dims, cs.data(), sn.data(), neox);
                    QCOMPARE(got, want);
                }
            }
        }
    }

    // The SIMD exp equals the C library's expf to the bit (the attention's
    // softmax weights depend on it): every 1021st float from -inf to -0 and
    // from +0 to past the overflow threshold, plus -inf, ±0, the underflow and
    // overflow edges and a tail shorter than a vector. (The whole range, 3.26e9
    // inputs, was checked once; expf_data.h.)
    void expMatchesLibm() {
        std::vector<float> x;
        for (uint64_t u = 0x80000000u; u <= 0xff800000u; u += 1021)
            x.push_back(std::bit_cast<float>(static_cast<uint32_t>(u)));
        for (uint32_t u = 0; u <= 0x42c80000u; u += 1021) x.push_back(std::bit_cast<float>(u));
        for (float e : {-INFINITY, -0.0f, 0.0f, -0x1.9fe368p6f, -0x1.9fe366p6f, -0x1.9d1d9ep6f,
                        0x1.62e42ep6f, 0x1.62e430p6f, -1e-30f, 1.0f, -87.5f})
            x.push_back(e);
        x.resize(x.size() / 8 * 8 + 5, -3.25f);
        const int n = static_cast<int>(x.size());
        std::vector<float> got(x.size());
        for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
            const KernelTable* k = kernels_for(isa);
            if (!k) continue;
            k->exp_f32(x.data(), got.data(), n);
            int bad = 0;
            for (size_t i = 0; i < x.size(); ++i)
                if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(std::exp(x[i]))) {
                    if (bad++ < 3) qWarning("exp(%a): %a, libm %a", x[i], got[i], std::exp(x[i]));
                }
            QCOMPARE(bad, 0);
        }
        QVERIFY(n > 3000000);
    }

    // The SIMD activation quantizers write the scalar one's bytes (quants,
    // sums, scales), including all-zero blocks and values on rounding ties.
    void quantizeQ8_0MatchesScalar() {
        const int n = 4096;
        auto x = randn(static_cast<size_t>(n), 5);
        for (int i = 0; i < 32; ++i) x[static_cast<size_t>(i)] = 0.0f;  // an all-zero block
        for (int i = 32; i < 64; ++i)  // amax 127: x * 127/amax = x exactly, ties at k + 0.5
            x[static_cast<size_t>(i)] = i == 32 ? 127.0f : static_cast<float>(i - 48) + 0.5f;
        for (int i = 64; i < 96; ++i)  // a scale below half precision's normal range
            x[static_cast<size_t>(i)] *= 1e-7f;
        for (int i = 96; i < 128; ++i)  // and one that rounds to zero in half precision
            x[static_cast<size_t>(i)] *= 1e-30f;
        const size_t bytes = act_row_bytes(ActFormat::Q8_0, n);
        std::vector<uint8_t> want(bytes), got(bytes);
        kScalarTable.quantize_q8_0(x.data(), want.data(), n);
        for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
            const KernelTable* k = kernels_for(isa);
            if (!k) continue;
            std::fill(got.begin(), got.end(), uint8_t{0xAA});
            k->quantize_q8_0(x.data(), got.data(), n);
            // the padding between the blocks and the sums is not part of the format
            const size_t blocks = static_cast<size_t>(n / 32) * sizeof(BlockQ8_0);
            const size_t sums = q8_act_sums_offset(n / 32);
            QVERIFY(std::memcmp(got.data(), want.data(), blocks) == 0);
            QVERIFY(std::memcmp(got.data() + sums, want.data() + sums, bytes - sums) == 0);
        }
    }

    // Q4_0 matrix product: every tile shape (1..19 weight rows, so partial
    // tiles of 8) and batch size (1..13 activation rows: the register path and
    // the packed path) gives each element exactly the scalar value, so a
    // row's result never depends on its batch. The repacked tiles: 67 rows
    // (pairs of tiles, then a partial tile), from the first tile or the second.
    void gemmQ4_0MatchesScalarEveryShape() {
        const int n = 1024, rows = 67, acts_n = 13;
        auto x = randn(static_cast<size_t>(n) * rows, 11, 0.05f);
        const size_t wrow = static_cast<size_t>(n / 32) * sizeof(BlockQ4_0);
        std::vector<uint8_t> w(wrow * rows);
        for (int r = 0; r < rows; ++r)
            quantize_row_q4_0_ref(x.data() + static_cast<size_t>(r) * n, w.data() + wrow * r, n);
        const size_t stride = act_row_bytes(ActFormat::Q8_0, n);
        const std::vector<uint8_t> a = q8_acts(n, acts_n, 200u);
        std::vector<float> want(static_cast<size_t>(rows) * acts_n);
        kScalarTable.gemm_q4_0(n, w.data(), wrow, rows, a.data(), stride, acts_n, want.data(),
                               rows);
        // The repacked layout (16-row tiles) gives the same values from every
        // table, whole or from a later tile on.
        std::vector<uint8_t> packed(q4_0_packed_bytes(rows, n));
        pack_q4_0(w.data(), wrow, rows, n, packed.data());
        std::vector<float> row(static_cast<size_t>(n)), deq(static_cast<size_t>(n));
        for (int r : {0, 5, 16, 18}) {
            dequantize_q4_0_packed_row(packed.data(), n, r, row.data());
            dequantize_row(W_Q4_0, w.data() + wrow * r, deq.data(), n);
            QCOMPARE(row, deq);
        }
        for (const KernelTable* k :
             {&kScalarTable, kernels_for(Isa::Avx2), kernels_for(Isa::Avx512)}) {
            if (!k) continue;
            for (int na : {1, 2, 3, 4, 5, 6, 7, 8, 11, 13}) {
                std::vector<float> got(static_cast<size_t>(rows) * na, -1.0f);
                k->gemm_q4_0_packed(n, packed.data(), 0, rows, a.data(), stride, na, got.data(),
                                    rows);
                // (exact: QCOMPARE's floating-point comparison is fuzzy)
                for (int j = 0; j < na; ++j)
                    for (int r = 0; r < rows; ++r)
                        QVERIFY(got[static_cast<size_t>(j) * rows + r] ==
                                want[static_cast<size_t>(j) * rows + r]);
                std::vector<float> tail(static_cast<size_t>(rows - 16) * na, -1.0f);
                k->gemm_q4_0_packed(n, packed.data(), 1, rows - 16, a.data(), stride, na,
                                    tail.data(), rows - 16);
                for (int j = 0; j < na; ++j)
                    for (int r = 0; r < rows - 16; ++r)
                        QVERIFY(tail[static_cast<size_t>(j) * (rows - 16) + r] ==
                                want[static_cast<size_t>(j) * rows + 16 + r]);
            }
        }
        for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
            const KernelTable* k = kernels_for(isa);
            if (!k) continue;
            const QString m =
                gemm_mismatch(isa_name(isa), k->gemm_q4_0, n, w.data(), wrow, a.data(), stride,
                              want, rows, {1, 7, 8, 9, 16, 19}, {1, 2, 3, 4, 5, 6, 7, 12, 13});
            if (!m.isEmpty()) QFAIL(qPrintable(m));
        }
    }

    // Q8_0 and Q5_0 matrix products (two rows to a vector where the ISA has
    // one): every shape of weight rows (odd counts: a row alone) and
    // activation rows (groups of eight and the rest) gives each element
    // exactly the scalar dot, Q8_0 quants of -128 and 127 included.
    void gemmQ8_0AndQ5_0MatchScalarEveryShape_data() {
        QTest::addColumn<int>("type");
        QTest::newRow("Q8_0") << int(W_Q8_0);
        QTest::newRow("Q5_0") << int(W_Q5_0);
    }
    void gemmQ8_0AndQ5_0MatchScalarEveryShape() {
        QFETCH(int, type);
        const bool q8 = type == W_Q8_0;
        const int n = 1024, rows = 19, acts_n = 19;
        auto x = randn(static_cast<size_t>(n) * rows, 12, 0.05f);
        const size_t wrow =
            static_cast<size_t>(n / 32) * (q8 ? sizeof(BlockQ8_0) : sizeof(BlockQ5_0));
        std::vector<uint8_t> w(wrow * rows);
        for (int r = 0; r < rows; ++r)
            (q8 ? quantize_row_q8_0_ref : quantize_row_q5_0_ref)(
                x.data() + static_cast<size_t>(r) * n, w.data() + wrow * r, n);
        if (q8) {  // extreme quants (a file may hold -128) in some blocks
            auto* blocks = reinterpret_cast<BlockQ8_0*>(w.data());
            for (int b = 0; b < rows * n / 32; b += 7) {
                blocks[b].qs[0] = -128;
                blocks[b].qs[5] = 127;
                blocks[b].qs[31] = -128;
            }
        }
        const size_t stride = act_row_bytes(ActFormat::Q8_0, n);
        const std::vector<uint8_t> a = q8_acts(n, acts_n, 300u);
        std::vector<float> want(static_cast<size_t>(rows) * acts_n), res(acts_n);
        for (int r = 0; r < rows; ++r) {
            (q8 ? kScalarTable.dot_q8_0 : kScalarTable.dot_q5_0)(n, w.data() + wrow * r, a.data(),
                                                                 stride, acts_n, res.data());
            for (int j = 0; j < acts_n; ++j) want[static_cast<size_t>(j) * rows + r] = res[j];
        }
        int checked = 0;
        for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
            const KernelTable* k = kernels_for(isa);
            const GemmFn gemm = !k ? nullptr : q8 ? k->gemm_q8_0 : k->gemm_q5_0;
            if (!gemm) continue;
            ++checked;
            const QString m =
                gemm_mismatch(isa_name(isa), gemm, n, w.data(), wrow, a.data(), stride, want, rows,
                              {1, 2, 3, 8, 16, 19}, {1, 2, 3, 5, 7, 8, 9, 16, 19});
            if (!m.isEmpty()) QFAIL(qPrintable(m));
        }
        if (kernels_for(Isa::Avx512)) QVERIFY(checked > 0);  // the AVX-512 table has one
    }

    // Q4_K, Q5_K and Q6_K tiles: the packed layout holds every row (unpacked
    // blocks and dequantized values equal the original's), and every table's
    // packed product, whole or from a later tile, gives each element exactly
    // the scalar dot on the original rows, for partial tiles and groups of
    // activation rows of every size.
    void gemmKQuantPackedMatchesScalar_data() {
        QTest::addColumn<int>("type");
        QTest::newRow("Q4_K") << int(W_Q4_K);
        QTest::newRow("Q5_K") << int(W_Q5_K);
        QTest::newRow("Q6_K") << int(W_Q6_K);
    }
    void gemmKQuantPackedMatchesScalar() {
        QFETCH(int, type);
        const bool q4 = type == W_Q4_K, q5 = type == W_Q5_K;
        const int n = 768, rows = 19, acts_n = 13;
        auto x = randn(static_cast<size_t>(n) * rows, 13, 0.05f);
        const size_t wrow = static_cast<size_t>(n / 256) * (q4   ? sizeof(BlockQ4_K)
                                                            : q5 ? sizeof(BlockQ5_K)
                                                                 : sizeof(BlockQ6_K));
        std::vector<uint8_t> w(wrow * rows);
        for (int r = 0; r < rows; ++r)
            (q4   ? quantize_row_q4_k_ref
             : q5 ? quantize_row_q5_k_ref
                  : quantize_row_q6_k_ref)(x.data() + static_cast<size_t>(r) * n,
                                           w.data() + wrow * r, n);
        std::vector<uint8_t> packed(q4   ? q4_k_packed_bytes(rows, n)
                                    : q5 ? q5_k_packed_bytes(rows, n)
                                         : q6_k_packed_bytes(rows, n));
        (q4 ? pack_q4_k : q5 ? pack_q5_k : pack_q6_k)(w.data(), wrow, rows, n, packed.data());
        std::vector<uint8_t> back(wrow);
        std::vector<float> deq(static_cast<size_t>(n)), want_deq(static_cast<size_t>(n));
        for (int r = 0; r < rows; ++r) {
            (q4   ? unpack_q4_k_row
             : q5 ? unpack_q5_k_row
                  : unpack_q6_k_row)(packed.data(), n, r, back.data());
            QVERIFY(std::memcmp(back.data(), w.data() + wrow * r, wrow) == 0);
            (q4   ? dequantize_q4_k_packed_row
             : q5 ? dequantize_q5_k_packed_row
                  : dequantize_q6_k_packed_row)(packed.data(), n, r, deq.data());
            dequantize_row(static_cast<uint32_t>(type), w.data() + wrow * r, want_deq.data(), n);
            QCOMPARE(deq, want_deq);
        }
        const size_t stride = act_row_bytes(ActFormat::Q8_K, n);
        std::vector<uint8_t> a(stride * acts_n);
        for (int j = 0; j < acts_n; ++j) {
            auto v = randn(static_cast<size_t>(n), 400u + static_cast<uint32_t>(j));
            kScalarTable.quantize_q8_k(v.data(), a.data() + stride * j, n);
        }
        std::vector<float> want(static_cast<size_t>(rows) * acts_n), res(acts_n);
        for (int r = 0; r < rows; ++r) {
            (q4   ? kScalarTable.dot_q4_k
             : q5 ? kScalarTable.dot_q5_k
                  : kScalarTable.dot_q6_k)(n, w.data() + wrow * r, a.data(), stride, acts_n,
                                           res.data());
            for (int j = 0; j < acts_n; ++j) want[static_cast<size_t>(j) * rows + r] = res[j];
        }
        for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
            const KernelTable* k = kernels_for(isa);
            if (!k) continue;
            const GemmPackedFn gemm = q4   ? k->gemm_q4_k_packed
                                      : q5 ? k->gemm_q5_k_packed
                                           : k->gemm_q6_k_packed;
            for (int na : {1, 2, 3, 4, 5, 7, 8, 13}) {
                const QString m = packed_gemm_mismatch(isa_name(isa), gemm, n, packed.data(),
                                                       a.data(), stride, na, want, rows);
                if (!m.isEmpty()) QFAIL(qPrintable(m));
            }
        }
    }

    // Q5_0 tiles: the packed layout holds every row, and every table's packed
    // product, whole or from a later tile, gives each element exactly the
    // scalar dot_q5_0 on the original rows (partial tiles, odd activation
    // counts; extreme quants 0 and 31 in some blocks).
    void gemmQ5_0PackedMatchesScalar() {
        const int n = 320, rows = 19, acts_n = 7;
        auto x = randn(static_cast<size_t>(n) * rows, 17, 0.05f);
        const size_t wrow = static_cast<size_t>(n / 32) * sizeof(BlockQ5_0);
        std::vector<uint8_t> w(wrow * rows);
        for (int r = 0; r < rows; ++r)
            quantize_row_q5_0_ref(x.data() + static_cast<size_t>(r) * n, w.data() + wrow * r, n);
        auto* blocks = reinterpret_cast<BlockQ5_0*>(w.data());
        for (int b = 0; b < rows * n / 32; b += 5) {
            blocks[b].qs[0] = 0xF0;  // values 0 (bit clear) and 31 (bit set) below
            blocks[b].qh[0] = static_cast<uint8_t>(blocks[b].qh[0] & ~1u);
            blocks[b].qh[2] = static_cast<uint8_t>(blocks[b].qh[2] | 1u);
        }
        std::vector<uint8_t> packed(q5_0_packed_bytes(rows, n));
        pack_q5_0(w.data(), wrow, rows, n, packed.data());
        std::vector<uint8_t> back(wrow);
        for (int r = 0; r < rows; ++r) {
            unpack_q5_0_row(packed.data(), n, r, back.data());
            QVERIFY(std::memcmp(back.data(), w.data() + wrow * r, wrow) == 0);
        }
        const size_t stride = act_row_bytes(ActFormat::Q8_0, n);
        const std::vector<uint8_t> a = q8_acts(n, acts_n, 500u);
        std::vector<float> want(static_cast<size_t>(rows) * acts_n), res(acts_n);
        for (int r = 0; r < rows; ++r) {
            kScalarTable.dot_q5_0(n, w.data() + wrow * r, a.data(), stride, acts_n, res.data());
            for (int j = 0; j < acts_n; ++j) want[static_cast<size_t>(j) * rows + r] = res[j];
        }
        for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
            const KernelTable* k = kernels_for(isa);
            if (!k) continue;
            for (int na = 1; na <= acts_n; ++na) {
                const QString m =
                    packed_gemm_mismatch(isa_name(isa), k->gemm_q5_0_packed, n, packed.data(),
                                         a.data(), stride, na, want, rows);
                if (!m.isEmpty()) QFAIL(qPrintable(m));
            }
        }
    }

    // The vocabulary statistics (sum, softmax statistics, maximum) give the
    // scalar table's bits on every table, for lengths with and without a tail.
    void vocabularyStatisticsMatchScalar() {
        for (int n : {1, 7, 8, 9, 1000, 151936}) {
            auto z = randn(static_cast<size_t>(n), 21, 3.0f);
            std::vector<float> e(static_cast<size_t>(n));
            const float mx = kScalarTable.max_f32(z.data(), n);
            QCOMPARE(mx, *std::max_element(z.begin(), z.end()));
            for (int i = 0; i < n; ++i) e[static_cast<size_t>(i)] = std::exp(z[i] - mx);
            const double s = kScalarTable.sum_f32(e.data(), n);
            double want[3];
            kScalarTable.softmax_stats(z.data(), e.data(), n, mx, std::log(s), 1.0 / s, want);
            for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
                const KernelTable* k = kernels_for(isa);
                if (!k) continue;
                // (exact: QCOMPARE's floating-point comparison is fuzzy)
                QVERIFY(k->max_f32(z.data(), n) == mx);
                QVERIFY(k->sum_f32(e.data(), n) == s);
                double got[3];
                k->softmax_stats(z.data(), e.data(), n, mx, std::log(s), 1.0 / s, got);
                QVERIFY(std::memcmp(got, want, sizeof got) == 0);
            }
        }
    }

    // The sampler's fused passes give, on every table, the bits of the
    // kernels they fuse (division, maximum, finiteness; exp and sum; buckets
    // and softmax statistics), with and without a tail, at temperature 1
    // (no division) and not, and they report a NaN or +inf anywhere.
    void fusedSamplingPassesMatchComposition() {
        for (int n : {1, 7, 8, 9, 17, 1000, 151936}) {
            auto x = randn(static_cast<size_t>(n), 29, 3.0f);
            if (n > 9) x[5] = -INFINITY;  // an impossible token
            for (float t : {1.0f, 0.7f, 1.3f}) {
                std::vector<float> zw(x), ew(static_cast<size_t>(n));
                if (t != 1.0f)
                    for (float& v : zw) v = v / t;
                const float mx = kScalarTable.max_f32(zw.data(), n);
                for (int i = 0; i < n; ++i) ew[static_cast<size_t>(i)] = zw[i] - mx;
                kScalarTable.exp_f32(ew.data(), ew.data(), n);
                const double s = kScalarTable.sum_f32(ew.data(), n);
                const double L = std::log(s), inv = 1.0 / s;
                double stats_w[3];
                kScalarTable.softmax_stats(zw.data(), ew.data(), n, mx, L, inv, stats_w);
                std::vector<uint16_t> idx_w(static_cast<size_t>(n));
                kScalarTable.sample_buckets(zw.data(), n, mx, idx_w.data());
                for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
                    const KernelTable* k = kernels_for(isa);
                    if (!k) continue;
                    const QByteArray where = QByteArray(isa_name(isa)) +
                                             " n=" + QByteArray::number(n) +
                                             " t=" + QByteArray::number(t);
                    std::vector<float> z(static_cast<size_t>(n), 7.0f), e(static_cast<size_t>(n));
                    bool finite = false;
                    const float m =
                        k->logits_max(x.data(), t, t != 1.0f ? z.data() : nullptr, n, &finite);
                    QVERIFY2(finite && std::memcmp(&m, &mx, sizeof m) == 0, where);
                    const float* zp = t != 1.0f ? z.data() : x.data();
                    QVERIFY2(
                        std::memcmp(zp, zw.data(), sizeof(float) * static_cast<size_t>(n)) == 0,
                        where);
                    const double got_s = k->exp_sum(zp, m, e.data(), n);
                    QVERIFY2(got_s == s && e == ew, where);
                    std::vector<uint16_t> idx(static_cast<size_t>(n));
                    double stats[3];
                    k->buckets_stats(zp, e.data(), n, m, L, inv, idx.data(), stats);
                    QVERIFY2(idx == idx_w && std::memcmp(stats, stats_w, sizeof stats) == 0, where);
                    // One NaN or +inf anywhere (first, middle, the tail) is seen.
                    for (const float bad : {NAN, INFINITY})
                        for (int at : {0, n / 2, n - 1}) {
                            std::vector<float> y(x);
                            y[static_cast<size_t>(at)] = bad;
                            finite = true;
                            k->logits_max(y.data(), t, t != 1.0f ? z.data() : nullptr, n, &finite);
                            QVERIFY2(!finite, where + " bad at " + QByteArray::number(at));
                        }
                }
            }
        }
    }

    // Sampling buckets: every table puts each token in the scalar table's
    // bucket (distances on bucket edges, the last bucket's edge, -inf) and
    // lists a bucket's tokens in id order; the scalar buckets follow their
    // definition.
    void sampleBucketsMatchScalar() {
        for (int n : {1, 15, 16, 17, 33, 151936}) {
            auto z = randn(static_cast<size_t>(n), 23, 4.0f);
            const float mx0 = z[0];
            for (int i = 1; i < n; i += 7) {  // edges: d exactly k / 64, and near the last one
                const int kind = (i / 7) % 4;
                z[static_cast<size_t>(i)] =
                    kind == 0   ? mx0 - static_cast<float>(i % 4096) / kSamplePerNat
                    : kind == 1 ? mx0 - kSampleLastNat
                    : kind == 2 ? std::nextafter(mx0 - kSampleLastNat, 1e30f)
                                : -INFINITY;
            }
            const float mx = *std::max_element(z.begin(), z.end());
            std::vector<uint16_t> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
            kScalarTable.sample_buckets(z.data(), n, mx, want.data());
            for (int i = 0; i < n; ++i) {
                const float d = mx - z[static_cast<size_t>(i)];
                const int b = d < kSampleLastNat ? static_cast<int>(std::floor(d * 64.0f)) : 4095;
                QCOMPARE(int{want[static_cast<size_t>(i)]}, b);
            }
            std::vector<int32_t> ids_want(static_cast<size_t>(n)), ids_got(static_cast<size_t>(n));
            for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
                const KernelTable* k = kernels_for(isa);
                if (!k) continue;
                k->sample_buckets(z.data(), n, mx, got.data());
                QVERIFY(got == want);
                for (int b : {0, 1, int{want.back()}, 4094, 4095}) {
                    const int c = kScalarTable.bucket_members(want.data(), n, b, ids_want.data());
                    QCOMPARE(k->bucket_members(want.data(), n, b, ids_got.data()), c);
                    QVERIFY(std::equal(ids_want.begin(), ids_want.begin() + c, ids_got.begin()));
                    for (int j = 0; j < c; ++j)
                        QVERIFY(want[static_cast<size_t>(ids_want[static_cast<size_t>(j)])] == b &&
                                (j == 0 || ids_want[static_cast<size_t>(j)] >
                                               ids_want[static_cast<size_t>(j - 1)]));
                }
            }
        }
    }

    // The quantized dot equals the dot of the dequantized weights with the
    // dequantized activations (both exact in f32 up to rounding).
    void dotMatchesDequantized() {
        const KernelTable& k = kScalarTable;
        for (const Case& c : cases()) {
            if (c.type == W_F32 || c.type == W_F16 || c.type == W_BF16) continue;
            size_t stride;
            auto a = acts(k, c, 1, stride);
            std::vector<float> wd(static_cast<size_t>(c.n)), ad(static_cast<size_t>(c.n));
            QVERIFY(dequantize_row(c.type, c.w.data(), wd.data(), c.n));
            ActFormat f;
            act_format_for(c.type, f);
            if (f == ActFormat::Q8_0) {
                QVERIFY(dequantize_row(8, a.data(), ad.data(), c.n));
            } else {
                const auto* b = reinterpret_cast<const BlockQ8_K*>(a.data());
                for (int i = 0; i < c.n; ++i)
                    ad[static_cast<size_t>(i)] = b[i / 256].d * b[i / 256].qs[i % 256];
            }
            double want = 0;
            for (int i = 0; i < c.n; ++i)
                want +=
                    static_cast<double>(wd[static_cast<size_t>(i)]) * ad[static_cast<size_t>(i)];
            float got;
            dot_for(k, c.type)(c.n, c.w.data(), a.data(), stride, 1, &got);
            QVERIFY2(std::fabs(got - want) < 1e-3 * (1 + std::fabs(want)),
                     qPrintable(QString("type %1").arg(c.type)));
        }
    }

    void quantizeRoundTrip() {
        auto x = randn(4096, 3);
        std::vector<BlockQ8_0> q8(128);
        std::vector<BlockQ4_0> q4(128);
        quantize_row_q8_0_ref(x.data(), q8.data(), 4096);
        quantize_row_q4_0_ref(x.data(), q4.data(), 4096);
        std::vector<float> y8(4096), y4(4096);
        dequantize_row(8, q8.data(), y8.data(), 4096);
        dequantize_row(2, q4.data(), y4.data(), 4096);
        double e8 = 0, e4 = 0;
        for (size_t i = 0; i < 4096; ++i) {
            e8 = std::max(e8, static_cast<double>(std::fabs(x[i] - y8[i])));
            e4 = std::max(e4, static_cast<double>(std::fabs(x[i] - y4[i])));
        }
        QVERIFY(e8 < 0.02);  // |x| < ~4, step 4/127
        QVERIFY(e4 < 0.35);  // step ~4/8
        QVERIFY(e4 > e8);
        std::vector<BlockQ5_0> q5(128);
        quantize_row_q5_0_ref(x.data(), q5.data(), 4096);
        std::vector<float> y5(4096);
        QVERIFY(dequantize_row(W_Q5_0, q5.data(), y5.data(), 4096));
        double e5 = 0;
        for (size_t i = 0; i < 4096; ++i)
            e5 = std::max(e5, static_cast<double>(std::fabs(x[i] - y5[i])));
        QVERIFY(e5 < 0.18);  // step ~4/16
        QVERIFY(e5 > e8 && e5 < e4);
        // K-quants: Q6_K (16-value groups, 6 bits) beats Q4_K (32-value groups,
        // 4 bits); both stay within their grids' steps.
        std::vector<BlockQ4_K> k4(16);
        std::vector<BlockQ6_K> k6(16);
        quantize_row_q4_k_ref(x.data(), k4.data(), 4096);
        quantize_row_q6_k_ref(x.data(), k6.data(), 4096);
        std::vector<float> yk4(4096), yk6(4096);
        QVERIFY(dequantize_row(W_Q4_K, k4.data(), yk4.data(), 4096));
        QVERIFY(dequantize_row(W_Q6_K, k6.data(), yk6.data(), 4096));
        double ek4 = 0, ek6 = 0;
        for (size_t i = 0; i < 4096; ++i) {
            ek4 = std::max(ek4, static_cast<double>(std::fabs(x[i] - yk4[i])));
            ek6 = std::max(ek6, static_cast<double>(std::fabs(x[i] - yk6[i])));
        }
        QVERIFY2(ek4 < 0.5 && ek6 < 0.1 && ek6 < ek4,
                 qPrintable(QString("q4_k %1 q6_k %2").arg(ek4).arg(ek6)));
        // The other writers' types: each within its grid's step, finer grids closer.
        auto err = [&](uint32_t type, size_t block_bytes, int block_elems,
                       void (*quant)(const float*, void*, int64_t)) {
            std::vector<uint8_t> q(4096 / static_cast<size_t>(block_elems) * block_bytes);
            quant(x.data(), q.data(), 4096);
            std::vector<float> yq(4096);
            if (!dequantize_row(type, q.data(), yq.data(), 4096)) return 1e9;
            double e = 0;
            for (size_t i = 0; i < 4096; ++i)
                e = std::max(e, static_cast<double>(std::fabs(x[i] - yq[i])));
            return e;
        };
        const double e51 = err(W_Q5_1, sizeof(BlockQ5_1), 32, quantize_row_q5_1_ref);
        const double ek5 = err(W_Q5_K, sizeof(BlockQ5_K), 256, quantize_row_q5_k_ref);
        const double enl = err(W_IQ4_NL, sizeof(BlockIQ4_NL), 32, quantize_row_iq4_nl_ref);
        const double exs = err(W_IQ4_XS, sizeof(BlockIQ4_XS), 256, quantize_row_iq4_xs_ref);
        QVERIFY2(e51 < 0.15 && ek5 < 0.25 && ek5 < ek4 && enl < 0.4 && exs < 0.5,
                 qPrintable(QString("q5_1 %1 q5_k %2 iq4_nl %3 iq4_xs %4")
                                .arg(e51)
                                .arg(ek5)
                                .arg(enl)
                                .arg(exs)));
    }

    // Hand-made blocks with known values: the layouts as GGUF defines them.
    void dequantizeKnownBlocks() {
        // MXFP4: E8M0 exponent 128 (scale 2), codes 0..15 = E2M1 values
        // 0, .5, 1, 1.5, 2, 3, 4, 6 and their negatives.
        BlockMXFP4 mx{};
        mx.e = 128;
        for (int j = 0; j < 16; ++j) mx.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
        float y[32];
        QVERIFY(dequantize_row(W_MXFP4, &mx, y, 32));
        const float e2m1[16] = {0, .5f, 1, 1.5f, 2, 3, 4, 6, 0, -.5f, -1, -1.5f, -2, -3, -4, -6};
        for (int j = 0; j < 16; ++j) {
            QCOMPARE(y[j], 2 * e2m1[j]);
            QCOMPARE(y[j + 16], 2 * e2m1[15 - j]);
        }
        mx.e = 0;  // 2^-127: subnormal scales are exact too
        QVERIFY(dequantize_row(W_MXFP4, &mx, y, 32));
        QCOMPARE(y[1], std::ldexp(0.5f, -127));
        mx.e = 254;
        QVERIFY(dequantize_row(W_MXFP4, &mx, y, 32));
        QCOMPARE(y[7], std::ldexp(6.0f, 127));
        // IQ4_NL: d = 0.5, code j -> 0.5 * grid[j].
        BlockIQ4_NL nl{};
        nl.d = fp32_to_fp16(0.5f);
        for (int j = 0; j < 16; ++j) nl.qs[j] = static_cast<uint8_t>(j | (j << 4));
        QVERIFY(dequantize_row(W_IQ4_NL, &nl, y, 32));
        QCOMPARE(y[0], -63.5f);
        QCOMPARE(y[15], 56.5f);
        QCOMPARE(y[16 + 8], 0.5f);
        // IQ4_XS: sub-block 5 with 6-bit scale 45 (45 - 32 = 13): low nibble 13
        // in the high half of scales_l[2], high bits 2 at bits 10..11 of scales_h.
        BlockIQ4_XS xs{};
        xs.d = fp32_to_fp16(1.0f);
        xs.scales_l[2] = 0xD0;
        xs.scales_h = 2 << 10;
        std::memset(xs.qs, 0x98, sizeof xs.qs);  // codes 8 (value 1) low, 9 (13) high
        std::vector<float> z(256);
        QVERIFY(dequantize_row(W_IQ4_XS, &xs, z.data(), 256));
        QCOMPARE(z[160], 13.0f);
        QCOMPARE(z[160 + 16], 13.0f * 13);
        QCOMPARE(z[0], -32.0f);  // scale 0 - 32
        // Q3_K: value 128n + 32j + l takes bits 2j of qs[32n + l] and bit
        // 4n + j of hmask[l]; group g's scale has 4 low bits in scales[g % 8]
        // (high nibble for g >= 8) and 2 high bits at scales[8 + g % 4] >> 2(g / 4).
        BlockQ3_K k3{};
        k3.d = fp32_to_fp16(1.0f);
        for (int g = 0; g < 16; ++g) {  // scale of group g: g + 1 (stored + 32)
            const int v = g + 33;
            k3.scales[g % 8] =
                static_cast<uint8_t>(k3.scales[g % 8] | ((v & 0xF) << (g >= 8 ? 4 : 0)));
            k3.scales[8 + g % 4] =
                static_cast<uint8_t>(k3.scales[8 + g % 4] | ((v >> 4) << (2 * (g / 4))));
        }
        k3.qs[32 + 5] = 2 << 4;  // value 128 + 64 + 5: low bits 2 (j = 2)
        k3.hmask[5] = 1 << 6;    // its high bit (4 * 1 + 2): q = 2, not 2 - 4
        QVERIFY(dequantize_row(W_Q3_K, &k3, z.data(), 256));
        QCOMPARE(z[197], 13.0f * 2);  // group 12
        QCOMPARE(z[0], 1.0f * -4);    // group 0, q 0 without high bit
        QCOMPARE(z[255], 16.0f * -4);
        // Q5_K: value 32s + l has the fifth bit s of qh[l].
        BlockQ5_K k5{};
        k5.d = fp32_to_fp16(1.0f);
        k5.dmin = fp32_to_fp16(0.0f);
        for (int j = 0; j < 4; ++j) k5.scales[j] = 1;  // sub-blocks 0..3 scale 1
        k5.qs[32 + 3] = 0x70;                          // value 96 + 3: nibble 7 (sub-block 3)
        k5.qh[3] = 1 << 3;
        QVERIFY(dequantize_row(W_Q5_K, &k5, z.data(), 256));
        QCOMPARE(z[99], 23.0f);
        // Q2_K: group g's scale in the low nibble of scales[g], min in the high.
        BlockQ2_K k2{};
        k2.d = fp32_to_fp16(1.0f);
        k2.dmin = fp32_to_fp16(0.5f);
        k2.scales[9] = 0x23;      // group 9 (values 144..159): scale 3, min 2
        k2.qs[32 + 16] = 3 << 2;  // value 128 + 32 * 1 + 16 (bits 2 * 1): q 3
        QVERIFY(dequantize_row(W_Q2_K, &k2, z.data(), 256));
        QCOMPARE(z[150], -1.0f);  // q 0: -0.5 * 2
        k2.scales[11] = 0x05;     // group 11 (176..191): scale 5
        QVERIFY(dequantize_row(W_Q2_K, &k2, z.data(), 256));
        QCOMPARE(z[176], 15.0f);
    }

    void fp16Conversions() {
        for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.33325195f})
            QCOMPARE(fp16_to_fp32(fp32_to_fp16(f)), f);
        QCOMPARE(fp32_to_fp16(1e6f), uint16_t(0x7C00));
        QCOMPARE(fp16_to_fp32(fp32_to_fp16(1.0f + 1.0f / 4096)), 1.0f);  // ties to even
        for (uint32_t h = 0; h < 0x7C00; h += 7)
            QCOMPARE(fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h))), uint16_t(h));
        QCOMPARE(bf16_to_fp32(fp32_to_bf16(3.140625f)), 3.140625f);
    }
};

QTEST_APPLESS_MAIN(TestKernels)
#include "tst_kernels.moc"
