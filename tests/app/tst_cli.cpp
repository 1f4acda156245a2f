// The reasonscope binary as a user runs it: commands, their output, and
// one-line errors with exit code 2 on bad input.
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "test_paths.h"

namespace {

struct Result {
    int code;
    QByteArray out, err;
};

Result run(const QStringList& args) {
    QProcess p;
    p.start(rs::test::binary("reasonscope"), args);
    p.waitForFinished(120000);
    return {p.exitCode(), p.readAllStandardOutput(), p.readAllStandardError()};
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT
private slots:
    void vocabTestReproducesEveryOutFile_data() {
        QTest::addColumn<QString>("name");
        for (const char* n : {"llama-spm", "phi-3", "llama-bpe", "qwen2", "gpt-2", "starcoder", "deepseek-llm"})
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
        auto r = run({"tokenize", "--model", rs::test::reference("tokenizer/ggml-vocab-llama-spm.gguf"), "Hello world"});
        QCOMPARE(r.code, 0);
        QCOMPARE(r.out.trimmed(), QByteArray("15043 3186"));
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
            QCOMPARE(doc["architecture"].toString(), n.contains("qwen2") ? QString("qwen2") : QString("llama"));
        }
        auto r = run({"models", "info", rs::test::reference("models/mini-llama-Q4_K_M.gguf")});
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("Q4_K"));
        QVERIFY(r.out.contains("Q6_K"));
        QVERIFY(r.out.contains("context_length"));
    }

    void badInputIsOneLineExitTwo() {
        QTemporaryDir tmp;
        QString bad = tmp.filePath("bad.gguf");
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("GGUF\x03\x00\x00\x00garbage", 16);
        f.close();
        for (const QStringList& args : {QStringList{"models", "info", bad}, QStringList{"models", "info", "/no/such.gguf"},
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

    void everyCommandHasHelp() {
        for (const char* c : {"models", "tokenize"}) {
            auto r = run({c, "--help"});
            QCOMPARE(r.code, 0);
            QVERIFY(r.out.contains("usage: reasonscope"));
        }
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
