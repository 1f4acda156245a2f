// The CUDA backend. Everywhere: the registry says why "cuda" cannot run and
// "auto" takes the CPU; the module and its CUDA libraries load without a
// driver; the weight decoders the kernels use (kernels/cuda/quant.h) give the
// CPU's dequantized values to the bit, on every supported type. With a
// device (tools/device-check.sh on a lent GPU machine): every op through a
// whole forward pass against the CPU backend by normalised error, for each
// weight type, prompts and steps of 1, 8 and 64 forked branches;
// batch-invariant decode on the device; a search giving the same answers on
// both backends; one clear error when the device lacks memory.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "cpu/kernels.h"
#include "cuda/quant.h"
#include "cuda_checks.h"
#include "reasonscope/backend.h"
#include "reasonscope/cuda_backend.h"
#include "reasonscope/error.h"
#include "reasonscope/model.h"
#include "reasonscope/session.h"
#include "test_paths.h"

using namespace rs;

namespace {

// Equal values (a zero's sign aside: the CPU's Q5_0 adds its zero minimum;
// a NaN's payload aside: which of two NaN operands an addition passes on is
// the compiler's choice of operand order).
bool same_value(float a, float b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    return a == b;
}

bool have_device() {
    return cuda_status().usable();
}

#define REQUIRE_DEVICE()                                                                          \
    do {                                                                                          \
        if (!have_device())                                                                       \
            QSKIP(qPrintable("no CUDA device: " + QString::fromStdString(cuda_status().why_not) + \
                             " (tools/device-check.sh runs these on a GPU machine)"));            \
    } while (0)

QString bundled_model() {
    return QStringLiteral(RS_SOURCE_DIR) + "/resources/models/reasoner.gguf";
}

}  // namespace

class TstCudaBackend : public QObject {
    Q_OBJECT

  private slots:
    // --- everywhere ---

    void registrySaysWhyCudaCannotRun() {
        const CudaStatus& st = cuda_status();
        bool listed = false;
        for (const BackendInfo& b : backends()) listed |= b.name == "cuda";
        QVERIFY(listed);
        if (st.usable()) QSKIP("a CUDA device is present: the device tests below cover it");
        QVERIFY(!st.why_not.empty());
        auto model = Model::load(bundled_model().toStdString());
        try {
            make_backend("cuda", *model, {});
            QFAIL("asking for cuda without a device must fail");
        } catch (const Error& e) {
            QVERIFY2(
                QString(e.what()).contains("no CUDA device: " + QString::fromStdString(st.why_not)),
                e.what());
        }
        std::string reason;
        auto b = make_backend("auto", *model, {}, &reason);
        QVERIFY2(b->name().starts_with("cpu"), b->name().c_str());
        QVERIFY2(QString::fromStdString(reason).contains("cuda: no CUDA device"), reason.c_str());
    }

    // The module and the CUDA libraries it links (cudart, cuBLAS) load on a
    // machine without a driver; the runtime then says why there is no device.
    void moduleLoadsWithoutADriver() {
        const CudaStatus st = cuda_probe(false);
        if (!st.built) QSKIP("this build has no CUDA backend (no nvcc at build time)");
        QVERIFY2(st.loaded, st.why_not.c_str());
        QVERIFY2(st.runtime_version >= 12000, qPrintable(QString::number(st.runtime_version)));
        if (!st.driver) {
            QVERIFY(!st.usable());
            QVERIFY(st.devices.empty());
        }
    }

    // The whole probe in a real process where a driver library loads but
    // there is no GPU (CUDA's stub libcuda.so, found through
    // LD_LIBRARY_PATH): the module and cuBLAS load, the runtime's answer is
    // the reason, `auto` takes the CPU; a missing module is named.
    void probeWithADriverButNoDevice() {
#ifndef RS_CUDA_STUB_DRIVER
        QSKIP("this build has no CUDA backend (no nvcc at build time)");
#else
        if (have_device()) QSKIP("a CUDA device is present");
        QTemporaryDir dir;
        QVERIFY(QFile::link(RS_CUDA_STUB_DRIVER, dir.filePath("libcuda.so.1")));
        auto devices = [&](const QString& module) {
            QProcess p;
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert("LD_LIBRARY_PATH", dir.path() + ":" + env.value("LD_LIBRARY_PATH"));
            if (!module.isEmpty()) env.insert("RS_CUDA_MODULE", module);
            p.setProcessEnvironment(env);
            p.start(rs::test::binary("reasonscope"), {"devices", "--json"});
            if (!p.waitForFinished(60000) || p.exitCode() != 0) return nlohmann::json();
            return nlohmann::json::parse(p.readAllStandardOutput().toStdString());
        };
        const nlohmann::json j = devices({});
        QVERIFY2(j.contains("cuda"), j.dump().c_str());
        const nlohmann::json& c = j["cuda"];
        QVERIFY2(c["driver"].get<bool>() && c["loaded"].get<bool>(), c.dump().c_str());
        QVERIFY2(c["runtime_version"].get<int>() >= 12000, c.dump().c_str());
        QVERIFY2(QString::fromStdString(c["why_not"].get<std::string>()).contains("stub"),
                 c.dump().c_str());
        QCOMPARE(j["auto"].get<std::string>(), std::string("cpu"));
        const nlohmann::json missing = devices(dir.filePath("nothing-here.so"));
        QVERIFY2(QString::fromStdString(missing["cuda"]["why_not"].get<std::string>())
                     .contains("cannot load " + dir.filePath("nothing-here.so")),
                 missing.dump().c_str());
        QVERIFY(!missing["cuda"]["loaded"].get<bool>());
#endif
    }

    // Random blocks (every bit pattern of scales and quants, NaN and
    // subnormal scales included) and rows of real files: quant.h's decoding
    // equals the CPU's dequantization bit for bit.
    void decodersMatchTheCpu_data() {
        QTest::addColumn<int>("type");
        for (uint32_t t = 0; t < 64; ++t)
            if (cuda::supported_type(t))
                QTest::newRow(std::string(type_name(static_cast<GgmlType>(t))).c_str())
                    << static_cast<int>(t);
    }
    void decodersMatchTheCpu() {
        QFETCH(int, type);
        const auto t = static_cast<uint32_t>(type);
        const int n = 512;  // two K-quant blocks, 16 small blocks
        const size_t bytes = static_cast<size_t>(n / cuda::block_elems(t)) * cuda::block_bytes(t);
        std::mt19937 rng(7 + type);
        std::vector<uint8_t> row(bytes);
        std::vector<float> want(n), got(n);
        for (int trial = 0; trial < 200; ++trial) {
            for (uint8_t& b : row) b = static_cast<uint8_t>(rng());
            if (t == cuda::kF32)  // keep F32 values finite and ordinary
                for (int i = 0; i < n; ++i) {
                    const float v = std::ldexp(static_cast<float>(rng() % 2001) - 1000, -7);
                    std::memcpy(row.data() + 4 * i, &v, 4);
                }
            QVERIFY(kernels::dequantize_row(t, row.data(), want.data(), n));
            for (int c = 0; c < n / 8; ++c) cuda::decode8_any(t, row.data(), c, got.data() + 8 * c);
            for (int i = 0; i < n; ++i)
                if (!same_value(want[static_cast<size_t>(i)], got[static_cast<size_t>(i)]))
                    QFAIL(qPrintable(QString("trial %1, element %2: cpu %3, cuda decoder %4")
                                         .arg(trial)
                                         .arg(i)
                                         .arg(want[static_cast<size_t>(i)])
                                         .arg(got[static_cast<size_t>(i)])));
        }
    }

    void decodersMatchOnRealFiles_data() {
        QTest::addColumn<QString>("path");
        for (const char* n :
             {"mini-llama-Q4_0", "mini-llama-Q8_0", "mini-llama-Q4_K_M", "mini-llama-Q5_K_M",
              "mini-llama-f16", "mini-qwen3-Q4_K_M", "mini-llama-Q2_K", "mini-llama-Q3_K_M",
              "mini-llama-IQ4_NL", "mini-llama-IQ4_XS", "mini-gptoss-MXFP4"})
            QTest::newRow(n) << rs::test::reference(QString("models/") + n + ".gguf");
        QTest::newRow("reasoner") << bundled_model();
    }
    void decodersMatchOnRealFiles() {
        QFETCH(QString, path);
        if (!QFileInfo::exists(path)) RS_REQUIRE_REFERENCE();
        auto m = Model::load(path.toStdString());
        int checked = 0;
        for (const Weight* w : m->weights()) {
            if (!cuda::supported_type(w->type) || w->cols % 8) continue;
            std::vector<float> want(static_cast<size_t>(w->cols)), got(want.size());
            for (int64_t r : {int64_t{0}, w->rows / 2, w->rows - 1}) {
                QVERIFY(kernels::dequantize_row(w->type, w->row(r), want.data(), w->cols));
                for (int c = 0; c < w->cols / 8; ++c)
                    cuda::decode8_any(w->type, w->row(r), c, got.data() + 8 * c);
                QVERIFY2(std::equal(want.begin(), want.end(), got.begin(), same_value),
                         qPrintable(QString::fromStdString(w->tensor->name) + " row " +
                                    QString::number(r)));
            }
            ++checked;
        }
        QVERIFY(checked > 0);
    }

    // --- with a device ---

    // Prompt and decode steps of 1, 8 and 64 forked branches on both
    // backends: every logit row within a normalised error of the CPU's, the
    // same top token where the CPU's lead is clear.
    void forwardMatchesTheCpu_data() {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("kv");
        QTest::newRow("reasoner") << bundled_model() << "f32";
        QTest::newRow("reasoner f16 kv") << bundled_model() << "f16";
        for (const char* n :
             {"mini-llama-f16",    "mini-llama-Q8_0",    "mini-llama-Q4_0",   "mini-llama-Q4_K_M",
              "mini-llama-Q5_K_M", "mini-llama-Q2_K",    "mini-llama-Q3_K_M", "mini-llama-IQ4_NL",
              "mini-llama-IQ4_XS", "mini-qwen2-Q8_0",    "mini-qwen2-f16",    "mini-qwen3-Q4_K_M",
              "mini-qwen3-f16",    "mini-gemma3-Q4_K_M", "mini-gemma3-f16",   "mini-phi3-f16",
              "mini-smollm3-f16",  "mini-qwen3moe-f16",  "mini-gptoss-f16",   "mini-gptoss-MXFP4",
              "stories260K"})
            QTest::newRow(n) << rs::test::reference(QString("models/") + n + ".gguf") << "f32";
    }
    void forwardMatchesTheCpu() {
        REQUIRE_DEVICE();
        QFETCH(QString, path);
        QFETCH(QString, kv);
        if (!QFileInfo::exists(path)) RS_REQUIRE_REFERENCE();
        std::string log;
        const std::string err = cuda_checks::forward_matches_cpu(
            path.toStdString(), parse_kv_type(kv.toStdString()), log);
        QVERIFY2(err.empty(), err.c_str());
        qInfo("%s", log.c_str());
    }

    void batchedDecodeEqualsSingleOnTheDevice() {
        REQUIRE_DEVICE();
        const std::string err = cuda_checks::batched_equals_single(bundled_model().toStdString());
        QVERIFY2(err.empty(), err.c_str());
    }

    void notEnoughDeviceMemoryIsOneClearError() {
        REQUIRE_DEVICE();
        const std::string err = cuda_checks::memory_error_is_clear(bundled_model().toStdString());
        QVERIFY2(err.empty(), err.c_str());
    }

    void searchGivesTheSameAnswersOnBothBackends() {
        REQUIRE_DEVICE();
        std::string log;
        const std::string err =
            cuda_checks::search_same_answers(bundled_model().toStdString(), log);
        QVERIFY2(err.empty(), err.c_str());
        qInfo("%s", log.c_str());
    }

    void samplingOnTheDeviceEqualsTheHost() {
        REQUIRE_DEVICE();
        std::string log;
        const std::string err =
            cuda_checks::device_draw_matches_host(bundled_model().toStdString(), log);
        QVERIFY2(err.empty(), err.c_str());
        qInfo("%s", log.c_str());
    }
};

QTEST_GUILESS_MAIN(TstCudaBackend)
#include "tst_cuda_backend.moc"
