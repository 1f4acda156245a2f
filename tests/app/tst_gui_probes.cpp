// The Probes dock of the desktop app under Xvfb: a greedy run on the bundled
// model, then a token's logit lens (as the Tokens pane's context menu asks
// for it) fills the table with a row per layer, and the answer-entropy
// button draws a point per step of the selected trace; both computed on the
// engine thread. Screenshot: <build>/screenshots/main-window-probes.png.
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QPushButton>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include "gui/main_window.h"
#include "reasonscope/model.h"
#include "test_paths.h"
#include "widgets/probe_view.h"
#include "widgets/token_view.h"

class TestGuiProbes : public QObject {
    Q_OBJECT
  private slots:
    void lensAndAnswerEntropyFromTheWindow() {
        QStandardPaths::setTestModeEnabled(true);
        const QString model = QStringLiteral(RS_SOURCE_DIR) + "/resources/models/reasoner.gguf";
        QTemporaryDir tmp;
        rs::gui::WindowOptions opt;
        opt.model_path = model;
        opt.db_path = tmp.filePath("runs.sqlite");
        opt.suite = "easy";
        rs::gui::MainWindow w(opt);
        w.resize(1500, 950);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QTRY_VERIFY_WITH_TIMEOUT(w.model_ready(), 60000);
        const int idx = w.strategy_box()->findData("chain-of-thought");
        QVERIFY(idx >= 0);
        w.strategy_box()->setCurrentIndex(idx);
        // easy-001, 13+7*4: after its first step the forced answers still scatter.
        auto* task = w.findChild<QComboBox*>("taskBox");
        QVERIFY(task && task->count() > 1);
        task->setCurrentIndex(1);
        w.start_run();
        QTRY_VERIFY_WITH_TIMEOUT(w.run_model()->tree().size() >= 2 && !w.running(), 120000);
        QTest::qWait(200);  // the run's last events reach the views

        auto* table = w.findChild<QTableWidget*>("lensTable");
        auto* button = w.findChild<QPushButton*>("answerEntropyButton");
        auto* plot = w.findChild<rs::views::AnswerEntropyPlot*>("answerEntropyPlot");
        QVERIFY(table && button && plot);
        QCOMPARE(table->rowCount(), 0);
        emit w.token_view()->lensRequested(1, 0);  // the first token of the first step
        const int layers = rs::Model::load(model.toStdString())->config().n_layers;
        QTRY_COMPARE_WITH_TIMEOUT(table->rowCount(), layers, 30000);
        QCOMPARE(table->columnCount(), 8 + 1);  // p(chosen token), then the top 8
        QVERIFY(w.findChild<QDockWidget*>("probesDock")->isVisible());

        w.run_model()->select(w.run_model()->tree().size() - 1);  // a leaf: its trace
        button->click();
        const int steps = w.run_model()->tree().at(w.run_model()->tree().size() - 1).depth;
        QTRY_COMPARE_WITH_TIMEOUT(static_cast<int>(plot->curve().entropy.size()), steps, 60000);
        for (double h : plot->curve().entropy) QVERIFY(h >= 0 && h <= std::log(8.0) + 1e-9);

        const QString shots = QStringLiteral(RS_BINARY_DIR) + "/screenshots";
        QDir().mkpath(shots);
        QTest::qWait(100);
        QVERIFY(w.grab().save(shots + "/main-window-probes.png"));
        QVERIFY(w.findChild<QDockWidget*>("probesDock")->grab().save(shots + "/probes-dock.png"));
    }
};

QTEST_MAIN(TestGuiProbes)
#include "tst_gui_probes.moc"
