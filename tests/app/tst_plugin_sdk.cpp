// The plugin SDK as a user outside the project meets it: the build tree is
// installed into a fresh prefix, the example strategy plugin
// (examples/strategy-plugin) is configured and built against that prefix
// alone with find_package(Reasonscope), and the installed app runs it and
// stores its run; the installed `import reasonscope` finds the installed
// plugins.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "sql_query.h"
#include "test_paths.h"

namespace {

struct Result {
    int code = -1;
    QByteArray out, err;
};

Result run(const QString& program, const QStringList& args,
           const QProcessEnvironment& env = QProcessEnvironment::systemEnvironment(),
           int timeout_ms = 300000) {
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(program, args);
    if (!p.waitForFinished(timeout_ms)) {
        p.kill();
        p.waitForFinished();
        return {-1, p.readAllStandardOutput(), "timed out: " + p.readAllStandardError()};
    }
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

QString show(const Result& r) {
    return QString::fromUtf8(r.out.right(2000) + "\n" + r.err.right(2000));
}

}  // namespace

class TestPluginSdk : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString prefix_, plugin_build_;
    // Nothing from the user's own folders: no plugins or scripts but ours.
    QProcessEnvironment clean_env() const {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("XDG_DATA_HOME", dir_.filePath("data"));
        env.remove("REASONSCOPE_PLUGIN_PATH");
        env.remove("RS_STRATEGY_PATH");
        env.remove("PYTHONPATH");
        return env;
    }

  private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        prefix_ = dir_.filePath("prefix");
        plugin_build_ = dir_.filePath("plugin-build");
    }

    // `cmake --install` puts the SDK beside the app: headers, the engine
    // library, the package config, and the Python module.
    void installsTheSdk() {
        Result r = run("cmake", {"--install", RS_BINARY_DIR, "--prefix", prefix_});
        QVERIFY2(r.code == 0, qPrintable(show(r)));
        for (const char* f :
             {"bin/reasonscope", "lib/librs_engine.so", "include/reasonscope/search.h",
              "include/reasonscope/strategy_plugin.h", "include/reasonscope/scorer_plugin.h",
              "lib/cmake/Reasonscope/ReasonscopeConfig.cmake",
              "lib/cmake/Reasonscope/ReasonscopeConfigVersion.cmake",
              "lib/cmake/Reasonscope/ReasonscopeTargets.cmake",
              "lib/cmake/Reasonscope/ReasonscopePlugin.cmake",
              "lib/reasonscope/plugins/self_consistency.so",
              "share/reasonscope/resources/models/reasoner.gguf"})
            QVERIFY2(QFileInfo::exists(prefix_ + "/" + f), f);
        // Engine internals (the kernels, the backends' sources) stay out.
        QVERIFY(!QFileInfo::exists(prefix_ + "/include/kernels.h"));
        QVERIFY(QDir(prefix_ + "/lib/python3/dist-packages")
                    .entryList({"reasonscope*.so"}, QDir::Files)
                    .size() == 1);
    }

    // The example builds out of tree against the installed prefix only.
    void buildsTheExampleAgainstTheInstalledTree() {
        QVERIFY(QFileInfo::exists(prefix_ + "/bin/reasonscope"));
        Result r =
            run("cmake",
                {"-S", RS_SOURCE_DIR "/examples/strategy-plugin", "-B", plugin_build_, "-G",
                 "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_CXX_COMPILER=" RS_CXX_COMPILER,
                 "-DCMAKE_PREFIX_PATH=" + prefix_, "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"},
                clean_env());
        QVERIFY2(r.code == 0, qPrintable(show(r)));
        // The package found is the installed one.
        QFile cache(plugin_build_ + "/CMakeCache.txt");
        QVERIFY(cache.open(QIODevice::ReadOnly));
        QVERIFY(cache.readAll().contains(
            ("Reasonscope_DIR:PATH=" + prefix_ + "/lib/cmake/Reasonscope").toUtf8()));
        r = run("cmake", {"--build", plugin_build_}, clean_env());
        QVERIFY2(r.code == 0, qPrintable(show(r)));
        QVERIFY(QFileInfo::exists(plugin_build_ + "/lowest_entropy.so"));
    }

    // The installed app lists it (from REASONSCOPE_PLUGIN_PATH) with its
    // parameters, runs it on the bundled model, and stores the run.
    void installedAppRunsTheExample() {
        QVERIFY(QFileInfo::exists(plugin_build_ + "/lowest_entropy.so"));
        QProcessEnvironment env = clean_env();
        env.insert("REASONSCOPE_PLUGIN_PATH", plugin_build_);
        const QString app = prefix_ + "/bin/reasonscope";
        Result r = run(app, {"strategies"}, env);
        QVERIFY2(r.code == 0, qPrintable(show(r)));
        QVERIFY(r.out.contains("lowest-entropy — Lowest entropy of N"));
        QVERIFY(r.out.contains("--set n=8"));

        const QString db = dir_.filePath("runs.sqlite");
        r = run(app,
                {"run", "--model", prefix_ + "/share/reasonscope/resources/models/reasoner.gguf",
                 "--prompt", "Q: 13+7*4\n", "--strategy", "lowest-entropy", "--set", "n=4",
                 "--threads", "2", "--db", db},
                env);
        QVERIFY2(r.code == 0, qPrintable(show(r)));
        const std::string d = db.toStdString();
        QCOMPARE(rs::test::query_int(d,
                                     "SELECT count(*) FROM runs WHERE strategy = "
                                     "'lowest-entropy' AND status = 'ok'"),
                 int64_t{1});
        // Its four traces were scored by their mean entropy; the chosen one
        // is the least uncertain.
        QCOMPARE(rs::test::query_int(d,
                                     "SELECT count(*) FROM scores WHERE scorer = "
                                     "'neg_mean_entropy'"),
                 int64_t{4});
        QCOMPARE(rs::test::query_int(
                     d,
                     "SELECT count(*) FROM scores WHERE scorer = 'neg_mean_entropy' AND value > "
                     "(SELECT s.value FROM scores s JOIN runs r ON r.id = s.run_id "
                     "WHERE s.scorer = 'neg_mean_entropy' AND s.node_id = r.chosen_node)"),
                 int64_t{0});
    }

    // `import reasonscope` from the installed tree finds that tree's plugins.
    void installedPythonModuleFindsInstalledPlugins() {
        const QString site = prefix_ + "/lib/python3/dist-packages";
        QVERIFY(QFileInfo(site).isDir());
        QProcessEnvironment env = clean_env();
        env.insert("PYTHONPATH", site);
        Result r = run("python3",
                       {"-c",
                        "import reasonscope, os\n"
                        "print(os.path.dirname(reasonscope.__file__))\n"
                        "ids = sorted(s['id'] for s in reasonscope.strategies())\n"
                        "print(','.join(ids))\n"},
                       env);
        QVERIFY2(r.code == 0, qPrintable(show(r)));
        const QList<QByteArray> lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 2);
        QCOMPARE(QFileInfo(QString::fromUtf8(lines[0])).canonicalFilePath(),
                 QFileInfo(site).canonicalFilePath());
        for (const char* id : {"self-consistency", "beam-search", "py-self-consistency"})
            QVERIFY2(lines[1].split(',').contains(id), lines[1].constData());
    }
};

QTEST_GUILESS_MAIN(TestPluginSdk)
#include "tst_plugin_sdk.moc"
