// The Experiments window under Xvfb: a tiny sweep (2 strategies x 2
// budgets x 3 problems) on the bundled model from Run > Experiment…: the
// progress bar moves, the table has a row per point whose values are the
// stored runs' (queried in the SQLite store), the plots have a point per
// row, hovering one shows its values and clicking it opens its runs (the
// runs browser filtered by its tags, its first run in the views); the
// signals table has a row per signal, its values the core's signal_aurocs
// over trace_signals of the stored runs' trees, sorted by AUROC. A second
// sweep cancelled mid-run keeps its finished points. Screenshots at
// 1280x720 and 1920x1080, light and dark: <build>/screenshots/experiments-*.png.
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QToolTip>
#include <QtTest>
#include <cmath>

#include "core/trace_signals.h"
#include "gui/experiment_window.h"
#include "gui/main_window.h"
#include "reasonscope/run_store.h"
#include "sql_query.h"
#include "test_paths.h"
#include "widgets/sweep_plot.h"
#include "widgets/theme.h"

class TestGuiExperiments : public QObject {
    Q_OBJECT
  private slots:
    void sweepFromTheWindow() {
        QStandardPaths::setTestModeEnabled(true);
        QTemporaryDir tmp;
        rs::gui::WindowOptions opt;
        opt.model_path = QStringLiteral(RS_SOURCE_DIR) + "/resources/models/reasoner.gguf";
        opt.db_path = tmp.filePath("runs.sqlite");
        const std::string db = opt.db_path.toStdString();
        opt.suite = "easy";
        rs::gui::MainWindow w(opt);
        w.resize(1400, 900);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QTRY_VERIFY_WITH_TIMEOUT(w.model_ready(), 60000);

        rs::gui::ExperimentWindow* ew = w.open_experiments();
        QVERIFY(ew);
        QVERIFY(QTest::qWaitForWindowExposed(ew));
        QCOMPARE(w.open_experiments(), ew);  // one window
        ew->set_suite("hard");
        QVERIFY(ew->set_strategies({"self-consistency", "best-of-n"}));
        QVERIFY(!ew->set_strategies({"chain-of-thought"}));  // nothing to sweep
        QVERIFY(ew->set_strategies({"self-consistency", "best-of-n"}));
        ew->set_budgets("2, 1");
        ew->set_limit(3);
        ew->set_parameters("temperature=1");  // the budgets make a difference

        auto* bar = ew->findChild<QProgressBar*>("sweepProgress");
        auto* status = ew->findChild<QLabel*>("sweepStatus");
        QVERIFY(bar && status);
        std::vector<int> values;
        connect(bar, &QProgressBar::valueChanged, this, [&](int v) { values.push_back(v); });
        bool time_left_shown = false;
        connect(bar, &QProgressBar::valueChanged, this, [&](int v) {
            if (v > 0 && v < 12) time_left_shown |= status->text().contains(" left");
        });
        QSignalSpy ended(ew, &rs::gui::ExperimentWindow::sweepEnded);
        ew->findChild<QPushButton*>("sweepRun")->click();
        QVERIFY(ew->sweeping());
        QVERIFY(!ew->findChild<QPushButton*>("sweepRun")->isEnabled());
        QTRY_COMPARE_WITH_TIMEOUT(ended.count(), 1, 600000);
        QCOMPARE(bar->maximum(), 12);
        QCOMPARE(bar->value(), 12);
        QVERIFY(values.size() >= 12);
        for (size_t i = 1; i < values.size(); ++i) QVERIFY(values[i] >= values[i - 1]);
        QVERIFY(time_left_shown);
        QVERIFY2(status->text().startsWith("Done: 12 runs"), qPrintable(status->text()));

        // The table: a row per point, its numbers the stored runs'.
        auto* table = ew->findChild<QTableView*>("sweepTable");
        QVERIFY(table);
        QCOMPARE(table->model()->rowCount(), 4);
        const std::string tag = ew->tag().toStdString();
        for (int r = 0; r < 4; ++r) {
            const QAbstractItemModel* m = table->model();
            const std::string strategy = m->index(r, 0).data().toString().toStdString();
            const int budget = m->index(r, 1).data(Qt::UserRole).toInt();
            const std::string where =
                " FROM runs WHERE id IN (SELECT run_id FROM tags WHERE tag='" + tag +
                "') AND id IN (SELECT run_id FROM tags WHERE tag='strategy:" + strategy +
                "') AND id IN (SELECT run_id FROM tags WHERE tag='budget:" +
                std::to_string(budget) + "')";
            QCOMPARE(rs::test::query_int(db, "SELECT COUNT(*)" + where), int64_t{3});
            QCOMPARE(m->index(r, 2).data().toString(), QString("3"));
            const auto stored = [&](const char* sql) {
                return static_cast<double>(rs::test::query_int(db, sql + where)) / 3.0;
            };
            QCOMPARE(m->index(r, 3).data(Qt::UserRole).toDouble(),
                     stored("SELECT SUM(correct = 1)"));
            QCOMPARE(m->index(r, 3).data().toString(),
                     QString::number(100 * stored("SELECT SUM(correct = 1)"), 'f', 1) + "%");
            QCOMPARE(m->index(r, 5).data(Qt::UserRole).toDouble(), stored("SELECT SUM(tokens)"));
            QCOMPARE(m->index(r, 6).data(Qt::UserRole).toDouble(),
                     stored("SELECT SUM(forward_passes)"));
            QVERIFY(m->index(r, 7).data(Qt::UserRole).toDouble() > 0);
        }
        // The signals: a row per signal, sorted by AUROC, the values those of
        // the stored runs' trees (all strategies, then best-of-n's alone).
        auto* signal_table = ew->findChild<QTableView*>("sweepSignalsTable");
        auto* signals_info = ew->findChild<QLabel*>("sweepSignalsInfo");
        QVERIFY(signal_table && signals_info && signal_table->isVisible());
        QVERIFY(ew->signals_final());
        std::vector<rs::app::TraceSignals> all, bon_traces;
        {
            auto store = rs::RunStore::open(db);
            for (const rs::app::SweepPoint& pt : ew->points())
                for (const int64_t id : pt.run_ids()) {
                    const rs::StoredRun sr = store->load(id);
                    const auto ts = rs::app::trace_signals(sr.tree, sr.run.task_id);
                    all.insert(all.end(), ts.begin(), ts.end());
                    if (pt.strategy == "best-of-n")
                        bon_traces.insert(bon_traces.end(), ts.begin(), ts.end());
                }
        }
        QVERIFY(!all.empty());
        const auto check_signals = [&](const std::vector<rs::app::TraceSignals>& traces) {
            const auto expect = rs::app::signal_aurocs(traces, rs::app::kSweepBootstrap, 42);
            const QAbstractItemModel* m = signal_table->model();
            QVERIFY(expect.size() >= 8);
            QCOMPARE(m->rowCount(), static_cast<int>(expect.size()));
            QCOMPARE(ew->signal_aurocs().size(), expect.size());
            for (const auto& e : expect) {
                int row = -1;
                for (int r = 0; r < m->rowCount(); ++r)
                    if (m->index(r, 0).data().toString() == QString::fromStdString(e.signal))
                        row = r;
                QVERIFY2(row >= 0, e.signal.c_str());
                QCOMPARE(m->index(row, 1).data(Qt::UserRole).toDouble(), e.auroc);
                QCOMPARE(m->index(row, 1).data().toString(), QString::number(e.auroc, 'f', 3));
                QCOMPARE(m->index(row, 2).data().toString(),
                         QString("[%1, %2]").arg(e.lo, 0, 'f', 3).arg(e.hi, 0, 'f', 3));
                QCOMPARE(m->index(row, 3).data(Qt::UserRole).toDouble(), e.within);
                QCOMPARE(m->index(row, 4).data().toString(), QString::number(e.positives));
                QCOMPARE(m->index(row, 5).data().toString(), QString::number(e.negatives));
            }
            for (int r = 1; r < m->rowCount(); ++r)
                QVERIFY(m->index(r - 1, 1).data(Qt::UserRole).toDouble() >=
                        m->index(r, 1).data(Qt::UserRole).toDouble());
            QVERIFY2(
                signals_info->text().contains(QString("%1 finished traces").arg(traces.size())),
                qPrintable(signals_info->text()));
        };
        check_signals(all);
        if (QTest::currentTestFailed()) return;
        QVERIFY(signals_info->text().contains("0.5: no better than chance"));
        QVERIFY(ew->set_signals_scope("best-of-n"));
        QVERIFY(!ew->set_signals_scope("no-such-strategy"));
        check_signals(bon_traces);
        if (QTest::currentTestFailed()) return;
        QVERIFY(ew->set_signals_scope(""));

        // Sorting by tokens, descending.
        table->sortByColumn(5, Qt::DescendingOrder);
        QVERIFY(table->model()->index(0, 5).data(Qt::UserRole).toDouble() >=
                table->model()->index(3, 5).data(Qt::UserRole).toDouble());

        // The plots: a line per strategy, a point per budget.
        auto* acc = ew->findChild<rs::views::SweepPlot*>("accuracyPlot");
        auto* cov = ew->findChild<rs::views::SweepPlot*>("coveragePlot");
        QVERIFY(acc && cov);
        QCOMPARE(acc->series().size(), size_t{2});
        QCOMPARE(cov->series().size(), size_t{2});
        for (const auto& s : acc->series()) QCOMPARE(s.points.size(), size_t{2});
        // Hovering a point: its values (against forward passes, where the
        // strategies' points differ).
        auto* axis = ew->findChild<QComboBox*>("sweepXAxis");
        QVERIFY(axis);
        axis->setCurrentIndex(1);
        const size_t bon = acc->series()[0].name == "best-of-n" ? 0 : 1;
        QCOMPARE(acc->series()[bon].name, QString("best-of-n"));
        QVERIFY(acc->position(0, 1) != acc->position(1, 1));
        const QPointF at = acc->position(bon, 1);  // best-of-n, budget 2
        QTest::mouseMove(acc, at.toPoint());
        QTRY_VERIFY_WITH_TIMEOUT(QToolTip::isVisible(), 3000);
        QVERIFY2(QToolTip::text().contains("best-of-n, n = 2"), qPrintable(QToolTip::text()));
        QVERIFY(QToolTip::text().contains("accuracy"));

        // Clicking it: its runs in the runs browser, the first one opened.
        const int key = acc->series()[bon].points[1].key;
        const rs::app::SweepPoint point = ew->points().at(static_cast<size_t>(key));
        QCOMPARE(point.strategy, std::string("best-of-n"));
        QCOMPARE(point.budget, 2);
        QSignalSpy opened(&w, &rs::gui::MainWindow::storedRunOpened);
        QTest::mouseClick(acc, Qt::LeftButton, {}, at.toPoint());
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 30000);
        QCOMPARE(opened.first().first().toLongLong(), point.run_ids().front());
        QCOMPARE(w.run_model()->info().id, point.run_ids().front());
        auto* runs = w.findChild<QTableView*>("runsTable");
        QVERIFY(runs);
        QTRY_COMPARE_WITH_TIMEOUT(runs->model()->rowCount(), 3, 10000);
        QVERIFY(w.findChild<QDockWidget*>("runsDock")->isVisible());
        // Double-clicking a row: that point's runs.
        const int row = 3;
        const rs::app::SweepPoint& other = ew->points().at(
            static_cast<size_t>(table->model()->index(row, 0).data(Qt::UserRole + 1).toInt()));
        const QRect cell = table->visualRect(table->model()->index(row, 1));
        // (an item view takes a double-click after a press on the same item)
        QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, cell.center());
        QTest::mouseDClick(table->viewport(), Qt::LeftButton, {}, cell.center());
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 2, 30000);
        QCOMPARE(opened.last().first().toLongLong(), other.run_ids().front());
        QTRY_COMPARE_WITH_TIMEOUT(runs->model()->rowCount(), 3, 10000);
        QVERIFY(table->selectionModel()->isRowSelected(row, {}));

        // Screenshots: 1280x720 and 1920x1080, light and dark.
        const QString shots = QStringLiteral(RS_BINARY_DIR) + "/screenshots";
        QDir().mkpath(shots);
        for (const bool dark : {false, true}) {
            QApplication::setPalette(dark ? rs::views::dark_palette() : rs::views::light_palette());
            for (const QSize size : {QSize(1280, 720), QSize(1920, 1080)}) {
                ew->resize(size);
                QTest::qWait(150);
                QVERIFY(ew->grab().save(QString("%1/experiments-%2x%3-%4.png")
                                            .arg(shots)
                                            .arg(size.width())
                                            .arg(size.height())
                                            .arg(dark ? "dark" : "light")));
            }
        }
        QApplication::setPalette(rs::views::light_palette());

        // A second sweep, cancelled in its second point: the first stays.
        ew->set_strategies({"self-consistency"});
        ew->set_budgets("1,8");
        ew->set_limit(3);
        ew->findChild<QPushButton*>("sweepRun")->click();
        QTRY_VERIFY_WITH_TIMEOUT(bar->value() >= 4, 300000);
        // The signals as the runs finish: estimates, the interval to come.
        QVERIFY(!ew->signals_final());
        QVERIFY(signal_table->model()->rowCount() > 0);
        QCOMPARE(signal_table->model()->index(0, 2).data().toString(), QString("—"));
        QVERIFY(ew->grab().save(shots + "/experiments-running.png"));
        ew->findChild<QPushButton*>("sweepCancel")->click();
        QTRY_COMPARE_WITH_TIMEOUT(ended.count(), 2, 120000);
        QVERIFY2(status->text().startsWith("Cancelled"), qPrintable(status->text()));
        QVERIFY(ew->points().size() >= 1);
        QVERIFY(ew->points()[0].complete());
        QCOMPARE(ew->points()[0].problems(), 3);
        QCOMPARE(table->model()->rowCount(), static_cast<int>(ew->points().size()));
        QVERIFY(!ew->sweeping());
        QVERIFY(!w.running());
        QVERIFY(ew->grab().save(shots + "/experiments-cancelled.png"));

        // Mistakes are said, not run: no strategy; a parameter that is not one.
        ew->set_strategies({});
        ew->findChild<QPushButton*>("sweepRun")->click();
        QVERIFY(!ew->sweeping());
        QVERIFY2(status->text().contains("check at least one strategy"),
                 qPrintable(status->text()));
        ew->set_strategies({"best-of-n"});
        ew->set_parameters("temperature=hot");
        ew->findChild<QPushButton*>("sweepRun")->click();
        QTRY_COMPARE_WITH_TIMEOUT(ended.count(), 3, 30000);
        QVERIFY2(status->text().startsWith("Failed: ") && status->text().contains("temperature"),
                 qPrintable(status->text()));
        QCOMPARE(table->model()->rowCount(), 0);
        QVERIFY(!w.running());
    }
};

QTEST_MAIN(TestGuiExperiments)
#include "tst_gui_experiments.moc"
