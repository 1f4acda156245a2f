// The logit lens on real GGUF files: its last layer's row is the model's own
// next-token distribution (computed here independently, by a plain eval on a
// second sequence), its shape is n_layers x k, and bad requests are refused
// with one clear message.
#include <QtTest>
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "reasonscope/error.h"
#include "reasonscope/logit_lens.h"
#include "reasonscope/model.h"
#include "reasonscope/session.h"
#include "test_paths.h"

using namespace rs;

namespace {

const char* kBundled = RS_SOURCE_DIR "/resources/models/reasoner.gguf";

// (id, probability) of the k most likely tokens of softmax(logits), ties to the lowest id.
std::vector<std::pair<TokenId, double>> top_k(const float* logits, int n, int k) {
    double mx = logits[0];
    for (int i = 1; i < n; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
    double z = 0;
    for (int i = 0; i < n; ++i) z += std::exp(logits[i] - mx);
    std::vector<int> ids(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = i;
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int a, int b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    std::vector<std::pair<TokenId, double>> out;
    for (int i = 0; i < k; ++i) {
        const int id = ids[static_cast<size_t>(i)];
        out.emplace_back(id, std::exp(logits[id] - mx) / z);
    }
    return out;
}

// The lens's last layer against the model's distribution: the same
// probabilities to float tolerance, the same ids except where two
// neighbours are a near-tie (their order may differ by rounding).
void compare_last_layer(const LogitLensLayer& got,
                        const std::vector<std::pair<TokenId, double>>& want, double tol) {
    QCOMPARE(got.top.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        QVERIFY2(std::fabs(got.top[i].second - want[i].second) <= tol,
                 qPrintable(QString("rank %1: lens p=%2, model p=%3")
                                .arg(i)
                                .arg(got.top[i].second)
                                .arg(want[i].second)));
        const bool near_tie = (i > 0 && want[i - 1].second - want[i].second <= tol) ||
                              (i + 1 < want.size() && want[i].second - want[i + 1].second <= tol);
        if (!near_tie)
            QVERIFY2(got.top[i].first == want[i].first,
                     qPrintable(QString("rank %1: lens id %2, model id %3")
                                    .arg(i)
                                    .arg(got.top[i].first)
                                    .arg(want[i].first)));
    }
}

}  // namespace

class TestLogitLens : public QObject {
    Q_OBJECT
  private slots:
    void lastLayerIsTheModelsDistribution_data() {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("prompt");
        QTest::newRow("bundled") << QString(kBundled)
                                 << QString("Q: 13+7*4\n");  // next: '4' or '7', unsure
        // Real trained weights (F32), then the reference architectures and
        // quantizations: llama (untied output, K-quants), qwen3 (tied output),
        // gemma3 (its norms as 1 + w, embeddings scaled).
        for (const char* f : {"stories260K", "mini-llama-Q4_K_M", "mini-llama-Q8_0",
                              "mini-qwen3-f16", "mini-gemma3-f16", "mini-qwen3moe-f16"})
            QTest::newRow(f) << rs::test::reference(QString("models/%1.gguf").arg(f))
                             << QString("Once upon a time, there was a little");
    }
    void lastLayerIsTheModelsDistribution() {
        QFETCH(QString, path);
        QFETCH(QString, prompt);
        if (!path.startsWith(RS_SOURCE_DIR)) RS_REQUIRE_REFERENCE();
        auto model = Model::load(path.toStdString());
        const int L = model->config().n_layers, V = model->config().n_vocab, k = 10;
        const std::vector<TokenId> tokens =
            model->tokenizer().encode(prompt.toStdString(), true, false);
        QVERIFY(tokens.size() > 4);
        SessionOptions so;
        so.threads = 2;
        so.n_ctx = 256;
        Session s(*model, so);

        // The next token after the whole prompt.
        const int n = static_cast<int>(tokens.size());
        const LogitLens lens = logit_lens(s, tokens, n, k);
        QCOMPARE(lens.position, n);
        QCOMPARE(lens.target, -1);
        QCOMPARE(static_cast<int>(lens.layers.size()), L);
        for (int l = 0; l < L; ++l) {
            const LogitLensLayer& row = lens.layers[static_cast<size_t>(l)];
            QCOMPARE(row.layer, l);
            QCOMPARE(static_cast<int>(row.top.size()), k);
            double sum = 0;
            for (size_t i = 0; i < row.top.size(); ++i) {
                QVERIFY(row.top[i].first >= 0 && row.top[i].first < V);
                QVERIFY(row.top[i].second >= 0 && row.top[i].second <= 1);
                if (i > 0) QVERIFY(row.top[i].second <= row.top[i - 1].second);
                sum += row.top[i].second;
            }
            QVERIFY(sum <= 1.0 + 1e-5);
            QVERIFY(row.entropy >= 0 && row.entropy <= std::log(double(V)) + 1e-4);
            QCOMPARE(row.target_rank, -1);
        }
        // The model's own distribution after the same prefix: a plain eval
        // of the prompt (one batch) on a second sequence.
        const int seq = s.create();
        const std::vector<float> logits = s.eval(seq, tokens);
        s.release(seq);
        compare_last_layer(lens.layers.back(), top_k(logits.data(), V, k), 1e-4);
        // The whole distribution, not only its top: the same entropy.
        double mx = logits[0], z = 0, ez = 0;
        for (float x : logits) mx = std::max(mx, double(x));
        for (float x : logits) {
            z += std::exp(x - mx);
            ez += (x - mx) * std::exp(x - mx);
        }
        const double entropy = std::log(z) - ez / z;
        QVERIFY2(
            std::fabs(lens.layers.back().entropy - entropy) < 1e-3,
            qPrintable(QString("lens %1, model %2").arg(lens.layers.back().entropy).arg(entropy)));
        // Not every layer says the same (the lens is not one row repeated)
        // where there is more than one layer to compare.
        if (L > 1) {
            bool differ = false;
            for (int l = 0; l + 1 < L; ++l)
                differ |= std::fabs(lens.layers[static_cast<size_t>(l)].entropy -
                                    lens.layers.back().entropy) > 1e-3;
            QVERIFY(differ);
        }

        // Inside the prompt: position p predicts tokens[p] from the tokens
        // before it; the last layer's probability of that token is the
        // model's (row p - 1 of a teacher-forced eval).
        const int p = n - 2;
        const LogitLens mid = logit_lens(s, tokens, p, 3);
        QCOMPARE(mid.target, tokens[static_cast<size_t>(p)]);
        const int seq2 = s.create();
        const std::vector<float> rows = s.eval(seq2, tokens, true);
        s.release(seq2);
        const float* row = rows.data() + static_cast<size_t>(p - 1) * static_cast<size_t>(V);
        const auto all = top_k(row, V, V);
        int want_rank = 0;
        while (all[static_cast<size_t>(want_rank)].first != mid.target) ++want_rank;
        QVERIFY(std::fabs(mid.layers.back().target_prob -
                          all[static_cast<size_t>(want_rank)].second) < 1e-4);
        if (want_rank > 0 && want_rank + 1 < V &&
            all[static_cast<size_t>(want_rank - 1)].second -
                    all[static_cast<size_t>(want_rank)].second >
                1e-4 &&
            all[static_cast<size_t>(want_rank)].second -
                    all[static_cast<size_t>(want_rank + 1)].second >
                1e-4)
            QCOMPARE(mid.layers.back().target_rank, want_rank);
        compare_last_layer(mid.layers.back(), top_k(row, V, 3), 1e-4);
        // The scratch sequences are gone: the cache holds nothing.
        QCOMPARE(s.kv().stats().sequences, 0);
        QCOMPARE(s.kv().stats().blocks_used, 0);
    }

    void badRequestsAreRefused() {
        auto model = Model::load(kBundled);
        SessionOptions so;
        so.threads = 2;
        so.n_ctx = 64;
        Session s(*model, so);
        const std::vector<TokenId> tokens = model->tokenizer().encode("Q: 1 + 1 = ?", true, false);
        const int n = static_cast<int>(tokens.size());
        auto refused = [&](std::span<const TokenId> t, int position, int k, const char* what) {
            try {
                logit_lens(s, t, position, k);
            } catch (const Error& e) {
                const QString msg = e.what();
                QVERIFY2(msg.startsWith("logit lens: ") && msg.contains(what), qPrintable(msg));
                return;
            }
            QFAIL(qPrintable(QString("position %1, k %2 was accepted").arg(position).arg(k)));
        };
        refused(tokens, 0, 5, "position 0 is outside 1..");
        refused(tokens, n + 1, 5, "is outside 1..");
        refused(tokens, -3, 5, "is outside");
        refused(tokens, n, 0, "top-k must be at least 1");
        refused({}, 1, 5, "no tokens");
        const std::vector<TokenId> too_long(100, tokens[1]);
        refused(too_long, 100, 5, "does not fit the context of 64");
        // A k beyond the vocabulary is the whole vocabulary; the session
        // still works after the refusals.
        const LogitLens all = logit_lens(s, tokens, n, 1 << 20);
        QCOMPARE(static_cast<int>(all.layers.back().top.size()), model->config().n_vocab);
        double sum = 0;
        for (const auto& [id, p] : all.layers.back().top) sum += p;
        QVERIFY(std::fabs(sum - 1.0) < 1e-4);
    }
};

QTEST_GUILESS_MAIN(TestLogitLens)
#include "tst_logit_lens.moc"
