// GGUF reader and writer: round trips, every reference file, and damaged
// files that must give a clear rs::Error (never a crash).
#include <QtTest>
#include <cstring>

#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "test_paths.h"

using namespace rs;

namespace {

std::vector<uint8_t> small_file() {
    GgufWriter w;
    w.add_string("general.architecture", "llama");
    w.add_u32("llama.block_count", 2);
    w.add_f32("llama.rope.freq_base", 10000.0f);
    w.add_bool("tokenizer.ggml.add_bos_token", true);
    w.add_string_array("tokenizer.ggml.tokens", {"<unk>", "a", "b"});
    w.add_f32_array("tokenizer.ggml.scores", {0.f, -1.f, -2.f});
    w.add_i32_array("tokenizer.ggml.token_type", {2, 1, 1});
    std::vector<uint8_t> f32(4 * 8 * 2);
    for (size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<uint8_t>(i);
    w.add_tensor("a.weight", GgmlType::F32, {8, 2}, f32);
    w.add_tensor("b.weight", GgmlType::Q8_0, {32, 3}, std::vector<uint8_t>(34 * 3, 7));
    return w.to_bytes();
}

template <typename T>
void poke(std::vector<uint8_t>& b, size_t at, T v) {
    std::memcpy(b.data() + at, &v, sizeof v);
}

QString parse_error(const std::vector<uint8_t>& b) {
    try {
        GgufFile::parse(b, "test.gguf");
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

}  // namespace

class TestGguf : public QObject {
    Q_OBJECT
  private slots:
    void roundTrip() {
        auto bytes = small_file();
        auto f = GgufFile::parse(bytes);
        QCOMPARE(f->version(), 3u);
        QCOMPARE(f->get_string("general.architecture"), std::string("llama"));
        QCOMPARE(f->get_int("llama.block_count"), 2);
        QCOMPARE(f->get_float("llama.rope.freq_base"), 10000.0);
        QVERIFY(f->get_bool("tokenizer.ggml.add_bos_token", false));
        QCOMPARE(f->get_array("tokenizer.ggml.tokens").items.size(), size_t(3));
        QCOMPARE(f->get_array("tokenizer.ggml.tokens").items[2].str, std::string_view("b"));
        QCOMPARE(f->tensors().size(), size_t(2));
        const GgufTensor* a = f->find_tensor("a.weight");
        QVERIFY(a);
        QCOMPARE(a->n_bytes, uint64_t(64));
        QCOMPARE(a->data[5], uint8_t(5));
        QCOMPARE(uint64_t(a->data - bytes.data()) % 32, uint64_t(0));
        const GgufTensor* b = f->find_tensor("b.weight");
        QCOMPARE(b->type, GgmlType::Q8_0);
        QCOMPARE(b->n_bytes, uint64_t(102));
        QCOMPARE(b->rows(), int64_t(3));
        QCOMPARE(b->data[101], uint8_t(7));
    }

    void missingKeyNamesTheKey() {
        auto bytes = small_file();
        auto f = GgufFile::parse(bytes, "m.gguf");
        try {
            f->get_int("llama.context_length");
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("llama.context_length"));
        }
    }

    // Every prefix that cuts into the header or tensor data is an error, never a crash.
    void everyTruncationFails() {
        auto bytes = small_file();
        auto whole = GgufFile::parse(bytes);
        uint64_t end = 0;
        for (const auto& t : whole->tensors())
            end = std::max(end, whole->data_offset() + t.offset + t.n_bytes);
        QVERIFY(end > 600 && end <= bytes.size());
        for (size_t n = 0; n < end; ++n) {
            std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(n));
            QString err = parse_error(cut);
            if (err.isEmpty()) QFAIL(qPrintable(QString("prefix of %1 bytes parsed").arg(n)));
        }
    }

    void badMagic() {
        auto b = small_file();
        b[0] = 'X';
        QVERIFY(parse_error(b).contains("bad magic"));
    }

    void badVersion() {
        auto b = small_file();
        poke<uint32_t>(b, 4, 99);
        QVERIFY(parse_error(b).contains("version 99"));
    }

    void hugeCounts() {
        auto b = small_file();
        poke<uint64_t>(b, 8, uint64_t(1) << 60);
        QVERIFY(parse_error(b).contains("tensor count"));
        b = small_file();
        poke<uint64_t>(b, 16, uint64_t(1) << 60);
        QVERIFY(parse_error(b).contains("metadata count"));
    }

    void hugeStringLength() {
        auto b = small_file();
        poke<uint64_t>(b, 24, uint64_t(1) << 50);  // first key's length
        QVERIFY(parse_error(b).contains("length"));
    }

    void unknownValueType() {
        auto b = small_file();
        // first kv: key length (8) + "general.architecture" (20) then type at 24+8+20
        poke<uint32_t>(b, 24 + 8 + 20, 77);
        QString e = parse_error(b);
        QVERIFY2(e.contains("general.architecture") && e.contains("unknown value type 77"),
                 qPrintable(e));
    }

    void duplicateKey() {
        GgufWriter w;
        w.add_u32("x", 1);
        w.add_u32("x", 2);
        QVERIFY(parse_error(w.to_bytes()).contains("duplicate metadata key 'x'"));
    }

    void duplicateTensor() {
        GgufWriter w;
        w.add_tensor("t", GgmlType::F32, {4}, std::vector<uint8_t>(16));
        w.add_tensor("t", GgmlType::F32, {4}, std::vector<uint8_t>(16));
        QVERIFY(parse_error(w.to_bytes()).contains("duplicate tensor name 't'"));
    }

    void unknownTensorTypeAndDataPastEnd() {
        GgufWriter w;
        w.add_tensor("w", GgmlType::F32, {4}, std::vector<uint8_t>(16));
        auto b = w.to_bytes();
        // header 24 bytes, name (8+1), n_dims (4), dim (8), type (4), offset (8)
        size_t type_at = 24 + 9 + 4 + 8;
        auto c = b;
        poke<uint32_t>(c, type_at, 5);  // 5 was Q4_2, removed from the format
        QString e = parse_error(c);
        QVERIFY2(e.contains("tensor 'w'") && e.contains("unknown tensor type 5"), qPrintable(e));
        c = b;
        poke<uint64_t>(c, type_at + 4, 1024);
        e = parse_error(c);
        QVERIFY2(e.contains("tensor 'w'") && e.contains("past the end"), qPrintable(e));
        c = b;
        poke<uint64_t>(c, type_at + 4, 3);
        QVERIFY(parse_error(c).contains("not aligned"));
    }

    void hugeAlignmentIsTooLarge() {
        for (uint32_t al : {1u << 20, 1u << 31}) {
            GgufWriter w;
            w.add_u32("general.alignment", al);
            const QString e = parse_error(w.to_bytes());
            QVERIFY2(e.contains("general.alignment " + QString::number(al) +
                                " is too large (at most 65536)"),
                     qPrintable(e));
        }
        GgufWriter w;
        w.add_u32("general.alignment", 48);
        QVERIFY(parse_error(w.to_bytes()).contains("general.alignment 48 is not a power of two"));
    }

    void blockSizeMismatch() {
        GgufWriter w;
        w.add_tensor("q", GgmlType::Q8_0, {32}, std::vector<uint8_t>(34));
        auto b = w.to_bytes();
        poke<uint64_t>(b, 24 + 9 + 4, 33);  // ne0 = 33 is not a multiple of 32
        QVERIFY(parse_error(b).contains("block size"));
    }

    void openMissingFile() {
        try {
            GgufFile::open("/nonexistent/model.gguf");
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("/nonexistent/model.gguf"));
        }
    }

    void referenceModels() {
        RS_REQUIRE_REFERENCE();
        QDir dir(rs::test::reference("models"));
        int n = 0;
        for (const QString& name : dir.entryList({"*.gguf"})) {
            auto f = GgufFile::open(dir.filePath(name).toStdString());
            QVERIFY(!f->tensors().empty());
            QVERIFY(f->has("general.architecture"));
            uint64_t end = 0;
            for (const auto& t : f->tensors())
                end = std::max(end, f->data_offset() + t.offset + t.n_bytes);
            QVERIFY(end <= f->file_size());
            ++n;
        }
        QVERIFY2(n >= 7, qPrintable(QString::number(n)));  // every model there opens
        auto q = GgufFile::open(rs::test::reference("models/mini-llama-Q4_K_M.gguf").toStdString());
        int q4k = 0, q6k = 0;
        for (const auto& t : q->tensors()) {
            q4k += t.type == GgmlType::Q4_K;
            q6k += t.type == GgmlType::Q6_K;
        }
        QVERIFY(q4k > 0 && q6k > 0);
    }

    // Writer output read back equals the original file's content.
    void rewriteReferenceModel() {
        RS_REQUIRE_REFERENCE();
        auto f = GgufFile::open(rs::test::reference("models/stories260K.gguf").toStdString());
        GgufWriter w;
        w.add_string("general.architecture", f->get_string("general.architecture"));
        for (const auto& t : f->tensors())
            w.add_tensor(t.name, t.type, t.dims, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
        auto bytes = w.to_bytes();
        auto g = GgufFile::parse(bytes);
        QCOMPARE(g->tensors().size(), f->tensors().size());
        for (size_t i = 0; i < f->tensors().size(); ++i) {
            const auto& a = f->tensors()[i];
            const auto& b = g->tensors()[i];
            QCOMPARE(b.name, a.name);
            QCOMPARE(b.dims, a.dims);
            QVERIFY(std::memcmp(a.data, b.data, a.n_bytes) == 0);
        }
    }
};

QTEST_APPLESS_MAIN(TestGguf)
#include "tst_gguf.moc"
