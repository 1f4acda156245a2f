// Tokenizers against llama.cpp's own test vectors (every line of every
// .inp/.out pair in ../shared/reference/tokenizer), plus detokenization.
#include <QtTest>

#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "reasonscope/tokenizer.h"
#include "test_paths.h"

using namespace rs;

namespace {

std::vector<std::string> read_inputs(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    std::string all = f.readAll().toStdString();
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> out;
    size_t pos = 0, e;
    while ((e = all.find(sep, pos)) != std::string::npos) {
        out.push_back(all.substr(pos, e - pos));
        pos = e + sep.size();
    }
    // ggml-vocab-gemma-4.gguf.inp lacks the separator after its last string.
    if (pos < all.size()) out.push_back(all.substr(pos));
    return out;
}

std::vector<std::vector<TokenId>> read_outputs(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    std::vector<std::vector<TokenId>> out;
    for (const QByteArray& line : f.readAll().split('\n')) {
        std::vector<TokenId> ids;
        for (const QByteArray& t : line.split(' '))
            if (!t.isEmpty()) ids.push_back(t.toInt());
        out.push_back(ids);
    }
    if (!out.empty() && out.back().empty()) out.pop_back();  // text ends with a newline
    return out;
}

}  // namespace

class TestTokenizer : public QObject {
    Q_OBJECT
  private slots:
    void vocabVectors_data() {
        QTest::addColumn<QString>("name");
        for (const char* n : {"llama-spm", "phi-3", "llama-bpe", "qwen2", "gpt-2", "starcoder",
                              "deepseek-llm", "gemma-4", "qwen35"})
            QTest::newRow(n) << QString(n);
    }
    void vocabVectors() {
        RS_REQUIRE_REFERENCE();
        QFETCH(QString, name);
        QString base = rs::test::reference("tokenizer/ggml-vocab-" + name + ".gguf");
        auto f = GgufFile::open(base.toStdString());
        auto tok = Tokenizer::from_gguf(*f);
        auto inputs = read_inputs(base + ".inp");
        auto expected = read_outputs(base + ".out");
        QVERIFY(inputs.size() > 40);
        QCOMPARE(inputs.size(), expected.size());
        for (size_t i = 0; i < inputs.size(); ++i) {
            auto got = tok->encode(inputs[i], false, false);
            if (got != expected[i]) {
                QString msg = QString("string #%1 '%2' differs")
                                  .arg(i)
                                  .arg(QString::fromStdString(inputs[i]));
                QFAIL(qPrintable(msg));
            }
            // Detokenizing gives the text back (SPM adds its leading space).
            std::string back = tok->decode(got);
            std::string want = inputs[i];
            if (tok->kind() == Tokenizer::Kind::Spm && !want.empty()) want = " " + want;
            if (back != want)
                QFAIL(qPrintable(QString("string #%1 does not round-trip: '%2'")
                                     .arg(i)
                                     .arg(QString::fromStdString(back))));
        }
    }

    void specialTokens() {
        RS_REQUIRE_REFERENCE();
        auto f = GgufFile::open(
            rs::test::reference("tokenizer/ggml-vocab-llama-spm.gguf").toStdString());
        auto tok = Tokenizer::from_gguf(*f);
        QCOMPARE(tok->bos(), 1);
        QCOMPARE(tok->eos(), 2);
        auto ids = tok->encode("Hello", true, false);
        QCOMPARE(ids.front(), 1);
        // "<s>" is text unless special parsing is asked for.
        auto as_text = tok->encode("<s>Hi", false, false);
        auto as_special = tok->encode("<s>Hi", false, true);
        QVERIFY(as_text.front() != 1);
        QCOMPARE(as_special.front(), 1);
        QCOMPARE(tok->token_to_piece(1, false), std::string());
        QCOMPARE(tok->token_to_piece(1, true), std::string("<s>"));
    }

    void bpeByteFallbackDecodes() {
        RS_REQUIRE_REFERENCE();
        auto f =
            GgufFile::open(rs::test::reference("tokenizer/ggml-vocab-qwen2.gguf").toStdString());
        auto tok = Tokenizer::from_gguf(*f);
        std::string s = "caf\xc3\xa9 \xf0\x9f\xa6\x99 \tx\n";
        QCOMPARE(tok->decode(tok->encode(s)), s);
    }

    void gemma4SpmStyleBpe() {
        RS_REQUIRE_REFERENCE();
        auto f =
            GgufFile::open(rs::test::reference("tokenizer/ggml-vocab-gemma-4.gguf").toStdString());
        auto tok = Tokenizer::from_gguf(*f);
        QCOMPARE(tok->pre(), std::string("gemma4"));
        QCOMPARE(tok->encode("Hi", true).front(), tok->bos());
        // Spaces are escaped to U+2581 inside the merged pieces.
        auto ids = tok->encode("a  b");
        QCOMPARE(ids.size(), size_t{3});
        QCOMPARE(tok->token_text(ids[1]), std::string("\xe2\x96\x81\xe2\x96\x81"));
        // A run of newlines that is a token stays whole.
        ids = tok->encode("x\n\ny");
        QCOMPARE(ids.size(), size_t{3});
        QCOMPARE(tok->token_text(ids[1]), std::string("\n\n"));
        // A character outside the vocabulary falls back to <0xXX> tokens.
        std::string rare = "\xf4\x8f\xbf\xbd";  // U+10FFFD
        ids = tok->encode(rare);
        QCOMPARE(ids.size(), size_t{4});
        QCOMPARE(tok->token_text(ids[0]), std::string("<0xF4>"));
        QCOMPARE(tok->token_attr(ids[0]), TokenAttr::Byte);
        QCOMPARE(tok->decode(ids), rare);
    }

    void qwen35KeepsCombiningMarksInWords() {
        RS_REQUIRE_REFERENCE();
        auto f =
            GgufFile::open(rs::test::reference("tokenizer/ggml-vocab-qwen35.gguf").toStdString());
        auto tok = Tokenizer::from_gguf(*f);
        // Thai "kap" has a combining mark (U+0E31) inside; qwen2's pattern
        // splits the word there and misses its vocabulary entry.
        std::string word = "\xe0\xb8\x81\xe0\xb8\xb1\xe0\xb8\x9a";
        auto ids = tok->encode(word);
        QCOMPARE(ids.size(), size_t{1});
        QCOMPARE(tok->decode(ids), word);
    }

    void missingTokenizerIsAnError() {
        GgufWriter w;
        w.add_string("general.architecture", "llama");
        auto b = w.to_bytes();
        auto f = GgufFile::parse(b, "x.gguf");
        try {
            Tokenizer::from_gguf(*f);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("tokenizer.ggml.model"));
        }
        GgufWriter w2;
        w2.add_string("tokenizer.ggml.model", "gpt2");
        w2.add_string("tokenizer.ggml.pre", "martian");
        w2.add_string_array("tokenizer.ggml.tokens", {"a"});
        w2.add_string_array("tokenizer.ggml.merges", {});
        auto b2 = w2.to_bytes();
        auto f2 = GgufFile::parse(b2, "y.gguf");
        try {
            Tokenizer::from_gguf(*f2);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("martian"));
        }
    }
};

QTEST_APPLESS_MAIN(TestTokenizer)
#include "tst_tokenizer.moc"
