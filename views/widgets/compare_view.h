// Stored runs compared. Two runs read as a diff: a titled pane per run (id,
// strategy, model, status, answer and whether it is right) with its tree
// and its answer votes, the metrics between them with the difference
// formatted, and below, the chosen traces side by side aligned token by
// token (shared prefix, then a token-level diff) with the first divergence
// highlighted and scrolled to. More runs read as a sortable table, one row
// per run, from which any two open as that diff.
#pragma once

#include <QWidget>
#include <cstdint>
#include <string>
#include <vector>

#include "reasonscope/run_store.h"
#include "reasonscope/trace_diff.h"

class QLabel;
class QPushButton;
class QStackedWidget;
class QTableWidget;
class QTextBrowser;

namespace rs::views {

class RunModel;
class TreeView;

// How the compare view writes numbers: counts with thousands separators,
// seconds and rates rounded to three significant digits, bytes in KiB/MiB/GiB;
// differences signed ("+12", "-0.25 s"; "0" when equal).
enum class MetricUnit { Count, Seconds, Rate, Bytes, Nats, Factor };
QString format_metric(double v, MetricUnit unit);
QString format_metric_difference(double a, double b, MetricUnit unit);
// b against a as a relative change ("+12%", "-3.5%"); empty when a is 0.
QString format_relative_change(double a, double b);

// One answer of a run and how many of its nodes reached it.
struct AnswerCount {
    std::string answer;
    int votes = 0;
};
// A run's answers, most votes first; equal votes in numeric order where
// both answers are numbers ("9" before "10"), numbers before other text.
std::vector<AnswerCount> answer_counts(const StoredRun& run);
bool answer_before(const std::string& a, const std::string& b);

class CompareView : public QWidget {
    Q_OBJECT
  public:
    // Two runs open as the diff; more open as the table.
    explicit CompareView(std::vector<StoredRun> runs, QWidget* parent = nullptr);
    int run_count() const { return static_cast<int>(runs_.size()); }
    bool showing_diff() const;

    // The diff in view (for tests and the dialog's title).
    const StoredRun& run_a() const { return runs_.at(static_cast<size_t>(pair_a_)); }
    const StoredRun& run_b() const { return runs_.at(static_cast<size_t>(pair_b_)); }
    const TraceDiff& trace_diff() const { return diff_; }
    // The token index (in both traces) the view highlights as the first
    // divergence; -1 for identical traces.
    int divergence_token() const;
    QString trace_summary() const;  // the sentence over the aligned traces
    QTextBrowser* trace_view() const { return trace_; }
    QColor divergence_colour() const;  // the highlight, in the current theme
    QTableWidget* metrics_table() const { return metrics_; }
    QTableWidget* answers_table(int side) const { return side == 0 ? answers_a_ : answers_b_; }
    QLabel* title(int side) const { return side == 0 ? title_a_ : title_b_; }
    QTableWidget* runs_table() const { return table_; }  // null for two runs

  public slots:
    // The diff of runs[a] and runs[b] (indexes into the runs given).
    void show_pair(int a, int b);
    void show_table();  // back to the table (more than two runs)
    void compare_selected_rows();

  signals:
    void pairShown(qint64 run_a, qint64 run_b);

  protected:
    void resizeEvent(QResizeEvent* e) override;
    void showEvent(QShowEvent* e) override;
    void changeEvent(QEvent* e) override;

  private:
    QWidget* build_diff_page();
    QWidget* build_table_page();
    QWidget* build_pane(int side);
    void fill_pane(int side, const StoredRun& run);
    void fill_title(int side, const StoredRun& run);  // in the palette's colours
    void fill_metrics();
    void render_trace();              // the aligned traces, in the palette's colours
    int divergence_position() const;  // in the trace's document; -1 when none
    void colour_table();              // right and wrong in the palette's colours
    void fit_trees_later();
    void scroll_to_divergence_later();

    std::vector<StoredRun> runs_;
    int pair_a_ = 0, pair_b_ = 1;
    bool has_pair_ = false;  // show_pair() has filled the diff page
    std::vector<TraceToken> trace_a_, trace_b_;
    TraceDiff diff_;
    int highlighted_ = -1;

    QStackedWidget* stack_ = nullptr;
    QWidget* diff_page_ = nullptr;
    QPushButton* back_ = nullptr;
    QLabel *title_a_ = nullptr, *title_b_ = nullptr;
    TreeView *tree_a_ = nullptr, *tree_b_ = nullptr;
    RunModel *model_a_ = nullptr, *model_b_ = nullptr;
    QTableWidget *answers_a_ = nullptr, *answers_b_ = nullptr;
    QTableWidget* metrics_ = nullptr;
    QLabel* summary_ = nullptr;
    QTextBrowser* trace_ = nullptr;
    QTableWidget* table_ = nullptr;
    QPushButton* open_pair_ = nullptr;
};

}  // namespace rs::views
