// The reasonscope binary as a user runs it: commands, their output, and
// one-line errors with exit code 2 on bad input.
#include <sys/stat.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include "test_paths.h"

namespace {

struct Result {
    int code;
    QByteArray out, err;
};

Result run(const QStringList& args, const QString& isa = {}) {
    QProcess p;
    if (!isa.isEmpty()) {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("RS_ISA", isa);
        p.setProcessEnvironment(env);
    }
    p.start(rs::test::binary("reasonscope"), args);
    p.waitForFinished(120000);
    return {p.exitCode(), p.readAllStandardOutput(), p.readAllStandardError()};
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT
  private slots:
    // The engine on each kernel table (RS_ISA lowers the CPU's best) gives the
    // same logits to the bit: a prompt in one pass, then greedy decoding. The
    // bundled model always; reference models of every weight type when present.
    void sameLogitsOnEveryKernelTable_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("bundled") << QString(RS_SOURCE_DIR "/resources/models/reasoner.gguf");
        if (rs::test::have_reference())
            for (const char* n :
                 {"mini-llama-Q4_0", "mini-llama-Q8_0", "mini-qwen2-f16", "mini-qwen3-Q4_K_M",
                  "stories260K", "mini-phi3-f16", "mini-gemma3-f16", "mini-qwen3moe-f16",
                  "mini-gptoss-f16", "mini-llama-Q2_K", "mini-llama-Q3_K_M", "mini-llama-Q5_K_M",
                  "mini-llama-IQ4_NL", "mini-llama-IQ4_XS"})
                QTest::newRow(n) << rs::test::reference(QString("models/") + n + ".gguf");
    }
    void sameLogitsOnEveryKernelTable() {
        QFETCH(QString, model);
        QTemporaryDir dir;
        QMap<QString, QByteArray> best;  // by cache type: the CPU's best table
        QStringList backends;
        for (const QString isa : {"", "scalar", "avx2"})
            for (const QString kv : {"f32", "f16"}) {
                const QString dump = dir.filePath("logits");
                auto r = run({"logits", "--model", model, "--prompt", "12+7*3=", "--generate", "6",
                              "--threads", "2", "--kv", kv, "--dump", dump},
                             isa);
                QVERIFY2(r.code == 0, r.err.constData());
                backends << QString::fromUtf8(r.out.trimmed());
                QFile f(dump);
                QVERIFY(f.open(QIODevice::ReadOnly));
                const QByteArray got = f.readAll();
                QVERIFY(got.size() > 0);
                if (isa.isEmpty())
                    best[kv] = got;
                else
                    QVERIFY2(got == best[kv], qPrintable("RS_ISA=" + isa + " --kv " + kv +
                                                         ": logits differ from the best table's"));
            }
        // The tables really were different ones (the backend names its ISA).
        QVERIFY2(backends.join("\n").contains("scalar"), qPrintable(backends.join("\n")));
    }

    void vocabTestReproducesEveryOutFile_data() {
        QTest::addColumn<QString>("name");
        for (const char* n :
             {"llama-spm", "phi-3", "llama-bpe", "qwen2", "gpt-2", "starcoder", "deepseek-llm"})
            QTest::newRow(n) << QString(n);
    }
    void vocabTestReproducesEveryOutFile() {
        RS_REQUIRE_REFERENCE();
        QFETCH(QString, name);
        QString base = rs::test::reference("tokenizer/ggml-vocab-" + name + ".gguf");
        auto r = run({"tokenize", "--model", base, "--vocab-test", base + ".inp"});
        QCOMPARE(r.code, 0);
        QFile want(base + ".out");
        QVERIFY(want.open(QIODevice::ReadOnly));
        QCOMPARE(r.out, want.readAll());
    }

    void tokenizeText() {
        RS_REQUIRE_REFERENCE();
        auto r = run({"tokenize", "--model",
                      rs::test::reference("tokenizer/ggml-vocab-llama-spm.gguf"), "Hello world"});
        QCOMPARE(r.code, 0);
        QCOMPARE(r.out.trimmed(), QByteArray("15043 3186"));
    }

    // `logits --reference` holds each file to the README's bar for its
    // weight type: llama.cpp's own spread for K-quant/IQ/MXFP4 files (max
    // diff 0.25, logsumexp 0.02, top-1 where the margin is over 0.25), the
    // strict bars elsewhere (a Q4_0 file's Q6_K output layer does not loosen it).
    void logitsAgainstReferencesWithTheirBar_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("bar");
        for (const char* n :
             {"mini-llama-Q2_K", "mini-llama-Q3_K_M", "mini-llama-Q5_K_M", "mini-llama-IQ4_NL",
              "mini-llama-IQ4_XS", "mini-llama-Q4_K_M", "mini-qwen3-Q4_K_M"})
            QTest::newRow(n) << n << "K-quant/IQ/MXFP4";
        QTest::newRow("mini-llama-Q4_0") << "mini-llama-Q4_0"
                                         << "Q8_0/Q4_0";
        QTest::newRow("mini-llama-f16") << "mini-llama-f16"
                                        << "F16";
    }
    void logitsAgainstReferencesWithTheirBar() {
        RS_REQUIRE_REFERENCE();
        QFETCH(QString, name);
        QFETCH(QString, bar);
        const QString model = rs::test::reference("models/" + name + ".gguf"),
                      ref = rs::test::reference("logits/" + name + ".json");
        auto r = run({"logits", "--model", model, "--reference", ref, "--threads", "2", "--json"});
        QVERIFY2(r.code == 0, r.out.constData());
        const auto j = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(j["bar"].toString(), bar);
        QVERIFY(j["ok"].toBool());
        QVERIFY(j["rows"].toInt() >= 50);
        QCOMPARE(j["top1_failed"].toInt(), 0);
        QVERIFY(j["max_abs_diff"].toDouble() <= j["tolerance"].toDouble());
        if (bar.startsWith("K")) {
            QCOMPARE(j["tolerance"].toDouble(), 0.25);
            QCOMPARE(j["logsumexp_tolerance"].toDouble(), 0.02);
            // Near-ties are exempt from top-1, not the rest of the rows.
            QVERIFY(j["top1_checked"].toInt() >= 20);
            QVERIFY(j["top1_checked"].toInt() < j["rows"].toInt());
            if (name != "mini-llama-Q2_K") return;
            // A bar below the spread fails, naming the rows over it.
            auto strict = run({"logits", "--model", model, "--reference", ref, "--threads", "2",
                               "--tol", "0.01"});
            QCOMPARE(strict.code, 1);
            QVERIFY2(strict.out.contains("FAIL") && strict.out.contains("rows over the bar:"),
                     strict.out.constData());
        } else {
            QCOMPARE(j["top1_checked"].toInt(), j["rows"].toInt());
        }
    }

    // `models synth` writes llama.cpp's per-tensor mixes with their
    // general.file_type (LLAMA_FTYPE numbering), and the engine runs them.
    void synthMixesAreLabelledAndRun_data() {
        QTest::addColumn<QString>("type");
        QTest::addColumn<int>("ftype");
        QTest::addColumn<QStringList>("types");  // weight types the file must hold
        QTest::newRow("Q4_K_M") << "Q4_K_M" << 15 << QStringList{"Q4_K", "Q5_0", "Q6_K", "Q8_0"};
        // smollm2's 576 columns are no whole 256-blocks: Q5_K falls back to
        // Q5_1, IQ4_XS to IQ4_NL, as llama.cpp's quantizer does.
        QTest::newRow("Q5_K_M") << "Q5_K_M" << 17 << QStringList{"Q5_K", "Q5_1", "Q6_K", "Q8_0"};
        QTest::newRow("IQ4_XS") << "IQ4_XS" << 30 << QStringList{"IQ4_XS", "IQ4_NL"};
    }
    void synthMixesAreLabelledAndRun() {
        QFETCH(QString, type);
        QFETCH(int, ftype);
        QFETCH(QStringList, types);
        QTemporaryDir dir;
        const QString path = dir.filePath("m.gguf");
        auto r = run({"models", "synth", "--shape", "smollm2-135m", "--type", type, "-o", path});
        QVERIFY2(r.code == 0, r.err.constData());
        r = run({"models", "info", path, "--metadata"});
        QCOMPARE(r.code, 0);
        QVERIFY2(QRegularExpression("general\\.file_type +" + QString::number(ftype) + "\n")
                     .match(QString::fromUtf8(r.out))
                     .hasMatch(),
                 r.out.constData());
        r = run({"models", "info", path, "--json"});
        const auto by_type = QJsonDocument::fromJson(r.out)["tensors_by_type"].toObject();
        QStringList got = by_type.keys();
        got.removeAll("F32");
        got.sort();
        types.sort();
        QCOMPARE(got, types);
        r = run({"logits", "--model", path, "--prompt", "a", "--generate", "1", "--threads", "2"});
        QVERIFY2(r.code == 0, r.err.constData());
    }

    void modelsInfoOnEveryReferenceModel() {
        RS_REQUIRE_REFERENCE();
        QDir dir(rs::test::reference("models"));
        for (const QString& n : dir.entryList({"*.gguf"})) {
            auto r = run({"models", "info", dir.filePath(n), "--json"});
            QCOMPARE(r.code, 0);
            auto doc = QJsonDocument::fromJson(r.out);
            QVERIFY2(doc.isObject(), qPrintable(n));
            QVERIFY(doc["tensor_count"].toInt() > 0);
            // mini-<arch>-<type>.gguf (gptoss: "gpt-oss"); stories260K is a llama.
            QString want = n.startsWith("mini-") ? n.section('-', 1, 1) : QString("llama");
            if (want == "gptoss") want = "gpt-oss";
            QCOMPARE(doc["architecture"].toString(), want);
            QVERIFY2(doc["supported"].toBool(), qPrintable(n + ": " + r.out));
            // The CUDA backend computes every reference file too.
            QVERIFY2(doc["cuda_supported"].toBool(), qPrintable(n + ": " + r.out));
        }
        auto r = run({"models", "info", rs::test::reference("models/mini-llama-Q4_K_M.gguf")});
        QVERIFY2(r.out.contains("supported     yes (cpu, cuda)"), r.out.constData());
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("Q4_K"));
        QVERIFY(r.out.contains("Q6_K"));
        QVERIFY(r.out.contains("context_length"));
    }

    // models info reads what it can and says what the engine lacks to run the
    // file: an architecture, a tensor type the CPU backend computes.
    void modelsInfoNamesWhatIsUnsupported() {
        QTemporaryDir tmp;
        // A GGUF of one key: general.architecture = "mamba".
        QByteArray g("GGUF", 4);
        auto u32 = [&](quint32 v) { g.append(reinterpret_cast<const char*>(&v), 4); };
        auto u64 = [&](quint64 v) { g.append(reinterpret_cast<const char*>(&v), 8); };
        auto str = [&](const QByteArray& s) {
            u64(static_cast<quint64>(s.size()));
            g.append(s);
        };
        u32(3);
        u64(0);
        u64(1);
        str("general.architecture");
        u32(8);
        str("mamba");
        const QString mamba = tmp.filePath("mamba.gguf");
        QFile f(mamba);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(g);
        f.close();
        auto r = run({"models", "info", mamba});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("supported     no: unsupported architecture 'mamba' (supported: "),
                 r.out.constData());
        QVERIFY(r.out.contains("gpt-oss"));
        // The bundled model (F32) with one matrix's type changed to I32 (the
        // same size): a type no backend computes, named with its tensor.
        QFile in(RS_SOURCE_DIR "/resources/models/reasoner.gguf");
        QVERIFY(in.open(QIODevice::ReadOnly));
        QByteArray m = in.readAll();
        const QByteArray name = "blk.0.ffn_up.weight";
        const qsizetype at = m.indexOf(name);
        QVERIFY(at > 0);
        qsizetype p = at + name.size();
        quint32 nd = 0;
        std::memcpy(&nd, m.constData() + p, 4);
        p += 4 + 8 * static_cast<qsizetype>(nd);
        quint32 type = 0;
        std::memcpy(&type, m.constData() + p, 4);
        QCOMPARE(type, quint32(0));  // F32
        type = 26;                   // I32
        std::memcpy(m.data() + p, &type, 4);
        const QString i32 = tmp.filePath("i32.gguf");
        QFile o(i32);
        QVERIFY(o.open(QIODevice::WriteOnly));
        o.write(m);
        o.close();
        r = run({"models", "info", i32, "--json"});
        QCOMPARE(r.code, 0);
        auto doc = QJsonDocument::fromJson(r.out);
        QCOMPARE(doc["supported"].toBool(), false);
        QVERIFY2(doc["unsupported_reason"].toString().startsWith(
                     "tensor 'blk.0.ffn_up.weight' has type I32, which the cpu backend does not "
                     "support"),
                 r.out.constData());
    }

    void badInputIsOneLineExitTwo() {
        QTemporaryDir tmp;
        QString bad = tmp.filePath("bad.gguf");
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("GGUF\x03\x00\x00\x00garbage", 16);
        f.close();
        for (const QStringList& args :
             {QStringList{"models", "info", bad}, QStringList{"models", "info", "/no/such.gguf"},
              QStringList{"tokenize", "--model", bad, "x"}, QStringList{"models", "info"},
              QStringList{"tokenize", "--bogus"}, QStringList{"nosuchcommand"}}) {
            auto r = run(args);
            QCOMPARE(r.code, 2);
            if (args[0] != "nosuchcommand") QCOMPARE(r.err.count('\n'), 1);
            QVERIFY(r.out.isEmpty());
        }
        auto r = run({"models", "info", bad});
        QVERIFY2(r.err.contains("bad.gguf") && r.err.contains("truncated"), r.err.constData());
    }

    // Files that would block (a FIFO) or that are not ours to replace, JSON
    // nested past any sane depth and numbers that do not fit: one-line
    // errors with exit code 2, nothing hangs, nothing is replaced.
    void hostileFilesAndNumbersAreRefused() {
        QTemporaryDir tmp;
        const QString fifo = tmp.filePath("fifo");
        QVERIFY(mkfifo(fifo.toLocal8Bit().constData(), 0600) == 0);
        QElapsedTimer t;
        t.start();
        for (const QStringList& args :
             {QStringList{"models", "info", fifo},
              QStringList{"run", "--model", fifo, "--prompt", "Q: 1+1", "--no-store"},
              QStringList{"models", "synth", "--shape", "smollm2-135m", "--type", "F32", "-o",
                          fifo},
              QStringList{"chat-template", "--template", fifo, "--messages", fifo},
              QStringList{"import", fifo, "--db", tmp.filePath("runs.sqlite")}}) {
            auto r = run(args);
            QVERIFY2(r.code == 2 && r.err.contains("not a regular file") && r.err.count('\n') == 1,
                     qPrintable(args.join(' ') + ": " + r.err));
        }
        QVERIFY2(t.elapsed() < 60000, "a FIFO blocked");
        struct stat st {};
        QVERIFY(stat(fifo.toLocal8Bit().constData(), &st) == 0 && S_ISFIFO(st.st_mode));

        // A valid export (one node), then variants of it.
        auto import_of = [&](const QByteArray& run_fields, const QByteArray& node_fields) {
            const QString path = tmp.filePath("run.json");
            QFile f(path);
            if (!f.open(QIODevice::WriteOnly)) return Result{-1, {}, {}};
            f.write(R"({"format":"reasonscope-run","run":{"strategy":"s","prompt":"p")" +
                    run_fields + R"(},"nodes":[{"id":0,"parent":-1,"status":"open")" + node_fields +
                    "}]}");
            f.close();
            return run({"import", path, "--db", tmp.filePath("runs.sqlite")});
        };
        auto r = import_of("", "");
        QVERIFY2(r.code == 0, r.err.constData());
        // 10^6 nested arrays in the parameters: parsed fine, but copying or
        // printing them recursed off the stack.
        r = import_of(R"(,"params":)" + QByteArray(1000000, '[') + QByteArray(1000000, ']'), "");
        QVERIFY2(r.code == 2 && r.err.contains("JSON nested deeper than 512 levels"),
                 r.err.constData());
        r = import_of("", R"(,"visits":1e20)");
        QVERIFY2(r.code == 2 && r.err.contains("node 0 visits = 1e+20 is not an integer in [0, "
                                               "2147483647]"),
                 r.err.constData());
        r = import_of(R"(,"seed":1e300)", "");
        QVERIFY2(r.code == 2 && r.err.contains("run.seed = 1e+300 is not an integer"),
                 r.err.constData());
        r = import_of(R"(,"chosen_node":2.5)", "");
        QVERIFY2(r.code == 2 && r.err.contains("run.chosen_node = 2.5"), r.err.constData());

        // Options are named as they are written; --threads far above the
        // cores is clamped with a warning, not refused.
        r = run({"generate", "--prompt", "Q: 1+1", "-n", "x"});
        QVERIFY2(r.code == 2 && r.err.contains("generate: -n must be an integer"),
                 r.err.constData());
        r = run({"generate", "--prompt", "Q: 1+1", "-n", "2", "--threads", "100000"});
        QVERIFY2(r.code == 0 && r.err.contains("--threads 100000 is far above the"),
                 r.err.constData());
    }

    // A broken plugin is reported with its path; the others still load.
    void brokenPluginIsReported() {
        QTemporaryDir dir;
        QFile junk(dir.filePath("broken_strategy.so"));
        QVERIFY(junk.open(QIODevice::WriteOnly));
        junk.write("not a shared library");
        junk.close();
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("REASONSCOPE_PLUGIN_PATH", dir.path());
        p.setProcessEnvironment(env);
        p.start(rs::test::binary("reasonscope"), {"strategies", "--json"});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 0);
        auto list = QJsonDocument::fromJson(p.readAllStandardOutput()).array();
        QStringList ids;
        for (const auto& s : list) ids << s.toObject()["id"].toString();
        for (const char* id :
             {"chain-of-thought", "best-of-n", "self-consistency", "beam-search", "mcts",
              "particle-filtering", "entropy-branching", "deepconf", "adaptive-sc",
              "power-sampling", "rebase", "phi-decoding", "astar-decoding", "token-beam",
              "cot-decoding", "self-eval-beam", "dvts", "latent-select"})
            QVERIFY2(ids.contains(id), id);
        QByteArray err = p.readAllStandardError();
        QVERIFY2(err.contains("broken_strategy.so") && err.contains("failed to load"),
                 err.constData());
    }

    void strategiesRunAndBadParametersAreErrors() {
        QTemporaryDir dir;
        QString db = dir.filePath("runs.sqlite");
        QString model = QStringLiteral(RS_SOURCE_DIR) + "/resources/models/reasoner.gguf";
        if (!QFileInfo::exists(model)) QSKIP("the bundled model is missing");
        auto r = run({"run", "--model", model, "--task", "easy:easy-000", "--strategy",
                      "beam-search", "--set", "width=0", "--db", db});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("width") && r.err.contains("outside [1, 64]"), r.err.constData());
        r = run({"run", "--model", model, "--task", "easy:easy-000", "--strategy", "no-such",
                 "--db", db});
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("unknown strategy 'no-such'") && r.err.contains("beam-search"));
        // Every strategy runs end to end on the bundled model and is stored.
        for (const char* s :
             {"chain-of-thought", "best-of-n", "self-consistency", "beam-search", "mcts",
              "particle-filtering", "entropy-branching", "deepconf", "adaptive-sc",
              "power-sampling", "rebase", "phi-decoding", "astar-decoding", "token-beam",
              "cot-decoding", "self-eval-beam", "dvts", "latent-select"}) {
            QStringList args = {"run", "--model", model, "--task", "easy:easy-001", "--strategy",
                                s,     "--db",    db,    "--json", "--threads",     "1"};
            if (QString(s) == "deepconf")
                args << "--set"
                     << "n=6"
                     << "--set"
                     << "warmup=2";
            if (QString(s) == "rebase")
                args << "--set"
                     << "width=4";
            if (QString(s) == "mcts")
                args << "--set"
                     << "iterations=6";
            if (QString(s) == "phi-decoding")
                args << "--set"
                     << "beams=2"
                     << "--set"
                     << "candidates=2";
            if (QString(s) == "astar-decoding")
                args << "--set"
                     << "k=2";
            if (QString(s) == "token-beam" || QString(s) == "self-eval-beam" ||
                QString(s) == "dvts")
                args << "--set"
                     << "width=2";
            if (QString(s) == "dvts" || QString(s) == "latent-select")
                args << "--set"
                     << "n=4";
            if (QString(s) == "cot-decoding")
                args << "--set"
                     << "k=3";
            if (QString(s) == "best-of-n" || QString(s) == "self-consistency")
                args << "--set"
                     << "n=4";
            auto out = run(args);
            QVERIFY2(out.code == 0, out.err.constData());
            auto j = QJsonDocument::fromJson(out.out).object();
            QVERIFY2(j["nodes"].toInt() >= 2, s);
            QVERIFY(j["run_id"].toInt() > 0);
        }
        auto list = run({"runs", "--db", db, "--json"});
        QCOMPARE(QJsonDocument::fromJson(list.out).array().size(), 18);
        // export: the format follows -o's extension unless --format names it.
        const QString id = QString::number(
            QJsonDocument::fromJson(list.out).array().at(0).toObject()["id"].toInteger());
        auto ex = run({"export", id, "--db", db, "-o", dir.filePath("run.json")});
        QVERIFY2(ex.code == 0, ex.err.constData());
        QFile json(dir.filePath("run.json"));
        QVERIFY(json.open(QIODevice::ReadOnly));
        QVERIFY(QJsonDocument::fromJson(json.readAll()).object()["nodes"].toArray().size() >= 2);
        ex = run({"export", id, "--db", db, "-o", dir.filePath("run.csv")});
        QCOMPARE(ex.out.trimmed(),
                 ("wrote " + dir.filePath("run.csv") + " and " + dir.filePath("run.nodes.csv"))
                     .toUtf8());
        ex = run({"export", id, "--db", db, "--format", "pdf", "-o", dir.filePath("run.pdf")});
        QCOMPARE(ex.code, 2);
        QVERIFY2(ex.err.contains("unknown format 'pdf'"), ex.err.constData());
        auto ev = run({"eval", "--model", model, "--suite", "easy", "--limit", "3", "--strategy",
                       "chain-of-thought", "--json"});
        QCOMPARE(ev.code, 0);
        auto e = QJsonDocument::fromJson(ev.out).object();
        QCOMPARE(e["problems"].toInt(), 3);
        QCOMPARE(e["rows"].toArray().size(), 3);
    }

    // Scorers come from plugins too; prm-model loads a second GGUF (here the
    // bundled model again) and reads a label token's probability: asked
    // "2+3=" it must prefer "5" to "7" on every step, and a path's value is
    // the product of its steps'.
    void scorerPluginsAndASecondModelAsPrm() {
        QTemporaryDir dir;
        QString db = dir.filePath("runs.sqlite");
        QString model = QStringLiteral(RS_SOURCE_DIR) + "/resources/models/reasoner.gguf";
        if (!QFileInfo::exists(model)) QSKIP("the bundled model is missing");
        auto list = run({"scorers", "--json"});
        QCOMPARE(list.code, 0);
        QStringList ids;
        for (const auto& v : QJsonDocument::fromJson(list.out).array()) {
            const auto o = v.toObject();
            ids << o["id"].toString();
            if (o["id"].toString() == "prm-model")
                QVERIFY(o["source"].toString().endsWith("prm_model_scorer.so"));
        }
        QCOMPARE(ids,
                 QStringList({"answer", "latent", "logprob", "prm", "prm-model", "self-eval"}));
        // Every scorer ranks a real search from the command line.
        for (const char* sc : {"answer", "latent", "logprob", "prm", "self-eval"}) {
            auto out = run({"run", "--model", model, "--task", "easy:easy-002", "--strategy",
                            "best-of-n", "--set", "n=2", "--set", QString("scorer=") + sc, "--db",
                            db, "--json", "--threads", "1"});
            QVERIFY2(out.code == 0, out.err.constData());
            const auto j = QJsonDocument::fromJson(out.out).object();
            QVERIFY2(j["status"].toString() == "ok", qPrintable(QString(sc) + ": " + out.out));
        }

        auto r = run({"run",
                      "--model",
                      model,
                      "--task",
                      "easy:easy-001",
                      "--strategy",
                      "best-of-n",
                      "--set",
                      "n=3",
                      "--set",
                      "scorer=prm-model",
                      "--scorer-opt",
                      "model=" + model,
                      "--scorer-opt",
                      "template=Q: 2+3\n2+3=",
                      "--scorer-opt",
                      "yes=5",
                      "--scorer-opt",
                      "no=7",
                      "--db",
                      db,
                      "--json",
                      "--threads",
                      "1"});
        QVERIFY2(r.code == 0, r.err.constData());
        const qint64 id = QJsonDocument::fromJson(r.out).object()["run_id"].toInteger();
        auto show = run({"export", QString::number(id), "--format", "json", "--db", db, "-o",
                         dir.filePath("run.json")});
        QVERIFY2(show.code == 0, show.err.constData());
        QFile f(dir.filePath("run.json"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const auto nodes = QJsonDocument::fromJson(f.readAll()).object()["nodes"].toArray();
        int steps = 0, paths = 0;
        for (const auto& nv : nodes) {
            const auto sc = nv.toObject()["scores"].toObject();
            if (sc.contains("prm-model_step")) {
                QVERIFY(sc["prm-model_step"].toDouble() > 0.9);
                ++steps;
            }
            if (sc.contains("prm-model")) ++paths;
        }
        QVERIFY(steps >= 3);
        QCOMPARE(paths, 3);

        // Its options are checked against its metadata, and a missing file is
        // one clear error in the run.
        r = run({"run", "--model", model, "--task", "easy:easy-001", "--strategy", "best-of-n",
                 "--set", "scorer=prm-model", "--scorer-opt", "modell=x", "--db", db});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("has no option 'modell'"), r.err.constData());
        r = run({"run", "--model", model, "--task", "easy:easy-001", "--strategy", "best-of-n",
                 "--set", "n=2", "--set", "scorer=prm-model", "--scorer-opt",
                 "model=/nonexistent.gguf", "--db", db, "--json"});
        QVERIFY(QJsonDocument::fromJson(r.out).object()["status"].toString() == "error");
        QVERIFY2(QJsonDocument::fromJson(r.out).object()["error"].toString().contains(
                     "/nonexistent.gguf"),
                 r.out.constData());
    }

    // A run that fails once stored (here: a tap layer the model lacks) is one
    // error line, and its stored row is finished as "error", never left running.
    void failedRunIsStoredAsError() {
        QTemporaryDir dir;
        QString db = dir.filePath("runs.sqlite");
        QString model = QStringLiteral(RS_SOURCE_DIR) + "/resources/models/reasoner.gguf";
        if (!QFileInfo::exists(model)) QSKIP("the bundled model is missing");
        auto r = run({"run", "--model", model, "--task", "easy:easy-001", "--taps", "99", "--db",
                      db, "--threads", "1"});
        QCOMPARE(r.code, 2);
        QCOMPARE(r.err.count('\n'), 1);
        QVERIFY2(r.err.contains("tap layer 99"), r.err.constData());
        auto list = QJsonDocument::fromJson(run({"runs", "--db", db, "--json"}).out).array();
        QCOMPARE(list.size(), 1);
        QCOMPARE(list.at(0).toObject()["status"].toString(), QString("error"));
    }

    void everyCommandHasHelp() {
        for (const char* c : {"models", "tokenize", "run", "eval", "strategies", "scorers", "runs",
                              "show", "export", "import", "compare", "bench", "generate", "logits",
                              "demo", "branch", "lens"}) {
            auto r = run({c, "--help"});
            QCOMPARE(r.code, 0);
            QVERIFY(r.out.contains("usage: reasonscope"));
        }
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
