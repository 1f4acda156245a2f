// Samplers and signals on tiny hand-written distributions.
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <random>

#include "cpu/expf_data.h"
#include "cuda/draw.h"
#include "reasonscope/device_draw.h"
#include "reasonscope/error.h"
#include "reasonscope/sampling.h"

using namespace rs;

namespace {
Candidates make(std::vector<float> logits) {
    Candidates c;
    for (size_t i = 0; i < logits.size(); ++i)
        c.items.push_back({static_cast<TokenId>(i), logits[i]});
    return c;
}
std::vector<TokenId> ids(const Candidates& c) {
    std::vector<TokenId> v;
    for (const auto& x : c.items) v.push_back(x.id);
    return v;
}
}  // namespace

class TestSampling : public QObject {
    Q_OBJECT
  private slots:
    void entropyOfUniformAndPeaked() {
        float uni[4] = {0, 0, 0, 0};
        TokenSignals s;
        s.token = 2;
        distribution_signals(uni, 4, 1.0f, 2, s);
        QVERIFY(std::fabs(s.entropy - std::log(4.0f)) < 1e-6);
        QVERIFY(std::fabs(s.varentropy) < 1e-6);
        QVERIFY(std::fabs(s.logprob - std::log(0.25f)) < 1e-6);
        QCOMPARE(s.top.size(), size_t(2));
        QCOMPARE(s.top[0].first, 0);  // ties: lowest id first
        // p = (1/2, 1/4, 1/8, 1/8): H = 1.75 bits; varentropy by hand in nats^2.
        float lg[4] = {std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.125f)};
        distribution_signals(lg, 4, 1.0f, 4, s);
        const double ln2 = std::log(2.0);
        QVERIFY(std::fabs(s.entropy - 1.75 * ln2) < 1e-5);
        // E[(log2 p)^2] = .5*1 + .25*4 + .25*9 = 3.75; minus 1.75^2 = 0.6875 bits^2
        QVERIFY(std::fabs(s.varentropy - 0.6875 * ln2 * ln2) < 1e-5);
        QCOMPARE(s.top[0].first, 0);
        QCOMPARE(s.top[1].first, 1);
        // Temperature 2 flattens: entropy rises.
        TokenSignals hot;
        distribution_signals(lg, 4, 2.0f, 0, hot);
        QVERIFY(hot.entropy > s.entropy);
    }

    void stages() {
        auto c = make({1.0f, 3.0f, 2.0f, 0.0f});
        make_top_k(2)->apply(c, {});
        QCOMPARE(ids(c), (std::vector<TokenId>{1, 2}));
        // top-p: probs of (3,2,1,0) are .644 .237 .087 .032
        c = make({1.0f, 3.0f, 2.0f, 0.0f});
        make_top_p(0.85f)->apply(c, {});
        QCOMPARE(ids(c), (std::vector<TokenId>{1, 2}));
        c = make({1.0f, 3.0f, 2.0f, 0.0f});
        make_top_p(0.5f)->apply(c, {});
        QCOMPARE(ids(c), (std::vector<TokenId>{1}));
        // min-p 0.3: keep p >= 0.3 * p_max, i.e. logit >= 3 + ln .3 = 1.796
        c = make({1.0f, 3.0f, 2.0f, 0.0f});
        make_min_p(0.3f)->apply(c, {});
        QCOMPARE(ids(c), (std::vector<TokenId>{1, 2}));
        c = make({2.0f, -2.0f, 1.0f, 0.5f});
        std::vector<TokenId> hist = {0, 1};
        make_repetition_penalty(2.0f, 64)->apply(c, hist);
        QCOMPARE(c.items[0].logit, 1.0f);
        QCOMPARE(c.items[1].logit, -4.0f);
        QCOMPARE(c.items[2].logit, 1.0f);
        c = make({2.0f, 4.0f});
        make_temperature(2.0f)->apply(c, {});
        QCOMPARE(c.items[1].logit, 2.0f);
    }

    // Candidates::sort (radix passes for large id-ordered lists) gives the
    // comparison sort's order: logit descending, ties by id, -0 equal to +0,
    // for lists with many ties, both signs, wide magnitudes, and out of id order.
    void sortMatchesComparisonSort() {
        std::mt19937 rng(7);
        for (int n : {1, 5, 511, 512, 3000, 152064}) {
            for (int variant = 0; variant < 3; ++variant) {
                Candidates c;
                for (int i = 0; i < n; ++i) {
                    float v;
                    if (variant == 0)
                        v = std::normal_distribution<float>(0.0f, 4.0f)(rng);
                    else if (variant == 1)
                        v = static_cast<float>(static_cast<int>(rng() % 7) - 3) * 0.5f;  // ties
                    else
                        v = (rng() % 2 ? -1.0f : 1.0f) *
                            std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f,
                                       static_cast<int>(rng() % 60) - 30);
                    if (variant == 1 && i % 11 == 0) v = (i % 22 == 0) ? -0.0f : 0.0f;
                    c.items.push_back({i, v});
                }
                if (variant == 2 && n > 1) std::swap(c.items.front(), c.items.back());
                auto want = c.items;
                std::stable_sort(
                    want.begin(), want.end(), [](const Candidate& a, const Candidate& b) {
                        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
                    });
                c.sort();
                QVERIFY(c.sorted);
                QCOMPARE(c.items.size(), want.size());
                for (size_t i = 0; i < want.size(); ++i)
                    if (c.items[i].id != want[i].id)
                        QFAIL(qPrintable(QString("n %1 variant %2: position %3 has id %4, want %5")
                                             .arg(n)
                                             .arg(variant)
                                             .arg(i)
                                             .arg(c.items[i].id)
                                             .arg(want[i].id)));
            }
        }
    }

    void counterRngIsStatelessAndUniform() {
        QCOMPARE(counter_uniform(1, 2, 3), counter_uniform(1, 2, 3));
        QVERIFY(counter_uniform(1, 2, 3) != counter_uniform(1, 3, 3));
        double sum = 0;
        for (int i = 0; i < 100000; ++i) sum += counter_uniform(7, 0, static_cast<uint64_t>(i));
        QVERIFY(std::fabs(sum / 100000 - 0.5) < 0.01);
    }

    void samplingFrequenciesAndDeterminism() {
        float lg[4] = {std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.125f)};
        SamplingParams p;
        p.temperature = 1.0f;
        p.top_p = 1.0f;
        p.seed = 11;
        Sampler s(p);
        int counts[4] = {};
        for (int i = 0; i < 20000; ++i)
            counts[s.sample(lg, 4, {}, 3, static_cast<uint64_t>(i)).token]++;
        QVERIFY(std::abs(counts[0] - 10000) < 400);
        QVERIFY(std::abs(counts[1] - 5000) < 300);
        QVERIFY(std::abs(counts[3] - 2500) < 250);
        // Same (seed, stream, position): same token, whatever was sampled before.
        TokenId a = s.sample(lg, 4, {}, 9, 5).token;
        for (int i = 0; i < 10; ++i) s.sample(lg, 4, {}, static_cast<uint64_t>(i), 5);
        QCOMPARE(s.sample(lg, 4, {}, 9, 5).token, a);
        SamplingParams g;
        g.temperature = 0;
        QCOMPARE(Sampler(g).sample(lg, 4, {}, 0, 0).token, 0);
    }

    // On vocabularies of Qwen2.5's size, flat and peaked, with ties and -inf,
    // the draw is the inverse CDF over the whole vocabulary sorted by logit
    // (ties by id): a reference that sorts everything and sums in order picks
    // the same token, except within rounding of an interval's edge.
    void drawIsTheSortedInverseCdf() {
        std::mt19937 rng(5);
        const int V = 151936;
        for (int variant = 0; variant < 4; ++variant) {
            std::vector<float> lg(static_cast<size_t>(V));
            for (int i = 0; i < V; ++i) {
                float v = std::normal_distribution<float>(0.0f, variant == 0 ? 0.5f : 3.0f)(rng);
                if (variant == 2) v = std::round(v);  // many ties
                lg[static_cast<size_t>(i)] = v;
            }
            if (variant == 3) {  // peaked, with impossible tokens
                for (int i = 0; i < 30; ++i) lg[rng() % V] += 18.0f;
                for (int i = 0; i < 1000; ++i) lg[rng() % V] = -INFINITY;
            }
            SamplingParams p;
            p.temperature = 0.7f;
            p.n_alternatives = 0;
            p.seed = 3;
            const Sampler s(p);
            // The reference: every token sorted, weights summed in that order.
            std::vector<int> order(static_cast<size_t>(V));
            std::vector<double> w(static_cast<size_t>(V));
            float mx = -INFINITY;
            std::vector<float> z(static_cast<size_t>(V));
            for (int i = 0; i < V; ++i) mx = std::max(mx, z[i] = lg[i] / p.temperature);
            for (int i = 0; i < V; ++i) {
                order[static_cast<size_t>(i)] = i;
                w[static_cast<size_t>(i)] = std::exp(z[i] - mx);
            }
            std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return z[a] > z[b]; });
            double total = 0;
            for (double x : w) total += x;
            int checked = 0;
            for (uint64_t pos = 0; pos < 300; ++pos) {
                const double target = counter_uniform(p.seed, 1, pos) * total;
                double acc = 0;
                int want = order.back();
                bool edge = false;
                for (int id : order) {
                    acc += w[static_cast<size_t>(id)];
                    if (std::fabs(acc - target) < 1e-9 * total) edge = true;
                    if (target < acc) {
                        want = id;
                        break;
                    }
                }
                if (edge) continue;
                ++checked;
                const TokenId got = s.sample(lg.data(), V, {}, 1, pos).token;
                if (got != want)
                    QFAIL(qPrintable(QString("variant %1 position %2: drew %3, the sorted inverse "
                                             "CDF gives %4")
                                         .arg(variant)
                                         .arg(pos)
                                         .arg(got)
                                         .arg(want)));
            }
            QVERIFY(checked > 290);
        }
    }

    // Top-k, top-p, min-p and the repetition penalty keep a prefix of the
    // sampling order and draw from it: on flat and peaked 152k vocabularies a
    // reference that sorts everything and applies the stages in order (as the
    // stage objects define them) picks the same token, except within
    // rounding of an edge (the top-p cut or the draw's interval).
    void cutsAreTheSortedReference() {
        std::mt19937 rng(9);
        const int V = 151936;
        struct Setting {
            int top_k;
            float top_p, min_p, penalty;
        };
        const Setting settings[] = {{40, 1.0f, 0.0f, 1.0f}, {0, 0.95f, 0.0f, 1.0f},
                                    {0, 1.0f, 0.05f, 1.0f}, {40, 0.95f, 0.05f, 1.0f},
                                    {0, 0.9f, 0.0f, 1.3f},  {1000, 0.5f, 0.0f, 1.0f},
                                    {0, 1.0f, 0.0f, 1.3f},  {3, 1.0f, 0.05f, 1.0f}};
        std::vector<TokenId> history;
        for (int i = 0; i < 64; ++i) history.push_back(static_cast<TokenId>(rng() % 200));
        int settings_checked = 0, top_p_checked = 0;
        for (int variant = 0; variant < 2; ++variant) {
            std::vector<float> lg(static_cast<size_t>(V));
            for (auto& v : lg) v = std::normal_distribution<float>(0.0f, 2.0f)(rng);
            if (variant == 1)  // peaked, the history's tokens among the likely ones
                for (int i = 0; i < 40; ++i) lg[static_cast<size_t>(i * 5)] += 14.0f;
            for (const Setting& st : settings) {
                SamplingParams p;
                p.temperature = 0.8f;
                p.top_k = st.top_k;
                p.top_p = st.top_p;
                p.min_p = st.min_p;
                p.repeat_penalty = st.penalty;
                p.n_alternatives = 0;
                p.seed = 4;
                const Sampler s(p);
                // The reference: the stage objects on the whole list, sorted.
                auto c = make(lg);
                make_repetition_penalty(p.repeat_penalty, p.repeat_last_n)->apply(c, history);
                make_top_k(p.top_k)->apply(c, history);
                make_temperature(p.temperature)->apply(c, history);
                c.sort();
                // top-p, with the edge noted
                bool edge = false;
                if (p.top_p < 1.0f) {
                    const double mx = c.items.front().logit;
                    double total = 0, cum = 0;
                    for (const auto& x : c.items) total += std::exp(x.logit - mx);
                    size_t keep = c.items.size();
                    for (size_t i = 0; i < c.items.size(); ++i) {
                        cum += std::exp(c.items[i].logit - mx) / total;
                        if (std::fabs(cum - p.top_p) < 1e-6) edge = true;
                        if (cum >= p.top_p) {
                            keep = i + 1;
                            break;
                        }
                    }
                    c.items.resize(keep);
                }
                // A cut within rounding (a flat distribution's 0.95 falls
                // between tokens of 1e-5 each): the kept sets may differ by
                // a token, and every draw's interval shifts with the total.
                if (edge) continue;
                make_min_p(p.min_p)->apply(c, history);
                const double mx = c.items.front().logit;
                double total = 0;
                for (const auto& x : c.items) total += std::exp(x.logit - mx);
                int checked = 0;
                for (uint64_t pos = 0; pos < 60; ++pos) {
                    const double target = counter_uniform(p.seed, 2, pos) * total;
                    double acc = 0;
                    TokenId want = c.items.back().id;
                    bool near = false;
                    for (const auto& x : c.items) {
                        acc += std::exp(x.logit - mx);
                        if (std::fabs(acc - target) < 1e-6 * total) near = true;
                        if (target < acc) {
                            want = x.id;
                            break;
                        }
                    }
                    if (near) continue;
                    ++checked;
                    const TokenId got = s.sample(lg.data(), V, history, 2, pos).token;
                    if (got != want)
                        QFAIL(qPrintable(QString("variant %1, top-k %2 top-p %3 min-p %4 penalty "
                                                 "%5, position %6: drew %7, the reference %8")
                                             .arg(variant)
                                             .arg(st.top_k)
                                             .arg(st.top_p)
                                             .arg(st.min_p)
                                             .arg(st.penalty)
                                             .arg(pos)
                                             .arg(got)
                                             .arg(want)));
                }
                QVERIFY(checked > 50);
                ++settings_checked;
                top_p_checked += p.top_p < 1.0f;
            }
        }
        QVERIFY(settings_checked >= 13);
        QVERIFY(top_p_checked >= 3);
    }

    // A temperature too small to divide by (1e-40 is a float subnormal:
    // every logit / T is infinite) samples greedily, with finite signals.
    void tinyTemperatureIsGreedy() {
        float lg[4] = {1.0f, 3.0f, 2.0f, -1.0f};
        for (float t : {1e-40f, 1e-30f, 1e-7f}) {
            SamplingParams p;
            p.temperature = t;
            p.top_p = 0.9f;
            p.min_p = 0.05f;
            const Sampler s(p);
            for (uint64_t pos = 0; pos < 50; ++pos) {
                const TokenSignals sig = s.sample(lg, 4, {}, 1, pos);
                QCOMPARE(sig.token, 1);
                QVERIFY(std::isfinite(sig.logprob) && std::isfinite(sig.entropy));
                QVERIFY(sig.entropy > 0.1f);  // the raw distribution's, as for greedy
            }
        }
    }

    // Logits holding a NaN or +inf give token -1 (nothing to sample from),
    // greedy or not, wherever it sits; -inf is an impossible token, and
    // greedy picks the first of equal maxima.
    void logitsThatAreNotNumbersGiveNoToken() {
        std::mt19937 g(5);
        std::normal_distribution<float> nd(0.0f, 2.0f);
        std::vector<float> lg(1003);
        for (float& x : lg) x = nd(g);
        for (float t : {0.0f, 1.0f, 0.8f})
            for (float bad : {NAN, INFINITY})
                for (size_t at : {size_t{0}, size_t{500}, lg.size() - 1}) {
                    SamplingParams p;
                    p.temperature = t;
                    std::vector<float> y(lg);
                    y[at] = bad;
                    QCOMPARE(
                        Sampler(p).sample(y.data(), static_cast<int>(y.size()), {}, 1, 0).token,
                        -1);
                    QVERIFY(!logits_are_numbers(y.data(), static_cast<int>(y.size())));
                }
        QVERIFY(logits_are_numbers(lg.data(), static_cast<int>(lg.size())));
        std::vector<float> y(lg);
        y[3] = -INFINITY;
        const float top = *std::max_element(y.begin(), y.end()) + 1.0f;
        y[700] = top;
        y[900] = top;
        SamplingParams p;
        p.temperature = 0;
        QCOMPARE(Sampler(p).sample(y.data(), static_cast<int>(y.size()), {}, 1, 0).token, 700);
        p.temperature = 1;
        for (uint64_t pos = 0; pos < 200; ++pos)
            QVERIFY(Sampler(p).sample(y.data(), static_cast<int>(y.size()), {}, 1, pos).token != 3);
    }

    // The backend's draw (kernels/cuda/draw.h), run on the host as the
    // device runs it, gives Sampler::sample's token and alternatives and its
    // signals (to the last bits: other sums' orders) for flat and peaked
    // rows, ties, impossible tokens, greedy and temperatures, top-k, top-p,
    // min-p and their combinations; a NaN or +inf is reported, a row with
    // every token impossible left to the host.
    void backendDrawEqualsTheSampler() {
        // The device's exponential is the C library's, bit for bit.
        std::mt19937 g(11);
        std::uniform_real_distribution<float> ux(-110.0f, 90.0f);
        for (int i = 0; i < 200000; ++i) {
            const float x = i < 100000 ? ux(g) : -static_cast<float>(i - 100000) * 1e-4f;
            const float want = std::exp(x), got = draw::expf_libm(x, kernels::kExp2fTab);
            QVERIFY2(std::memcmp(&want, &got, 4) == 0, qPrintable(QString::number(x, 'g', 9)));
        }
        int draws = 0, cut_rows = 0;
        for (int V : {1000, 40009})
            for (int shape = 0; shape < 4; ++shape) {
                std::normal_distribution<float> nd(0.0f, shape == 1 ? 6.0f : 1.5f);
                std::vector<float> lg(static_cast<size_t>(V));
                for (float& x : lg) x = nd(g);
                if (shape == 2)  // ties: few distinct values
                    for (float& x : lg) x = std::round(x * 2.0f) / 2.0f;
                if (shape == 3) {  // impossible tokens, signed zeros
                    for (size_t i = 0; i < lg.size(); i += 3) lg[i] = -INFINITY;
                    lg[1] = 0.0f;
                    lg[2] = -0.0f;
                }
                struct P {
                    float t;
                    int k;
                    float p, min_p;
                    int alt;
                };
                const P ps[] = {{0, 0, 1, 0, 5},
                                {1, 0, 1, 0, 0},
                                {0.7f, 0, 1, 0, 1},
                                {0.7f, 40, 1, 0, 5},
                                {1, 0, 0.9f, 0, 64},
                                {0.8f, 0, 1, 0.05f, 5},
                                {1.3f, 50, 0.8f, 0.02f, 3},
                                {0.6f, 1, 1, 0, 2}};
                for (const P& pp : ps) {
                    SamplingParams sp;
                    sp.temperature = pp.t;
                    sp.top_k = pp.k;
                    sp.top_p = pp.p;
                    sp.min_p = pp.min_p;
                    sp.n_alternatives = pp.alt;
                    sp.seed = 5;
                    QVERIFY(draw_on_backend_possible(sp));
                    const Sampler sampler(sp);
                    for (uint64_t pos = 0; pos < (V > 1000 ? 2u : 12u); ++pos) {
                        const TokenSignals want = sampler.sample(lg.data(), V, {}, 7, pos);
                        draw::Spec spec;
                        draw_spec(sp, 7, pos, spec);
                        draw::Result res;
                        draw_on_host(lg.data(), V, spec, res);
                        QCOMPARE(res.status, int{draw::kDone});
                        const TokenSignals got = draw_signals(res, V);
                        const QByteArray where = "V " + QByteArray::number(V) + " shape " +
                                                 QByteArray::number(shape) + " t " +
                                                 QByteArray::number(pp.t) + " pos " +
                                                 QByteArray::number(static_cast<qulonglong>(pos));
                        QVERIFY2(got.token == want.token, where);
                        QVERIFY2(std::abs(got.logprob - want.logprob) <= 1e-5f, where);
                        QVERIFY2(std::isfinite(want.entropy) && std::isfinite(want.varentropy),
                                 where);
                        QVERIFY2(std::abs(got.entropy - want.entropy) <= 1e-5f, where);
                        QVERIFY2(std::abs(got.varentropy - want.varentropy) <= 1e-4f, where);
                        // (+inf where a token is impossible: KL(U || p))
                        QVERIFY2(got.self_certainty == want.self_certainty ||
                                     std::abs(got.self_certainty - want.self_certainty) <= 1e-4f,
                                 where);
                        QVERIFY2(got.top.size() == want.top.size(), where);
                        for (size_t a = 0; a < got.top.size(); ++a)
                            QVERIFY2(got.top[a].first == want.top[a].first &&
                                         std::abs(got.top[a].second - want.top[a].second) <= 1e-5f,
                                     where);
                        ++draws;
                        cut_rows += pp.k > 0 || pp.p < 1 || pp.min_p > 0;
                    }
                }
            }
        QVERIFY(draws > 300 && cut_rows > 150);
        // A NaN or +inf: nothing to sample; every token impossible: the host's.
        std::vector<float> y(100, 1.0f);
        draw::Spec spec;
        draw::Result res;
        draw_spec(SamplingParams{}, 1, 0, spec);
        y[37] = NAN;
        draw_on_host(y.data(), 100, spec, res);
        QCOMPARE(res.status, int{draw::kNotNumbers});
        y[37] = INFINITY;
        draw_on_host(y.data(), 100, spec, res);
        QCOMPARE(res.status, int{draw::kNotNumbers});
        std::fill(y.begin(), y.end(), -INFINITY);
        draw_on_host(y.data(), 100, spec, res);
        QCOMPARE(res.status, int{draw::kFallback});
        // What it cannot do is said.
        SamplingParams pen;
        pen.repeat_penalty = 1.1f;
        QVERIFY(!draw_on_backend_possible(pen));
        SamplingParams many;
        many.n_alternatives = draw::kMaxAlternatives + 1;
        QVERIFY(!draw_on_backend_possible(many));
    }

    void badParametersAreErrors() {
        SamplingParams p;
        p.top_p = 1.5f;
        try {
            Sampler s(p);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("top_p"));
        }
        p = {};
        p.temperature = -1;
        QVERIFY_THROWS_EXCEPTION(Error, Sampler{p});
    }
};

QTEST_APPLESS_MAIN(TestSampling)
#include "tst_sampling.moc"
