// The desktop app under Xvfb (xcb platform, so the ImGui monitor's OpenGL
// widget runs too): start the window on a real model, run a search, save
// screenshots mid-run and of the stored run, and check that the tree has
// nodes and the token view coloured text.
#include <sqlite3.h>

#include <QApplication>
#include <QComboBox>
#include <QDialog>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QProcess>
#include <QScreen>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QtTest>

#include "gui/main_window.h"
#include "test_paths.h"
#include "widgets/token_view.h"
#include "widgets/tree_view.h"

class TestGui : public QObject {
    Q_OBJECT
    QString shots_ = QStringLiteral(RS_BINARY_DIR) + "/screenshots";

    QString model_path() {
        QString bundled = QStringLiteral(RS_SOURCE_DIR) + "/resources/models/reasoner.gguf";
        if (QFileInfo::exists(bundled)) return bundled;
        return rs::test::have_reference() ? rs::test::reference("models/stories260K.gguf")
                                          : QString();
    }
    // A window on the test model with its own run store (model_path empty
    // when there is no model).
    rs::gui::WindowOptions window_options(const QTemporaryDir& tmp) {
        rs::gui::WindowOptions opt;
        opt.model_path = model_path();
        opt.db_path = tmp.filePath("runs.sqlite");
        return opt;
    }
    // Shows the window and waits for its model; then picks a strategy.
    static void show_loaded(rs::gui::MainWindow& w, const char* strategy) {
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QTRY_VERIFY_WITH_TIMEOUT(w.model_ready(), 60000);
        const int idx = w.strategy_box()->findData(strategy);
        QVERIFY(idx >= 0);
        w.strategy_box()->setCurrentIndex(idx);
    }

  private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QDir().mkpath(shots_);
    }

    void runGrowsLiveAndIsStored() {
        try {
            grow_and_store();
        } catch (const std::exception& e) {
            QFAIL(e.what());
        }
    }

    // The window's engine options reach the session: an F32 KV cache and the
    // deterministic mode show in the status bar once the model is loaded, and a
    // short run grows with them.
    void engineOptionsReachTheSession() {
        QTemporaryDir tmp;
        rs::gui::WindowOptions opt = window_options(tmp);
        if (opt.model_path.isEmpty())
            QSKIP("no model: neither the bundled model nor ../shared/reference is present");
        opt.kv = rs::KvType::F32;
        opt.deterministic = true;
        opt.backend = "cpu";
        rs::gui::MainWindow w(opt);
        show_loaded(w, "chain-of-thought");
        if (QTest::currentTestFailed()) return;
        auto* status = w.findChild<QLabel*>("backendStatus");
        QVERIFY(status);
        QVERIFY2(status->text().contains("KV f32, deterministic"), qPrintable(status->text()));
        // Which backend ran, and why it was chosen.
        QVERIFY2(status->text().startsWith("cpu (") && status->text().contains("asked for cpu"),
                 qPrintable(status->text()));
        w.set_param("max_depth", 3);
        w.start_run();
        QTRY_VERIFY_WITH_TIMEOUT(w.run_model()->tree().size() >= 2, 60000);
    }

    // The window's CSV export writes what `reasonscope export --format csv`
    // writes for the same run: the tokens and, beside them, the nodes, byte
    // for byte; the status bar names both files.
    void csvExportEqualsTheCli() {
        QTemporaryDir tmp;
        rs::gui::WindowOptions opt = window_options(tmp);
        if (opt.model_path.isEmpty())
            QSKIP("no model: neither the bundled model nor ../shared/reference is present");
        rs::gui::MainWindow w(opt);
        show_loaded(w, "best-of-n");
        if (QTest::currentTestFailed()) return;
        w.set_param("n", 2);
        w.set_param("max_depth", 4);
        w.start_run();
        auto store = rs::RunStore::open(opt.db_path.toStdString());
        QTRY_VERIFY_WITH_TIMEOUT(store->list().size() == 1 && !w.running(), 120000);
        const auto runs = store->list();
        QCOMPARE(runs.size(), size_t(1));
        QVERIFY2(runs[0].status != "running", runs[0].status.c_str());
        const qint64 id = runs[0].id;

        QSignalSpy exported(&w, &rs::gui::MainWindow::exported);
        w.export_run_to(id, tmp.filePath("gui.csv"));
        QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 1, 30000);
        const QStringList written = exported.at(0).at(0).toStringList();
        QCOMPARE(written, QStringList({tmp.filePath("gui.csv"), tmp.filePath("gui.nodes.csv")}));
        const QString message = w.statusBar()->currentMessage();
        QVERIFY2(message.contains("gui.csv") && message.contains("gui.nodes.csv"),
                 qPrintable(message));

        QProcess cli;
        cli.start(rs::test::binary("reasonscope"),
                  {"export", QString::number(id), "--format", "csv", "--db", opt.db_path, "-o",
                   tmp.filePath("cli.csv")});
        QVERIFY(cli.waitForFinished(60000));
        QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());
        const auto bytes = [](const QString& path) {
            QFile f(path);
            return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray("(missing)");
        };
        for (const char* table : {".csv", ".nodes.csv"}) {
            const QByteArray gui = bytes(tmp.filePath(QString("gui") + table));
            const QByteArray want = bytes(tmp.filePath(QString("cli") + table));
            QVERIFY2(want.count('\n') >= 2, table);  // a header and rows
            QVERIFY2(gui == want, table);
        }
    }

  private:
    void grow_and_store() {
        QTemporaryDir tmp;
        rs::gui::WindowOptions opt = window_options(tmp);
        if (opt.model_path.isEmpty())
            QSKIP("no model: neither the bundled model nor ../shared/reference is present");
        opt.suite = "hard";
        rs::gui::MainWindow w(opt);
        w.resize(1500, 950);
        show_loaded(w, "beam-search");
        if (QTest::currentTestFailed()) return;
        QCOMPARE(QSettings().value("recentModels").toStringList().value(0),
                 opt.model_path);  // File > Recent models
        w.set_param("width", 3);
        w.set_param("expansions", 3);
        w.set_param("max_depth", 6);
        w.start_run();
        QTRY_VERIFY_WITH_TIMEOUT(w.run_model()->tree().size() >= 6, 60000);
        QTest::qWait(150);
        QImage live = w.grab().toImage();
        QVERIFY(live.save(shots_ + "/main-window-live.png"));
        qInfo("tree %d canvas %d tokens %d selected %d", w.run_model()->tree().size(),
              w.tree_view()->node_count(), w.token_view()->token_count(),
              w.run_model()->selected());
        QVERIFY(w.tree_view()->node_count() >= 6);
        QTRY_VERIFY_WITH_TIMEOUT(w.token_view()->token_count() > 0, 30000);
        QColor c = w.token_view()->token_colour(0);
        QVERIFY2(c.isValid() && c != QColor(Qt::white) && c.alpha() > 0,
                 "tokens are not coloured by entropy");
        QTRY_VERIFY_WITH_TIMEOUT(!w.running(), 180000);
        QTest::qWait(200);
        // The run was stored: reopen it from the store into the same views.
        auto store = rs::RunStore::open(opt.db_path.toStdString());
        auto runs = store->list();
        QCOMPARE(runs.size(), size_t(1));
        QCOMPARE(runs[0].strategy, std::string("beam-search"));
        QVERIFY(runs[0].node_count >= 6);
        w.refresh_runs();
        // The store is read on its own thread: the window stays responsive
        // and the views fill when the load arrives.
        QSignalSpy opened(&w, &rs::gui::MainWindow::storedRunOpened);
        w.open_stored_run(runs[0].id);
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 30000);
        QCOMPARE(w.run_model()->tree().size(), static_cast<int>(runs[0].node_count));
        QTest::qWait(200);
        QVERIFY(w.grab().toImage().save(shots_ + "/main-window-stored.png"));
        QVERIFY(w.token_view()->token_count() > 0);
        QVERIFY(!w.token_view()->tooltip_for(0).isEmpty());

        // Counterfactual: continue the chosen path from its first token with
        // an alternative the model considered; a new run is stored.
        const int node = w.run_model()->selected_path().at(1);
        const auto& tok = w.run_model()->tree().at(node).tokens.at(0);
        int alt = -1;
        for (const auto& [id, lp] : tok.top)
            if (id != tok.id) alt = id;
        QVERIFY(alt >= 0);
        w.branch_from(node, 0, alt);
        // Done when the new run is stored and the engine idle (the host is
        // running from before it stores the run until after it finishes it;
        // a greedy run can start and end between two polls of running()).
        QTRY_VERIFY_WITH_TIMEOUT(store->list().size() == 2 && !w.running(), 120000);
        auto after = store->list();
        QCOMPARE(after.size(), size_t(2));
        QCOMPARE(after.front().strategy, std::string("chain-of-thought"));
        QVERIFY(after.front().prompt.size() > runs[0].prompt.size());

        // Export and compare from the window (both on the run store's thread).
        QSignalSpy exported(&w, &rs::gui::MainWindow::exported);
        const QString html = shots_ + "/exported-run.html";
        QFile::remove(html);
        w.export_run_to(runs[0].id, html);
        QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 1, 30000);
        QFile f(html);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray page = f.readAll();
        QVERIFY(page.contains("<svg") && page.contains("beam-search"));
        QSignalSpy shown(&w, &rs::gui::MainWindow::compareShown);
        w.compare_runs_by_id(after[0].id, after[1].id);
        QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 30000);
        auto* dlg = w.findChild<QDialog*>("compareDialog");
        QVERIFY(dlg);
        const auto trees = dlg->findChildren<rs::views::TreeView*>();
        QCOMPARE(trees.size(), 2);
        QVERIFY(trees[0]->node_count() >= 2 && trees[1]->node_count() >= 2);
        QTest::qWait(150);
        QVERIFY(dlg->grab().toImage().save(shots_ + "/compare.png"));
    }

  private slots:
    // Another process holds the run store's lock as a run starts: the status
    // bar says the run waits for the database, and stops saying so once the
    // lock is released (the run then goes on and is stored).
    void statusBarShowsTheWaitForTheDatabase() {
        QTemporaryDir tmp;
        rs::gui::WindowOptions opt = window_options(tmp);
        if (opt.model_path.isEmpty())
            QSKIP("no model: neither the bundled model nor ../shared/reference is present");
        rs::RunStore::open(opt.db_path.toStdString()).reset();  // the file exists
        rs::gui::MainWindow w(opt);
        show_loaded(w, "chain-of-thought");
        if (QTest::currentTestFailed()) return;
        auto* waiting = w.findChild<QLabel*>("dbWaiting");
        QVERIFY(waiting);
        QVERIFY(!waiting->isVisible());
        sqlite3* lock = nullptr;
        QCOMPARE(sqlite3_open(opt.db_path.toUtf8().constData(), &lock), SQLITE_OK);
        QCOMPARE(sqlite3_exec(lock, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
        w.set_param("max_depth", 2);
        w.start_run();
        QTRY_VERIFY_WITH_TIMEOUT(waiting->isVisible(), 20000);
        QVERIFY2(waiting->toolTip().contains("locked"), qPrintable(waiting->toolTip()));
        sqlite3_exec(lock, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close(lock);
        QTRY_VERIFY_WITH_TIMEOUT(!waiting->isVisible(), 20000);
        QTRY_VERIFY_WITH_TIMEOUT(w.run_model()->tree().size() >= 2, 60000);
    }
};

QTEST_MAIN(TestGui)
#include "tst_gui.moc"
