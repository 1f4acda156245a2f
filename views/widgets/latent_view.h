// Hidden states of the steps projected to 2D by PCA fitted on the run; one
// trajectory per branch (root to leaf), coloured by correctness (green right,
// red wrong, grey unknown), answer end points ringed. Needs hidden-state taps
// on the run.
//
// An analysis view: the axes name their component and the share of the
// variance it explains ("PC1 (62.0% var.)"), with ticks in the projection's
// units; a legend names what is drawn. The selected node's trace is drawn
// over the rest and kept in view when zoomed; hover names the node, its step
// text and coordinates; the wheel zooms about the cursor, a drag pans, a
// double-click shows all of it again; clicking a point selects its node in
// the RunModel (and so in the tree, the tokens and the signals).
#pragma once

#include <QString>
#include <QStringList>
#include <QThreadPool>
#include <QTimer>
#include <QWidget>
#include <vector>

#include "models/run_model.h"
#include "widgets/plot_axes.h"

namespace rs::views {

class LatentView : public QWidget {
    Q_OBJECT
  public:
    explicit LatentView(RunModel* model, QWidget* parent = nullptr);
    ~LatentView() override;
    QSize sizeHint() const override { return {360, 240}; }
    int projected_count() const { return static_cast<int>(proj_.size()); }
    bool fitting() const { return fitting_ || refit_timer_.isActive(); }
    // The share of the variance the first (k = 0) and second component
    // explain, 0 .. 1.
    double explained(int k) const { return k == 0 ? explained_[0] : explained_[1]; }

    // The plot's frame, where a node is drawn (widget coordinates; false when
    // it has no projected point) and the node drawn under a point (-1: none).
    QRectF plot_rect() const { return plot_; }
    bool node_pos(int node, QPointF* at) const;
    int node_at(const QPointF& pos) const;
    // The visible window in projection units, and zoom about a point of the
    // widget (factor < 1 zooms in).
    QRectF visible() const { return {x_.lo, y_.lo, x_.span(), y_.span()}; }
    bool zoomed() const { return x_.zoomed() || y_.zoomed(); }
    void zoom(double factor, const QPointF& about);
    void reset_zoom();
    // The trace highlighted: the path from the root to trace_leaf().
    int trace_leaf() const { return leaf_; }
    int hovered() const { return hovered_; }
    QString hover_text(int node) const;

    // What the last paint drew, for tests.
    struct Drawn {
        QStringList x_ticks, y_ticks, legend;
        QString x_title, y_title, hover;
    };
    const Drawn& drawn() const { return drawn_; }

  signals:
    void projected();  // a new projection is on screen

  protected:
    void paintEvent(QPaintEvent*) override;
    void wheelEvent(QWheelEvent*) override;
    void mousePressEvent(QMouseEvent*) override;
    void mouseMoveEvent(QMouseEvent*) override;
    void mouseReleaseEvent(QMouseEvent*) override;
    void mouseDoubleClickEvent(QMouseEvent*) override;
    void leaveEvent(QEvent*) override;
    void resizeEvent(QResizeEvent*) override;
    void changeEvent(QEvent*) override;

  private:
    // The PCA runs on a worker thread (never the UI's), on a copy of the hidden
    // states; changes arriving meanwhile are coalesced into one more fit.
    void start_fit();
    void set_projection(std::vector<std::pair<int, QPointF>> proj, double e1, double e2);
    void on_selection(int node);
    void keep_selected_in_view();
    QPointF to_widget(const QPointF& q) const;
    struct LegendEntry {
        enum Kind { Selected, CorrectBranch, WrongBranch, OtherBranch, RightAnswer, WrongAnswer };
        Kind kind;
        QString name;
        QRectF at;  // its swatch and name
    };
    std::vector<LegendEntry> legend() const;  // laid out in rows across the top
    // Lays out the legend and the plot under it (on a change of the tree,
    // the selection, the size or the font; never per point).
    void relayout();
    RunModel* model_;
    std::vector<std::pair<int, QPointF>> proj_;  // node id -> 2D
    std::vector<int> index_;                     // node id -> its entry in proj_ (-1: none)
    double explained_[2] = {0, 0};
    QThreadPool pool_;    // one thread, for the fits
    QTimer refit_timer_;  // coalesces bursts of changes (single shot: idle otherwise)
    bool fitting_ = false, stale_ = false;
    ZoomWindow x_, y_;
    int leaf_ = -1;
    int hovered_ = -1;
    QPointF press_at_, press_lo_;
    bool pressed_ = false, dragging_ = false;
    std::vector<LegendEntry> legend_;
    QRectF plot_;
    Drawn drawn_;
};

// Top-two principal components of rows (n x d): n 2D points, and the share
// of the total variance each component explains.
struct Pca2 {
    std::vector<QPointF> points;
    double explained[2] = {0, 0};
};
Pca2 pca2_fit(const std::vector<const std::vector<float>*>& rows);
// The points alone.
std::vector<QPointF> pca2(const std::vector<const std::vector<float>*>& rows);

}  // namespace rs::views
