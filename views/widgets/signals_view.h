// Entropy and varentropy along the selected trace, and the distribution of
// answers across branches (votes) with its entropy.
//
// The plot is an analysis view: x is the token position along the trace,
// with step boundaries marked and numbered where the numbers fit; y is in
// nats (varentropy, a variance of surprisal, in nats²), with ticks and a
// grid; a legend names the series and the band of the selected step. Hover
// draws a crosshair and the values at that token (its text, entropy,
// varentropy, logprob); the wheel zooms x about the cursor, a drag pans it,
// a double-click shows all of it again. Clicking a token selects its node in
// the RunModel and says which token (tokenPicked).
//
// The trace is the selected node's path; selecting a node on the trace
// shown (an earlier step) keeps the trace and moves the band, so the plot
// and the map can be walked step by step.
#pragma once

#include <QString>
#include <QStringList>
#include <QWidget>
#include <vector>

#include "models/run_model.h"
#include "widgets/plot_axes.h"

class QScrollBar;

namespace rs::views {

class SignalsView : public QWidget {
    Q_OBJECT
  public:
    explicit SignalsView(RunModel* model, QWidget* parent = nullptr);
    QSize sizeHint() const override { return {520, 200}; }

    // One answer of the vote: how many nodes reached it, and the sum of their
    // scores under the run's primary score key (0 without scores).
    struct AnswerVote {
        std::string answer;
        int count = 0;
        double weight = 0;
    };
    // The answers as the list shows them: most votes first, then the highest
    // weight, then by text.
    std::vector<AnswerVote> answer_votes() const;
    // The answer list scrolls when it has more rows than fit: its value is
    // the first row shown.
    QScrollBar* answer_scroll() const { return scroll_; }
    int visible_answer_rows() const;

    // The trace plotted: the path from the root to trace_leaf(), its tokens
    // in order.
    int trace_leaf() const { return leaf_; }
    int token_count() const { return static_cast<int>(tokens_.size()); }
    int token_node(int i) const;   // the node token i belongs to (-1: none)
    int token_index(int i) const;  // its index within that node
    // The plot's frame in widget coordinates, the x of token i, and the
    // token under a point of the plot (-1: none).
    QRectF plot_rect() const;
    double token_x(int i) const;
    int token_at(const QPointF& pos) const;
    // The tokens shown (x window, in token positions; -0.5 .. n-0.5 when
    // not zoomed), and zoom about a token position (factor < 1 zooms in).
    double visible_from() const { return x_.lo; }
    double visible_to() const { return x_.hi; }
    bool zoomed() const { return x_.zoomed(); }
    void zoom_x(double factor, double about);
    void reset_zoom();
    // The token under the mouse (-1: none) and what its hover box says.
    int hovered() const { return hovered_; }
    QString hover_text(int i) const;

    // What the last paint drew, for tests: tick labels, axis titles, the
    // legend's entries and the step numbers written at the boundaries.
    struct Drawn {
        QStringList x_ticks, y_ticks, legend, step_labels;
        QString x_title, y_title, hover;
    };
    const Drawn& drawn() const { return drawn_; }

  signals:
    // A token of the trace was clicked: its node (now selected) and its
    // index within the node, for a view that shows tokens.
    void tokenPicked(int node, int token_index);

  protected:
    void paintEvent(QPaintEvent*) override;
    void resizeEvent(QResizeEvent*) override;
    void wheelEvent(QWheelEvent*) override;
    void mousePressEvent(QMouseEvent*) override;
    void mouseMoveEvent(QMouseEvent*) override;
    void mouseReleaseEvent(QMouseEvent*) override;
    void mouseDoubleClickEvent(QMouseEvent*) override;
    void leaveEvent(QEvent*) override;

  private:
    struct TokenAt {
        int node, index;
    };
    struct Step {
        int node, depth, begin, end;  // tokens [begin, end) of the trace
    };
    QRectF bars_rect() const;
    void update_scroll();
    void on_selection(int node);
    void rebuild_trace(bool keep_zoom);
    void show_selected_step();
    void paint_plot(QPainter& p);
    RunModel* model_;
    QScrollBar* scroll_ = nullptr;
    int leaf_ = -1;
    std::vector<TokenAt> tokens_;
    std::vector<Step> steps_;
    ZoomWindow x_;
    int hovered_ = -1;
    QPointF press_at_;
    double press_lo_ = 0;
    bool pressed_ = false, dragging_ = false;
    Drawn drawn_;
};

}  // namespace rs::views
