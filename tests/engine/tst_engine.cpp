// The CPU engine on the shared reference models: logits against llama.cpp's,
// greedy text, batched-versus-single decode, paged KV fork/copy-on-write,
// and the errors a user can cause.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cpu/fp16.h"
#include "cpu/kernels.h"
#include "gguf_copy.h"
#include "reasonscope/cpu_backend.h"
#include "reasonscope/error.h"
#include "reasonscope/generator.h"
#include "reasonscope/gguf.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/sampling.h"
#include "reasonscope/session.h"
#include "test_paths.h"

using namespace rs;

namespace {

std::string ref(const QString& rel) {
    return rs::test::reference(rel).toStdString();
}

// A tiny llama file (dim 32, one layer, 8 tokens, zero weights) with these
// integer hyperparameters changed or added, `extra` metadata, and a NaN in
// tensor `nan_in`; returns Model::load's error ("" when it loads).
QString tiny_llama_error(const QString& dir, const std::map<std::string, uint32_t>& ints,
                         const std::function<void(GgufWriter&)>& extra = {},
                         const std::string& nan_in = "") {
    std::map<std::string, uint32_t> hp = {{"context_length", 64},
                                          {"embedding_length", 32},
                                          {"block_count", 1},
                                          {"feed_forward_length", 32},
                                          {"attention.head_count", 1}};
    for (const auto& [k, v] : ints) hp[k] = v;
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    for (const auto& [k, v] : hp) w.add_u32("llama." + k, v);
    if (extra) extra(w);
    w.add_string("tokenizer.ggml.model", "llama");
    w.add_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b", "c", "d", "e"});
    w.add_f32_array("tokenizer.ggml.scores", std::vector<float>(8, 0.0f));
    w.add_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1, 1});
    const int64_t d = 32;
    auto t = [&](const std::string& name, std::vector<int64_t> dims) {
        int64_t n = 1;
        for (auto x : dims) n *= x;
        std::vector<float> v(static_cast<size_t>(n), 0.0f);
        if (name == nan_in) v[3] = std::nanf("");
        std::vector<uint8_t> bytes(v.size() * 4);
        std::memcpy(bytes.data(), v.data(), bytes.size());
        w.add_tensor(name, GgmlType::F32, dims, std::move(bytes));
    };
    t("token_embd.weight", {d, 8});
    t("output_norm.weight", {d});
    for (const char* n : {"attn_norm", "ffn_norm"}) t(std::string("blk.0.") + n + ".weight", {d});
    for (const char* n :
         {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"})
        t(std::string("blk.0.") + n + ".weight", {d, d});
    const std::string path = (dir + "/tiny.gguf").toStdString();
    w.write(path);
    try {
        Model::load(path);
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

struct Compare {
    size_t rows = 0, prompt = 0;
    int top1 = 0;
    double max_diff = 0, prompt_diff = 0, lse = 0;
    // The reference README's bar for K-quant/IQ/MXFP4 files (llama.cpp's own
    // spread): rows whose top-1 differs although the reference's margin is
    // above 0.25, and the maxima over rows not flagged as MoE routing
    // near-ties (route_gap_rel < 0.02), whose numbers are reported apart.
    int decisive_top1_misses = 0;
    double max_diff_unflagged = 0, lse_unflagged = 0;
    std::vector<int> flagged;  // rows with route_gap_rel < 0.02
    double max_diff_flagged = 0;
};

double lse_of(const float* x, int n) {
    double m = x[0], s = 0;
    for (int i = 1; i < n; ++i) m = std::max(m, static_cast<double>(x[i]));
    for (int i = 0; i < n; ++i) s += std::exp(x[i] - m);
    return m + std::log(s);
}

const char* const kBundled = RS_SOURCE_DIR "/resources/models/reasoner.gguf";

// The bundled model (F32) with its matrices re-encoded as `type` (F32, F16,
// Q8_0, Q5_0, Q4_0), written to dir: models of every engine path that a clone
// without ../shared can test. Metadata (tokenizer included) is copied.
std::string bundled_as(const QString& dir, GgmlType type) {
    auto f = GgufFile::open(kBundled);
    GgufWriter w;
    rs::test::copy_gguf_metadata(*f, w);
    for (const GgufTensor& t : f->tensors()) {
        const auto* x = reinterpret_cast<const float*>(t.data);
        const int64_t cols = t.dims[0], rows = t.n_elements() / cols;
        if (t.type != GgmlType::F32 || rows == 1 || type == GgmlType::F32) {
            w.add_tensor(t.name, t.type, t.dims, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
            continue;
        }
        const auto info = *type_info(static_cast<uint32_t>(type));
        const size_t row_bytes = static_cast<size_t>(cols / info.block_elems * info.block_bytes);
        std::vector<uint8_t> data(row_bytes * static_cast<size_t>(rows));
        for (int64_t r = 0; r < rows; ++r) {
            const float* src = x + r * cols;
            uint8_t* dst = data.data() + static_cast<size_t>(r) * row_bytes;
            if (type == GgmlType::F16)
                for (int64_t i = 0; i < cols; ++i) {
                    const uint16_t h = kernels::fp32_to_fp16(src[i]);
                    std::memcpy(dst + 2 * i, &h, 2);
                }
            else if (type == GgmlType::Q8_0)
                kernels::quantize_row_q8_0_ref(src, dst, cols);
            else if (type == GgmlType::Q5_0)
                kernels::quantize_row_q5_0_ref(src, dst, cols);
            else
                kernels::quantize_row_q4_0_ref(src, dst, cols);
        }
        w.add_tensor(t.name, type, t.dims, std::move(data));
    }
    const std::string path =
        (dir + "/reasoner-" + QString(type_name(type).data()) + ".gguf").toStdString();
    w.write(path);
    return path;
}

Compare compare_with_reference(const std::string& name) {
    auto model = Model::load(ref("models/" + QString::fromStdString(name) + ".gguf"));
    std::ifstream in(ref("logits/" + QString::fromStdString(name) + ".json"));
    auto j = nlohmann::json::parse(in);
    std::vector<TokenId> toks = j["prompt_tokens"].get<std::vector<TokenId>>();
    Compare c;
    c.prompt = toks.size();
    for (TokenId t : j["generated_tokens"].get<std::vector<TokenId>>()) toks.push_back(t);
    QFile lf(rs::test::reference("logits/" + QString::fromStdString(name) + ".logits.f32"));
    lf.open(QIODevice::ReadOnly);
    QByteArray bytes = lf.readAll();
    std::vector<float> w2(static_cast<size_t>(bytes.size()) / 4);
    std::memcpy(w2.data(), bytes.constData(), w2.size() * 4);
    const int V = model->config().n_vocab;
    SessionOptions so;
    so.threads = 2;
    so.kv_type = KvType::F16;  // llama.cpp's default cache, as in its references
    Session s(*model, so);
    int seq = s.create();
    auto got = s.eval(seq, std::span(toks.data(), c.prompt), true);
    c.rows = w2.size() / static_cast<size_t>(V);
    for (size_t i = c.prompt; i < c.rows; ++i) {
        auto r = s.eval(seq, std::span(toks.data() + i, 1));
        got.insert(got.end(), r.begin(), r.end());
    }
    for (size_t r = 0; r < c.rows; ++r) {
        const float* g = got.data() + r * V;
        const float* w = w2.data() + r * V;
        int ga = 0, wa = 0;
        double d = 0;
        for (int i = 0; i < V; ++i) {
            if (g[i] > g[ga]) ga = i;
            if (w[i] > w[wa]) wa = i;
            d = std::max(d, static_cast<double>(std::fabs(g[i] - w[i])));
        }
        const double lse = std::fabs(lse_of(g, V) - lse_of(w, V));
        c.top1 += ga == wa;
        c.max_diff = std::max(c.max_diff, d);
        if (r < c.prompt) c.prompt_diff = std::max(c.prompt_diff, d);
        c.lse = std::max(c.lse, lse);
        const auto& jr = j["rows"][r];
        // The reference's margin top1 - top2 (older files do not list it).
        float second = -INFINITY;
        for (int i = 0; i < V; ++i)
            if (i != wa) second = std::max(second, w[i]);
        if (ga != wa && w[wa] - second > 0.25) ++c.decisive_top1_misses;
        if (jr.value("route_gap_rel", 1.0) < 0.02) {
            c.flagged.push_back(static_cast<int>(r));
            c.max_diff_flagged = std::max(c.max_diff_flagged, d);
        } else {
            c.max_diff_unflagged = std::max(c.max_diff_unflagged, d);
            c.lse_unflagged = std::max(c.lse_unflagged, lse);
        }
    }
    return c;
}

}  // namespace

class TestEngine : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;  // the bundled model re-encoded (bundled_as)

    // The bundled model in every weight type the engine computes (no
    // ../shared needed), and reference models when present.
    void engineModels() {
        QTest::addColumn<QString>("model_path");
        QTest::newRow("bundled-F32") << QString(kBundled);
        for (GgmlType t : {GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0})
            QTest::newRow(qPrintable("bundled-" + QString(type_name(t).data())))
                << QString::fromStdString(bundled_as(tmp_.path(), t));
        // gemma3 and gpt-oss: sliding windows shorter than the shared prefix,
        // sinks, experts; qwen3moe: experts; phi3: fused matrices.
        if (rs::test::have_reference())
            for (const char* n : {"mini-llama-Q4_0", "mini-qwen2-f16", "mini-gemma3-f16",
                                  "mini-gptoss-f16", "mini-qwen3moe-f16", "mini-phi3-f16"})
                QTest::newRow(n) << rs::test::reference(QString("models/") + n + ".gguf");
    }

  private slots:
    void referenceLogits_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<double>("tol");
        QTest::addColumn<bool>("quantized");
        QTest::newRow("stories260K") << "stories260K" << 2e-3 << false;
        QTest::newRow("mini-llama-f16") << "mini-llama-f16" << 2e-2 << false;
        QTest::newRow("mini-qwen2-f16") << "mini-qwen2-f16" << 2e-2 << false;
        QTest::newRow("mini-llama-Q8_0") << "mini-llama-Q8_0" << 0.1 << true;
        QTest::newRow("mini-llama-Q4_0") << "mini-llama-Q4_0" << 0.1 << true;
        QTest::newRow("mini-llama-Q4_K_M") << "mini-llama-Q4_K_M" << 0.25 << true;
        QTest::newRow("mini-qwen2-Q8_0") << "mini-qwen2-Q8_0" << 0.1 << true;
        QTest::newRow("mini-qwen3-f16") << "mini-qwen3-f16" << 2e-2 << false;
        // smollm3: its NoPE layers (engine/model/smollm3.cpp)
        QTest::newRow("mini-smollm3-f16") << "mini-smollm3-f16" << 2e-2 << false;
        QTest::newRow("mini-phi3-f16") << "mini-phi3-f16" << 2e-2 << false;
        QTest::newRow("mini-gemma3-f16") << "mini-gemma3-f16" << 2e-2 << false;
        QTest::newRow("mini-qwen3moe-f16") << "mini-qwen3moe-f16" << 2e-2 << false;
        QTest::newRow("mini-gptoss-f16") << "mini-gptoss-f16" << 2e-2 << false;
        // K-quant and MXFP4 files: the README's bar (llama.cpp's own spread).
        QTest::newRow("mini-gemma3-Q4_K_M") << "mini-gemma3-Q4_K_M" << 0.25 << true;
        QTest::newRow("mini-gptoss-MXFP4") << "mini-gptoss-MXFP4" << 0.25 << true;
        for (const char* n : {"mini-qwen3-Q4_K_M", "mini-llama-Q2_K", "mini-llama-Q3_K_M",
                              "mini-llama-Q5_K_M", "mini-llama-IQ4_NL", "mini-llama-IQ4_XS"})
            QTest::newRow(n) << n << 0.25 << true;
    }
    void referenceLogits() {
        RS_REQUIRE_REFERENCE();
        QFETCH(QString, name);
        QFETCH(double, tol);
        QFETCH(bool, quantized);
        Compare c = compare_with_reference(name.toStdString());
        qInfo("%s: rows=%zu top1=%d prompt_diff=%.3g max_diff=%.3g lse=%.3g", qPrintable(name),
              c.rows, c.top1, c.prompt_diff, c.max_diff, c.lse);
        QVERIFY(c.rows > 40);
        QVERIFY(c.lse <= 0.1);
        if (!c.flagged.empty())
            qInfo("%s: %zu rows with route_gap_rel < 0.02, max diff on them %.3g", qPrintable(name),
                  c.flagged.size(), c.max_diff_flagged);
        if (tol == 0.25) {  // K-quant, IQ and MXFP4 files
            if (name == "mini-llama-Q4_K_M")
                // With llama.cpp's per-pair Q4_K accumulation the prompt rows
                // agree to ~1e-6; later rows amplify the first flipped
                // activation quant (row 7) to ~0.2 (docs/performance.md).
                QVERIFY2(c.prompt_diff <= 1e-4,
                         qPrintable(QString("prompt %1").arg(c.prompt_diff)));
            QCOMPARE(c.decisive_top1_misses, 0);
            QVERIFY2(c.max_diff_unflagged <= tol,
                     qPrintable(QString("max diff %1").arg(c.max_diff_unflagged)));
            QVERIFY2(c.lse_unflagged <= 0.02, qPrintable(QString("logsumexp %1").arg(c.lse)));
            return;
        }
        QCOMPARE(c.top1, static_cast<int>(c.rows));
        QVERIFY2(c.prompt_diff <= tol,
                 qPrintable(QString("prompt rows differ by %1").arg(c.prompt_diff)));
        if (quantized) {
            // Q8_0 and Q4_0 follow llama.cpp's arithmetic (activation scale
            // 127/amax, exact per-block integers, its summation orders): the
            // logits are its logits up to the Q6_K output layer's rounding.
            QVERIFY2(c.max_diff <= 1e-4, qPrintable(QString("max diff %1").arg(c.max_diff)));
        } else if (name.contains("f16")) {
            // Prompt rows in llama.cpp's tinyBLAS order, decode rows in its
            // vec_dot order: its logits to the bit.
            QCOMPARE(c.max_diff, 0.0);
        } else {
            // stories260K (F32): within the bar; a 1-2 ulp difference per row
            // remains and an F16 K/V rounding flips now and then.
            QVERIFY(c.max_diff <= tol);
        }
    }

    void storiesGreedyText() {
        RS_REQUIRE_REFERENCE();
        auto model = Model::load(ref("models/stories260K.gguf"));
        std::ifstream in(ref("logits/stories260K.json"));
        auto j = nlohmann::json::parse(in);
        const Tokenizer& tok = model->tokenizer();
        auto ids = tok.encode("Once upon a time", true);
        QCOMPARE(ids, j["prompt_tokens"].get<std::vector<TokenId>>());
        // With llama.cpp's default F16 cache and with ours (F32) alike.
        for (KvType kv : {KvType::F16, KvType::F32}) {
            SessionOptions so;
            so.kv_type = kv;
            Session s(*model, so);
            int seq = s.create();
            auto logits = s.eval(seq, ids);
            Sampler greedy(SamplingParams{0.0f});
            std::vector<TokenId> out;
            const size_t n = j["generated_tokens"].size();
            while (out.size() < n) {
                TokenSignals sig = greedy.sample(logits.data(), s.n_vocab(), out, 0, out.size());
                out.push_back(sig.token);
                logits = s.eval(seq, std::span(&sig.token, 1));
            }
            QCOMPARE(out, j["generated_tokens"].get<std::vector<TokenId>>());
            QCOMPARE(tok.decode(out), j["generated_text"].get<std::string>());
        }
    }

    void batchedDecodeIsBitExact_data() { engineModels(); }
    void batchedDecodeIsBitExact() {
        QFETCH(QString, model_path);
        auto model = Model::load(model_path.toStdString());
        const int V = model->config().n_vocab;
        auto tok = [&](int i) { return static_cast<TokenId>(3 + i % (V - 3)); };
        for (KvType kv : {KvType::F16, KvType::F32}) {
            SessionOptions so;
            so.kv_type = kv;
            so.threads = 2;
            Session s(*model, so);
            int root = s.create();
            // 45 tokens: the branches go through the first 32 positions
            // (two whole shared blocks) together, then each its own.
            std::vector<TokenId> prefix = {1};
            for (int i = 0; i < 44; ++i) prefix.push_back(tok(17 * i + 5));
            s.eval(root, prefix);
            std::vector<int> seqs;
            std::vector<TokenId> toks;
            for (int i = 0; i < 6; ++i) {
                seqs.push_back(s.fork(root));
                toks.push_back(tok(13 * i + 100));
            }
            // Extra tokens on some branches so lengths differ, and a branch
            // of a branch (a longer shared prefix).
            s.eval(seqs[1], std::vector<TokenId>{tok(5), tok(6)});
            s.eval(seqs[4], std::vector<TokenId>{tok(7)});
            seqs.push_back(s.fork(seqs[1]));
            toks.push_back(tok(200));
            auto batched = s.decode(seqs, toks);
            for (size_t i = 0; i < seqs.size(); ++i) {
                int alone = s.fork(seqs[i]);
                s.kv().truncate(alone, s.length(alone) - 1);  // drop the batched token
                auto single = s.eval(alone, std::span(&toks[i], 1));
                QVERIFY2(std::memcmp(single.data(), batched.data() + i * s.n_vocab(),
                                     single.size() * 4) == 0,
                         qPrintable(QString("branch %1, kv %2").arg(i).arg(kv_type_name(kv))));
                s.release(alone);
            }
        }
    }

    // The same tokens on 1 and 2 threads, and a fork that wrote into a shared
    // partial block (copy-on-write) next to its parent: the same logits.
    void threadsAndCopyOnWriteKeepLogits_data() { engineModels(); }
    void threadsAndCopyOnWriteKeepLogits() {
        QFETCH(QString, model_path);
        auto model = Model::load(model_path.toStdString());
        const int V = model->config().n_vocab;
        std::vector<TokenId> prompt = {1};
        for (int i = 0; i < 20; ++i) prompt.push_back(static_cast<TokenId>(3 + (11 * i) % (V - 3)));
        std::vector<std::vector<float>> runs;
        for (int threads : {1, 2}) {
            SessionOptions so;
            so.threads = threads;
            Session s(*model, so);
            const int a = s.create();
            s.eval(a, prompt);  // 21 tokens: the second block is partial
            const int b = s.fork(a);
            auto lb = s.eval(b, std::vector<TokenId>{5});  // copies the shared partial block
            auto la = s.eval(a, std::vector<TokenId>{6});  // the parent's own block, unchanged
            auto la2 = s.decode(std::vector<int>{a, b}, std::vector<TokenId>{7, 7});
            la.insert(la.end(), lb.begin(), lb.end());
            la.insert(la.end(), la2.begin(), la2.end());
            runs.push_back(std::move(la));
            QCOMPARE(s.kv().stats().blocks_used, 3);  // a: 2 blocks; b: the first shared, its copy
        }
        QVERIFY(std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * 4) == 0);
        // The two branches saw different tokens, so their last logits differ.
        const size_t n = static_cast<size_t>(V);
        QVERIFY(std::memcmp(runs[0].data() + 2 * n, runs[0].data() + 3 * n, n * 4) != 0);
    }

    // SessionOptions::deterministic: a prompt evaluated in one batch gives the
    // logits of evaluating it token by token, to the bit. By default an F16
    // model's prompt takes llama.cpp's prompt-batch order and differs.
    void deterministicPromptEqualsIncremental_data() {
        QTest::addColumn<QString>("model_path");
        QTest::newRow("bundled-F32") << QString(kBundled);
        QTest::newRow("bundled-F16")
            << QString::fromStdString(bundled_as(tmp_.path(), GgmlType::F16));
        if (rs::test::have_reference())
            QTest::newRow("mini-qwen2-f16") << rs::test::reference("models/mini-qwen2-f16.gguf");
    }
    void deterministicPromptEqualsIncremental() {
        QFETCH(QString, model_path);
        auto model = Model::load(model_path.toStdString());
        const std::vector<TokenId> prompt = {1, 40, 47, 61, 78, 30, 31, 32};
        auto last_logits = [&](bool deterministic, bool one_batch) {
            SessionOptions so;
            so.deterministic = deterministic;
            Session s(*model, so);
            int seq = s.create();
            if (one_batch) return s.eval(seq, prompt);
            std::vector<float> out;
            for (TokenId t : prompt) out = s.eval(seq, std::span(&t, 1));
            return out;
        };
        const auto det_batch = last_logits(true, true), det_steps = last_logits(true, false);
        const auto def_batch = last_logits(false, true), def_steps = last_logits(false, false);
        QCOMPARE(det_batch.size(), det_steps.size());
        QVERIFY(std::memcmp(det_batch.data(), det_steps.data(), det_batch.size() * 4) == 0);
        QVERIFY(std::memcmp(def_steps.data(), det_steps.data(), det_steps.size() * 4) == 0);
        QVERIFY(std::memcmp(def_batch.data(), det_batch.data(), det_batch.size() * 4) != 0);
    }

    // Q8_0 and Q5_0 prompts of 16 rows or more take the two-rows-a-vector product,
    // steps the row-by-row dot: a 40-token prompt's logits, row by row, equal
    // those of feeding its tokens one at a time, to the bit (deterministic
    // mode, so F32/F16 matrices, if any, take one order in both).
    void q8PromptRowsEqualSteps_data() {
        QTest::addColumn<QString>("model_path");
        QTest::newRow("bundled-Q8_0")
            << QString::fromStdString(bundled_as(tmp_.path(), GgmlType::Q8_0));
        QTest::newRow("bundled-Q5_0")
            << QString::fromStdString(bundled_as(tmp_.path(), GgmlType::Q5_0));
        if (rs::test::have_reference())
            QTest::newRow("mini-llama-Q8_0") << rs::test::reference("models/mini-llama-Q8_0.gguf");
    }
    void q8PromptRowsEqualSteps() {
        QFETCH(QString, model_path);
        auto model = Model::load(model_path.toStdString());
        SessionOptions so;
        so.deterministic = true;
        Session s(*model, so);
        std::vector<TokenId> prompt;
        for (int i = 0; i < 40; ++i) prompt.push_back(static_cast<TokenId>(1 + (i * 37) % 200));
        const std::vector<float> batch = s.eval(s.create(), prompt, true);
        std::vector<float> steps;
        const int seq = s.create();
        for (TokenId t : prompt) {
            const std::vector<float> row = s.eval(seq, std::span(&t, 1));
            steps.insert(steps.end(), row.begin(), row.end());
        }
        QCOMPARE(batch.size(), steps.size());
        QVERIFY(std::memcmp(batch.data(), steps.data(), batch.size() * 4) == 0);
    }

    // Q4_0 (and with SIMD kernels Q4_K, Q5_K, Q6_K) matrices are repacked into tiles at load unless
    // RS_REPACK=0: the two layouts run different code and must give the same logits to the bit, for
    // a prompt batch, a single-token step and a batch of branches.
    void repackedWeightsGiveTheSameLogits_data() {
        QTest::addColumn<QString>("model_path");
        QTest::newRow("bundled-Q4_0")
            << QString::fromStdString(bundled_as(tmp_.path(), GgmlType::Q4_0));
        if (rs::test::have_reference())
            QTest::newRow("mini-llama-Q4_0") << rs::test::reference("models/mini-llama-Q4_0.gguf");
        // K-quant tiles (AVX2 or AVX-512), with the Q5_0/Q8_0 rest in place.
        if (kernels::kernels().isa == kernels::Isa::Avx512)  // Q5_0 tiles
            QTest::newRow("bundled-Q5_0")
                << QString::fromStdString(bundled_as(tmp_.path(), GgmlType::Q5_0));
        if (rs::test::have_reference() && kernels::kernels().isa != kernels::Isa::Scalar)
            QTest::newRow("mini-llama-Q4_K_M")
                << rs::test::reference("models/mini-llama-Q4_K_M.gguf");
        if (rs::test::have_reference() && kernels::kernels().isa != kernels::Isa::Scalar)
            QTest::newRow("mini-llama-Q5_K_M")
                << rs::test::reference("models/mini-llama-Q5_K_M.gguf");
    }
    void repackedWeightsGiveTheSameLogits() {
        QFETCH(QString, model_path);
        bool layouts_as_asked = true;
        auto logits = [&](bool repack) -> std::vector<float> {
            // Read when the CPU backend prepares the model's weights (its first session).
            qputenv("RS_REPACK", repack ? "1" : "0");
            auto model = Model::load(model_path.toStdString());
            Session s(*model);
            qunsetenv("RS_REPACK");
            layouts_as_asked = layouts_as_asked && (cpu_repacked_matrices(*model) > 0) == repack;
            int seq = s.create();
            std::vector<TokenId> prompt = {1, 40, 47, 61, 78, 30, 31, 32, 33};
            std::vector<float> out = s.eval(seq, prompt, true);
            auto step = s.eval(seq, std::vector<TokenId>{42});
            out.insert(out.end(), step.begin(), step.end());
            std::vector<int> seqs{s.fork(seq), s.fork(seq), s.fork(seq)};
            auto batch = s.decode(seqs, std::vector<TokenId>{7, 8, 9});
            out.insert(out.end(), batch.begin(), batch.end());
            return out;
        };
        const std::vector<float> packed = logits(true), in_place = logits(false);
        QVERIFY(layouts_as_asked);
        QCOMPARE(packed.size(), in_place.size());
        QVERIFY(std::memcmp(packed.data(), in_place.data(), packed.size() * 4) == 0);
    }

    // The generator seam on the local engine: a branch's sampled tokens and
    // their signals do not depend on which other branches share its batch
    // (counter-based sampling keyed by stream and position), forks continue
    // from their parent's pending token, and released sequences are reused.
    void generatorTokensIndependentOfBatch_data() {
        QTest::addColumn<QString>("model_path");
        QTest::newRow("bundled") << QString(kBundled);
        // Sliding windows (16) that the 22 tokens outgrow, sinks and experts.
        if (rs::test::have_reference())
            for (const char* n : {"mini-gptoss-f16", "mini-gemma3-f16"})
                QTest::newRow(n) << rs::test::reference(QString("models/") + n + ".gguf");
    }
    void generatorTokensIndependentOfBatch() {
        QFETCH(QString, model_path);
        auto model = Model::load(model_path.toStdString());
        SamplingParams sp;
        sp.temperature = 3.0f;  // the arithmetic model is confident: spread it out
        sp.seed = 7;
        auto run = [&](bool together) {
            LocalGenerator gen(*model, SessionOptions{});
            const std::vector<TokenId> prompt = model->tokenizer().encode("Q: (3+4)*5\n", true);
            const int root = gen.start(prompt);
            std::vector<int> seqs = {gen.fork(root), gen.fork(root), gen.fork(root)};
            std::vector<std::vector<TokenSignals>> out(3);
            for (int step = 0; step < 12; ++step) {
                if (together) {
                    std::vector<ExtendRequest> reqs;
                    for (int i = 0; i < 3; ++i)
                        reqs.push_back({seqs[size_t(i)], uint64_t(100 + i)});
                    auto ext = gen.extend(reqs, sp);
                    for (int i = 0; i < 3; ++i) out[size_t(i)].push_back(ext[size_t(i)].token);
                } else {
                    for (int i = 2; i >= 0; --i) {  // one at a time, another order
                        std::vector<ExtendRequest> one = {{seqs[size_t(i)], uint64_t(100 + i)}};
                        out[size_t(i)].push_back(gen.extend(one, sp)[0].token);
                    }
                }
            }
            for (int i = 0; i < 3; ++i)
                if (gen.length(seqs[size_t(i)]) != int(prompt.size()) + 12) out.clear();
            gen.release(seqs[1]);
            if (gen.alive(seqs[1]) || gen.fork(root) != seqs[1]) out.clear();  // id reused
            return out;
        };
        const auto a = run(true), b = run(false);
        QCOMPARE(a.size(), size_t(3));
        QCOMPARE(b.size(), size_t(3));
        bool streams_differ = false;
        for (size_t i = 0; i < 3; ++i)
            for (size_t k = 0; k < 12; ++k) {
                QCOMPARE(a[i][k].token, b[i][k].token);
                QCOMPARE(a[i][k].logprob, b[i][k].logprob);
                QCOMPARE(a[i][k].entropy, b[i][k].entropy);
                streams_differ = streams_differ || a[i][k].token != a[0][k].token;
            }
        QVERIFY(streams_differ);  // three streams, not three copies of one
    }

    // Sampling on the backend (Pass::draw, as a GPU backend does it; here
    // the CPU backend's emulation of the seam, RS_DRAW_ON_BACKEND=1): the
    // generator's branches get the host sampler's tokens, alternatives and
    // signals, for every kind of request in one batch (plain, top-k/top-p,
    // greedy, per-request parameters, forced tokens and vetoes, which stay
    // on the host).
    void generatorDrawOnTheBackendEqualsTheHost() {
        auto model = Model::load(kBundled);
        SamplingParams sp;
        sp.temperature = 2.5f;
        sp.top_p = 0.97f;
        sp.seed = 3;
        sp.n_alternatives = 5;
        SamplingParams greedy = sp, topk = sp;
        greedy.temperature = 0;
        topk.top_k = 4;
        topk.top_p = 1;
        const std::vector<TokenId> prompt = model->tokenizer().encode("Q: (3+4)*5\n", true);
        const TokenId nl = model->tokenizer().encode("\n", false).at(0);
        auto run = [&](bool on_backend) {
            qputenv("RS_DRAW_ON_BACKEND", on_backend ? "1" : "0");
            LocalGenerator gen(*model, SessionOptions{});
            qunsetenv("RS_DRAW_ON_BACKEND");
            const int root = gen.start(prompt);
            std::vector<int> seqs;
            for (int i = 0; i < 6; ++i) seqs.push_back(gen.fork(root));
            std::vector<std::vector<TokenSignals>> out(seqs.size());
            for (int step = 0; step < 14; ++step) {
                std::vector<ExtendRequest> reqs;
                for (size_t i = 0; i < seqs.size(); ++i) reqs.push_back({seqs[i], 50 + i});
                reqs[1].params = &greedy;
                reqs[2].params = &topk;
                if (step % 4 == 1) reqs[3].force = nl;
                reqs[4].veto = {nl};
                reqs[4].veto_with = model->tokenizer().encode("7", false).at(0);
                const auto ext = gen.extend(reqs, sp);
                for (size_t i = 0; i < seqs.size(); ++i) out[i].push_back(ext[i].token);
            }
            return out;
        };
        const auto host = run(false), backend = run(true);
        int alternatives = 0;
        std::set<TokenId> seen;
        for (size_t i = 0; i < host.size(); ++i)
            for (size_t k = 0; k < host[i].size(); ++k) {
                const TokenSignals &a = host[i][k], &b = backend[i][k];
                QCOMPARE(b.token, a.token);
                QVERIFY(std::abs(a.logprob - b.logprob) <= 1e-5f);
                QVERIFY(std::abs(a.entropy - b.entropy) <= 1e-5f);
                QVERIFY(std::abs(a.varentropy - b.varentropy) <= 1e-4f);
                QCOMPARE(b.top.size(), a.top.size());
                for (size_t j = 0; j < a.top.size(); ++j) {
                    QCOMPARE(b.top[j].first, a.top[j].first);
                    QVERIFY(std::abs(a.top[j].second - b.top[j].second) <= 1e-5f);
                }
                alternatives += static_cast<int>(a.top.size());
                seen.insert(a.token);
            }
        QVERIFY(alternatives == 6 * 14 * 5 && seen.size() > 5);  // varied, not one token
    }

    void forkSharesBlocksAndCopiesOnWrite() {
        KvLayout layout;
        layout.n_layers = 2;
        layout.kv_dim = 8;
        layout.n_blocks = 64;
        layout.block_tokens = 16;
        KvCache kv(std::make_unique<HostKvStorage>(layout), 256);
        auto& st = static_cast<HostKvStorage&>(kv.storage());
        // Position pos of seq in layer 0's K.
        auto k_at = [&](int seq, int pos) {
            return reinterpret_cast<float*>(st.k_block(0, kv.block_of(seq, pos)) +
                                            static_cast<size_t>(pos % 16) * 8 * 4);
        };
        int a = kv.create();
        kv.reserve(a, 20);
        kv.commit(a, 20);  // 2 blocks, the second partial
        QCOMPARE(kv.stats().blocks_used, 2);
        k_at(a, 17)[0] = 42.0f;
        int b = kv.fork(a);
        QCOMPARE(kv.stats().blocks_used, 2);  // nothing copied
        QCOMPARE(kv.block_refcount(kv.block_table(a)[1]), 2);
        kv.reserve(b, 1);  // writing into the shared partial block copies it
        QCOMPARE(kv.stats().blocks_used, 3);
        QVERIFY(kv.block_table(a)[0] == kv.block_table(b)[0]);
        QVERIFY(kv.block_table(a)[1] != kv.block_table(b)[1]);
        QCOMPARE(k_at(b, 17)[0], 42.0f);
        k_at(b, 17)[0] = 7.0f;
        QCOMPARE(k_at(a, 17)[0], 42.0f);
        kv.commit(b, 1);
        kv.release(a);
        QCOMPARE(kv.stats().blocks_used, 2);  // b keeps the shared first block
        kv.release(b);
        QCOMPARE(kv.stats().blocks_used, 0);
    }

    void contextOverflowIsClearAndRecoverable() {
        auto model = Model::load(kBundled);
        SessionOptions so;
        so.n_ctx = 32;
        Session s(*model, so);
        int seq = s.create();
        s.eval(seq, std::vector<TokenId>(30, 5));
        try {
            s.eval(seq, std::vector<TokenId>(5, 5));
            QFAIL("expected an overflow error");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("context overflow"));
        }
        QCOMPARE(s.length(seq), 30);
        auto l = s.eval(seq, std::vector<TokenId>{6});
        QCOMPARE(l.size(), size_t(model->config().n_vocab));
        QCOMPARE(s.length(seq), 31);
    }

    // Hyperparameters and norm weights that would make every logit NaN (or
    // overflow a size) are refused at load, naming the key or tensor.
    void badNumbersAreRefusedAtLoad() {
        QTemporaryDir dir;
        auto f32 = [](const char* key, float v) {
            return [=](GgufWriter& w) { w.add_f32(std::string("llama.") + key, v); };
        };
        auto has = [](const QString& e, const char* want) {
            if (!e.contains(want)) qWarning("%s", qPrintable(e));
            return e.contains(want);
        };
        QCOMPARE(tiny_llama_error(dir.path(), {}), QString());
        QVERIFY(has(tiny_llama_error(dir.path(), {}, f32("rope.freq_base", std::nanf(""))),
                    "llama.rope.freq_base = nan must be a positive number"));
        QVERIFY(has(tiny_llama_error(dir.path(), {}, f32("rope.freq_base", 0)),
                    "llama.rope.freq_base = 0 must be a positive number"));
        QVERIFY(has(tiny_llama_error(dir.path(), {}, f32("rope.freq_base", -10000)),
                    "llama.rope.freq_base = -10000 must be"));
        QVERIFY(has(tiny_llama_error(dir.path(), {},
                                     f32("attention.layer_norm_rms_epsilon", std::nanf(""))),
                    "llama.attention.layer_norm_rms_epsilon = nan must be a non-negative"));
        QVERIFY(has(tiny_llama_error(dir.path(), {}, f32("attention.layer_norm_rms_epsilon", -1)),
                    "llama.attention.layer_norm_rms_epsilon = -1 must be"));
        // 30 / 4 heads: the problem is the head count, not the RoPE width.
        QVERIFY(has(
            tiny_llama_error(dir.path(), {{"embedding_length", 30}, {"attention.head_count", 4}}),
            "llama.embedding_length = 30 is not a multiple of "
            "llama.attention.head_count = 4"));
        QVERIFY(has(tiny_llama_error(dir.path(), {{"rope.dimension_count", 7}}),
                    "llama.rope.dimension_count = 7 must be even and at most the head width 32"));
        QVERIFY(has(tiny_llama_error(dir.path(), {{"attention.head_count", 65536},
                                                  {"attention.key_length", 65536}}),
                    "llama.attention.head_count x head width = 65536 x 65536 is too large"));
        QVERIFY(has(tiny_llama_error(dir.path(), {}, {}, "blk.0.attn_norm.weight"),
                    "tensor 'blk.0.attn_norm.weight' holds NaN at element 3"));
        QVERIFY(has(tiny_llama_error(dir.path(), {}, {}, "output_norm.weight"),
                    "tensor 'output_norm.weight' holds NaN"));
    }

    void modelErrorsNameTheProblem() {
        GgufWriter w;
        w.add_string("general.architecture", "mamba");
        auto p = QDir::temp().filePath("rs_bad_arch.gguf").toStdString();
        w.write(p);
        try {
            Model::load(p);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("unsupported architecture 'mamba'"));
        }
        RS_REQUIRE_REFERENCE();
        // A real model with one tensor renamed: the missing name is reported.
        auto f = GgufFile::open(ref("models/stories260K.gguf"));
        GgufWriter w2;
        for (const auto& k : f->keys()) {
            const GgufValue* v = f->find(k);
            if (v->type == GgufType::String)
                w2.add_string(k, std::string(v->str));
            else if (v->type == GgufType::F32)
                w2.add_f32(k, static_cast<float>(v->num.f));
            else if (v->type == GgufType::Array && v->elem_type == GgufType::String) {
                std::vector<std::string> items;
                for (const auto& it : v->items) items.emplace_back(it.str);
                w2.add_string_array(k, items);
            } else if (v->type == GgufType::Array && v->elem_type == GgufType::F32) {
                std::vector<float> items;
                for (const auto& it : v->items) items.push_back(static_cast<float>(it.num.f));
                w2.add_f32_array(k, items);
            } else if (v->type == GgufType::Array) {
                std::vector<int32_t> items;
                for (const auto& it : v->items) items.push_back(static_cast<int32_t>(it.as_int()));
                w2.add_i32_array(k, items);
            } else if (v->is_integer())
                w2.add_u32(k, static_cast<uint32_t>(v->as_int()));
        }
        for (const auto& t : f->tensors())
            w2.add_tensor(t.name == "blk.2.ffn_up.weight" ? "blk.2.ffn_upp.weight" : t.name, t.type,
                          t.dims, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
        auto p2 = QDir::temp().filePath("rs_missing_tensor.gguf").toStdString();
        w2.write(p2);
        try {
            Model::load(p2);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("missing tensor 'blk.2.ffn_up.weight'"), e.what());
        }
    }
};

QTEST_APPLESS_MAIN(TestEngine)
#include "tst_engine.moc"
