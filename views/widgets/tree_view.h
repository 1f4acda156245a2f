// The reasoning tree, growing live: a QGraphicsView over one canvas item that
// paints only the nodes inside the exposed rectangle (level of detail: node
// borders, badges and labels are dropped when zoomed far out, and nodes that
// fall on one pixel are drawn once), so 100k-node trees stay fluid.
//
// An analysis view: the spacing follows the tree's shape and the viewport
// (a wide self-consistency run or beam search fills the view after fit; a
// long chain is fit to a readable zoom and scrolls), siblings whose step text
// is identical are drawn as one node with a ×k badge, a subtree can be
// collapsed into its root (a +n badge counts what it hides), the tooltip
// shows a step's text, status, scores and signals, and strategy records are
// written on the nodes when zoomed in (MCTS visits and value, particle weight
// and resampled copies, why a node was pruned). Colour by score or by mean
// entropy; shapes for status (pruned x, answer ring: green correct, red
// wrong; a dashed violet ring: thinking, all round when the whole step is,
// half when part of it is); a legend in the corner explains all of them.
// Click or the arrow keys select a node's path through the RunModel.
#pragma once

#include <QGraphicsView>
#include <QString>

#include "models/run_model.h"

class QMenu;

namespace rs::views {

class TreeCanvas;
class TreeLegend;

class TreeView : public QGraphicsView {
    Q_OBJECT
  public:
    enum class ColourBy { Score, Entropy };
    explicit TreeView(RunModel* model, QWidget* parent = nullptr);
    void set_colour_by(ColourBy c);
    ColourBy colour_by() const { return colour_by_; }
    int node_count() const;            // the run's nodes
    int shown_count() const;           // nodes drawn (groups and collapsed subtrees count once)
    QPointF node_pos(int node) const;  // scene position (of the node drawn for it; for tests)
    // The user zoomed with the wheel: the view keeps its zoom as the run
    // grows, until another run takes the model (then it is fit again).
    bool user_zoomed() const { return user_zoomed_; }
    // 0: the node has no thinking tokens, 1: some, 2: all (its dashed ring).
    int thinking_mark(int node) const;

    // Identical sibling steps drawn as one node (on by default).
    void set_grouping(bool on);
    bool grouping() const { return grouping_; }
    // The node drawn for `node`: itself, its group's representative, or the
    // collapsed ancestor that hides it.
    int shown_as(int node) const;
    int group_size(int node) const;                  // steps a drawn node stands for (1: no group)
    std::vector<int> group_members(int node) const;  // those steps (scans the tree)
    int hidden_count(int node) const;  // nodes a collapsed node hides (0: not collapsed)
    bool collapsed(int node) const;
    void set_collapsed(int node, bool on);
    void toggle_collapsed(int node);  // of the drawn node standing for `node`
    void expand_all();

    // What the tooltip shows for a node (rich text), and the annotation
    // written under it when zoomed in ("" when it has none).
    QString hover_text(int node) const;
    QString annotation(int node) const;
    int node_at(const QPoint& viewport_pos) const;  // -1: none there
    // The context menu of a node (collapse, grouping, fit); the caller owns it.
    QMenu* context_menu_for(int node);
    // The legend, a strip under the tree (hidden where the view is too small).
    TreeLegend* legend() const { return legend_; }
    void set_legend_visible(bool on);

    // Shown on the empty canvas (no run yet): how to begin.
    void set_placeholder(const QString& text);
    const QString& placeholder() const { return placeholder_; }

  signals:
    void groupingChanged(bool on);  // also by its key (G) or the context menu

  public slots:
    // Spacing chosen for the viewport, then the zoom that shows the tree (a
    // long tree: its top at a readable zoom); the view follows the run again.
    void fit();
    void find_text(const QString& text);  // selects the next node containing text

  protected:
    void wheelEvent(QWheelEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void mouseDoubleClickEvent(QMouseEvent* e) override;  // collapses or expands
    void keyPressEvent(QKeyEvent* e) override;
    void contextMenuEvent(QContextMenuEvent* e) override;
    void resizeEvent(QResizeEvent* e) override;
    bool viewportEvent(QEvent* e) override;
    void drawBackground(QPainter* p, const QRectF& rect) override;

  private:
    void relayout();
    void fit_view();  // the zoom and scroll of fit(), on the current spacing
    void update_legend();
    void place_legend();
    void select_shown(int node);  // selects and scrolls it into view
    RunModel* model_;
    QString placeholder_;
    TreeCanvas* canvas_;
    TreeLegend* legend_;
    ColourBy colour_by_ = ColourBy::Entropy;
    bool user_zoomed_ = false;
    bool grouping_ = true;
    bool legend_wanted_ = true;
    int legend_margin_ = 0;  // the viewport's bottom margin, where the legend is
    int find_from_ = 0;
    // The deepest path the selection came down: Down returns along it.
    std::vector<int> trail_;
};

}  // namespace rs::views
