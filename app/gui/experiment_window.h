// The Experiments window: a sweep (app/core/sweep.h) in the app. Pick a
// suite, strategies and budgets, run it on the engine thread with a
// progress bar and the time left, cancel it; its points (strategy, budget)
// fill a sortable table and plots of accuracy and coverage against mean
// tokens, forward passes or seconds, a line per strategy; a table of the
// signals (app/core/trace_signals.h) that tell right traces from wrong ones,
// each one's AUROC over the sweep's traces (all strategies or one), as the
// runs finish and, with the bootstrap interval, when the sweep ends.
// Hovering a point shows its values; clicking it (or double-clicking its
// row) asks for its runs (openRuns: the runs browser filtered by the
// point's tags, its first run opened).
#pragma once

#include <QElapsedTimer>
#include <QWidget>
#include <vector>

#include "core/sweep.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSortFilterProxyModel;
class QSpinBox;
class QStandardItemModel;
class QTableView;
class QTimer;

namespace rs::views {
class SweepPlot;
}

namespace rs::gui {

class EngineHost;

class ExperimentWindow : public QWidget {
    Q_OBJECT
  public:
    // `host` lives on the engine thread; requests go to it queued.
    ExperimentWindow(const app::PluginManager* plugins, EngineHost* host,
                     QWidget* parent = nullptr);

    // The strategies list from the plugin manager again (after a rescan);
    // the checked ones stay checked.
    void reload_strategies();
    // Settings, as a test or a script sets them; false for an unknown id.
    void set_suite(const QString& name_or_path);
    bool set_strategies(const QStringList& ids);
    void set_budgets(const QString& text);
    void set_limit(int problems);
    void set_parameters(const QString& text);  // "name=value, ..." (as the CLI's --set)

    const std::vector<app::SweepPoint>& points() const { return points_; }
    const QString& tag() const { return tag_; }
    // The signal AUROCs the signals table shows (the scope picked: all
    // strategies or one), in the core's order; signals_final() once the sweep
    // ended (with the bootstrap interval).
    const std::vector<app::SignalAuroc>& signal_aurocs() const { return aurocs_; }
    bool signals_final() const { return signals_final_; }
    // "" = every strategy's traces; false for a strategy not in the sweep.
    bool set_signals_scope(const QString& strategy);
    bool sweeping() const { return sweeping_; }
    // The tags of a point's runs as the runs browser's filter matches them.
    QString runs_filter(const app::SweepPoint& p) const;

  public slots:
    void start();   // the sweep as set up (nothing while one runs)
    void cancel();  // ends the run in progress and the sweep; the points so far stay
    void open_point(int key);

  signals:
    void requestSweep(const rs::app::SweepSettings& settings);
    // The runs of a point: `filter` for the runs browser, `first` to open.
    void openRuns(const QString& filter, qint64 first);
    void sweepEnded();  // finished, cancelled or failed

  private:
    void on_progress(const app::SweepProgress& p);
    void on_point(const app::SweepPoint& p);
    void on_finished(const app::SweepResult& r, const QString& error);
    void update_time_left();
    void upsert_row(int key);
    void update_plots();
    void update_signals();
    void set_running(bool on);

    const app::PluginManager* plugins_;
    EngineHost* host_;
    std::vector<app::SweepPoint> points_;  // key = index
    QString tag_;
    QString suite_file_;  // a suite opened from a file ("" = a named suite)
    bool sweeping_ = false;

    QComboBox* suite_ = nullptr;
    QLabel* suite_info_ = nullptr;
    QSpinBox* limit_ = nullptr;
    QListWidget* strategies_ = nullptr;
    QLineEdit* budgets_ = nullptr;
    QLineEdit* sets_ = nullptr;  // name=value for every strategy that has the parameter
    QSpinBox *seed_ = nullptr, *max_tokens_ = nullptr;
    QPushButton *run_ = nullptr, *cancel_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QLabel* status_ = nullptr;
    QStandardItemModel* table_model_ = nullptr;
    QSortFilterProxyModel* table_proxy_ = nullptr;
    QTableView* table_ = nullptr;
    QComboBox* x_axis_ = nullptr;
    views::SweepPlot *accuracy_plot_ = nullptr, *coverage_plot_ = nullptr;
    // Signals: AUROC per signal over the traces of the scope picked.
    QComboBox* signals_scope_ = nullptr;
    QLabel* signals_info_ = nullptr;
    QStandardItemModel* signals_model_ = nullptr;
    QTableView* signals_table_ = nullptr;
    std::vector<app::SignalAuroc> aurocs_;
    bool signals_final_ = false;
    uint64_t seed_used_ = 0;  // the sweep's seed (its bootstrap's)
    app::SweepResult final_;  // the ended sweep's AUROCs
    // Time left counts down between progress reports.
    QTimer* clock_ = nullptr;
    QElapsedTimer since_report_;
    app::SweepProgress last_;
};

}  // namespace rs::gui
