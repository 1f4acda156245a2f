// Python strategies in the desktop app (Xvfb, xcb, as tst_gui): the
// strategy printed in docs/plugin-guide.md, copied from the guide as it is,
// is listed with its parameter form, grows a live tree and is stored; a
// script dropped in while the app runs appears without a restart; a script
// with a syntax error is listed greyed out with its file and line; a script
// that raises shows its traceback; a script stuck in a loop is stopped by
// Stop; after each of these the app runs the next search.
#include <QApplication>
#include <QComboBox>
#include <QFile>
#include <QMessageBox>
#include <QRegularExpression>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include "gui/main_window.h"
#include "reasonscope/run_store.h"
#include "test_paths.h"

namespace {

// The first ```python block of the plugin guide: the strategy a reader copies.
QByteArray guide_strategy() {
    QFile f(QStringLiteral(RS_SOURCE_DIR) + "/docs/plugin-guide.md");
    if (!f.open(QIODevice::ReadOnly)) return {};
    const QString text = QString::fromUtf8(f.readAll());
    const QRegularExpression block("```python\\n(.*?)```",
                                   QRegularExpression::DotMatchesEverythingOption);
    const auto m = block.match(text);
    return m.hasMatch() ? m.captured(1).toUtf8() : QByteArray();
}

bool write(const QString& path, const QByteArray& text) {
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(text) == text.size();
}

QByteArray script(const char* id, const char* body) {
    return QByteArray("STRATEGY = {\"id\": \"") + id + "\", \"name\": \"" + id +
           "\", \"description\": \"test\", \"paper\": \"\", \"parameters\": []}\n\n"
           "def run(ctx, params):\n" +
           body;
}

}  // namespace

class TestGuiPython : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    QString scripts_;
    QString shots_ = QStringLiteral(RS_BINARY_DIR) + "/screenshots";

    // Index of a strategy in the box, -1 when absent.
    static int find(rs::gui::MainWindow& w, const QString& id) {
        return w.strategy_box()->findData(id);
    }
    // Runs the selected strategy to its end (the store's newest run: row).
    static void run_to_end(rs::gui::MainWindow& w, rs::RunStore& store, size_t runs_before,
                           rs::RunRow& row) {
        w.start_run();
        QTRY_VERIFY_WITH_TIMEOUT(store.list().size() == runs_before + 1 && !w.running(), 120000);
        QTRY_VERIFY_WITH_TIMEOUT(store.list().front().status != "running", 10000);
        row = store.list().front();
    }

  private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(tmp_.isValid());
        scripts_ = tmp_.filePath("strategies");
        QVERIFY(QDir().mkpath(scripts_));
        QDir().mkpath(shots_);
        // Only this test's scripts besides the build tree's plugins.
        qputenv("XDG_DATA_HOME", tmp_.filePath("data").toUtf8());
        qputenv("RS_STRATEGY_PATH", scripts_.toUtf8());
        qunsetenv("REASONSCOPE_PLUGIN_PATH");
    }

    void scriptsInTheApp() {
        const QString model = QStringLiteral(RS_SOURCE_DIR) + "/resources/models/reasoner.gguf";
        if (!QFileInfo::exists(model)) QSKIP("the bundled model is not there");
        const QByteArray guide = guide_strategy();
        QVERIFY2(guide.contains("def run(ctx, params):"), "no strategy in the guide");
        QVERIFY(write(scripts_ + "/ladder.py", guide));
        QVERIFY(write(scripts_ + "/broken.py",
                      "STRATEGY = {\"id\": \"broken\", \"name\": \"b\", \"parameters\": []}\n"
                      "def run(ctx, params)\n    pass\n"));

        rs::gui::WindowOptions opt;
        opt.model_path = model;
        opt.db_path = tmp_.filePath("runs.sqlite");
        opt.threads = 2;
        rs::gui::MainWindow w(opt);
        w.resize(1280, 720);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QTRY_VERIFY_WITH_TIMEOUT(w.model_ready(), 60000);
        auto store = rs::RunStore::open(opt.db_path.toStdString());

        // The guide's strategy: listed by its name, its parameters as a form.
        const int ladder = find(w, "temperature-ladder");
        QVERIFY(ladder >= 0);
        QCOMPARE(w.strategy_box()->itemText(ladder), QString("Temperature ladder"));
        w.strategy_box()->setCurrentIndex(ladder);
        auto* rungs = w.findChild<QSpinBox*>("param_rungs");
        QVERIFY(rungs);
        QCOMPARE(rungs->value(), 3);
        QCOMPARE(rungs->maximum(), 8);

        // The syntax error: listed, greyed out, its file and line as tooltip.
        const int broken = w.strategy_box()->findText("broken.py (cannot be read)");
        QVERIFY(broken >= 0);
        auto* items = qobject_cast<QStandardItemModel*>(w.strategy_box()->model());
        QVERIFY(!items->item(broken)->isEnabled());
        const QString why = items->item(broken)->toolTip();
        QVERIFY2(why.contains("broken.py:2: syntax error"), qPrintable(why));

        // It runs with a live tree and is stored.
        w.set_param("per_rung", 2);
        w.set_param("rungs", 2);
        w.set_param("quorum", 3);
        w.start_run();
        QTRY_VERIFY_WITH_TIMEOUT(w.running() && w.run_model()->tree().size() >= 3, 60000);
        QTRY_VERIFY_WITH_TIMEOUT(!w.running() && !store->list().empty(), 120000);
        QTRY_VERIFY_WITH_TIMEOUT(store->list().front().status != "running", 10000);
        rs::RunRow row = store->list().front();
        QCOMPARE(QString::fromStdString(row.strategy), QString("temperature-ladder"));
        QCOMPARE(QString::fromStdString(row.status), QString("ok"));
        QVERIFY(w.run_model()->tree().size() >= 5);  // root + 2 samples of 2 steps, at least
        w.grab().save(shots_ + "/python-strategy.png");

        // A script dropped in while the app runs: listed without a restart.
        QVERIFY(
            write(scripts_ + "/raiser.py", script("raiser",
                                                  "    kids = ctx.expand(ctx.root, 2)\n"
                                                  "    raise ValueError('no good step among %d' % "
                                                  "len(kids))\n")));
        QTRY_VERIFY_WITH_TIMEOUT(find(w, "raiser") >= 0, 10000);
        // The broken one fixed: it becomes a strategy.
        QVERIFY(write(scripts_ + "/broken.py",
                      script("broken", "    ctx.complete(ctx.expand(ctx.root, 1))\n")));
        QTRY_VERIFY_WITH_TIMEOUT(find(w, "broken") >= 0, 10000);
        QCOMPARE(w.strategy_box()->findText("broken.py (cannot be read)"), -1);

        // The raising script: its traceback in the app, the run stored as error.
        QString warning;
        QTimer closer;  // the failure is a modal warning: read it and answer it
        connect(&closer, &QTimer::timeout, [&warning] {
            if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget())) {
                warning = box->text();
                box->accept();
            }
        });
        closer.start(50);
        w.strategy_box()->setCurrentIndex(find(w, "raiser"));
        run_to_end(w, *store, 1, row);
        if (QTest::currentTestFailed()) return;
        QTRY_VERIFY_WITH_TIMEOUT(!warning.isEmpty(), 10000);
        QVERIFY2(warning.contains("Traceback") && warning.contains("raiser.py") &&
                     warning.contains("ValueError: no good step among 2"),
                 qPrintable(warning));
        QCOMPARE(QString::fromStdString(row.status), QString("error"));
        QVERIFY(QString::fromStdString(row.error).contains("ValueError"));

        // A script stuck in a loop: Stop ends it, as cancelled.
        QVERIFY(
            write(scripts_ + "/looper.py", script("looper",
                                                  "    ctx.expand(ctx.root, 1)\n    while True:\n"
                                                  "        pass\n")));
        QTRY_VERIFY_WITH_TIMEOUT(find(w, "looper") >= 0, 10000);
        w.strategy_box()->setCurrentIndex(find(w, "looper"));
        w.start_run();
        QTRY_VERIFY_WITH_TIMEOUT(w.running() && w.run_model()->tree().size() >= 2, 60000);
        QTest::qWait(300);
        w.stop_run();
        QTRY_VERIFY_WITH_TIMEOUT(!w.running(), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(
            store->list().size() == 3 && store->list().front().status != "running", 10000);
        QCOMPARE(QString::fromStdString(store->list().front().status), QString("cancelled"));

        // The app still works: the fixed script runs to the end.
        w.strategy_box()->setCurrentIndex(find(w, "broken"));
        run_to_end(w, *store, 3, row);
        if (QTest::currentTestFailed()) return;
        QCOMPARE(QString::fromStdString(row.strategy), QString("broken"));
        QCOMPARE(QString::fromStdString(row.status), QString("ok"));
        closer.stop();
    }
};

QTEST_MAIN(TestGuiPython)
#include "tst_gui_python.moc"
