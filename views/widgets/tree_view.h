// The reasoning tree, growing live: a QGraphicsView over one canvas item that
// paints only the nodes inside the exposed rectangle (level of detail: edges
// and labels are dropped when zoomed far out), so 100k-node trees stay
// fluid. Colour by score or by mean entropy; shapes for status (pruned x,
// answer ring: green correct, red wrong; a dashed violet ring: thinking, all
// round when the whole step is, half when part of it is). Click selects a
// node's path.
#pragma once

#include <QGraphicsView>

#include "models/run_model.h"

namespace rs::views {

class TreeCanvas;

class TreeView : public QGraphicsView {
    Q_OBJECT
  public:
    enum class ColourBy { Score, Entropy };
    explicit TreeView(RunModel* model, QWidget* parent = nullptr);
    void set_colour_by(ColourBy c);
    ColourBy colour_by() const { return colour_by_; }
    int node_count() const;
    QPointF node_pos(int node) const;  // scene position (for tests)
    // The user zoomed with the wheel: the view keeps its zoom as the run
    // grows, until another run takes the model (then it is fit again).
    bool user_zoomed() const { return user_zoomed_; }
    // 0: the node has no thinking tokens, 1: some, 2: all (its dashed ring).
    int thinking_mark(int node) const;

  public slots:
    void fit();
    void find_text(const QString& text);  // selects the next node containing text

  protected:
    void wheelEvent(QWheelEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void drawBackground(QPainter* p, const QRectF& rect) override;

  private:
    void relayout();
    RunModel* model_;
    TreeCanvas* canvas_;
    ColourBy colour_by_ = ColourBy::Entropy;
    bool user_zoomed_ = false;
    int find_from_ = 0;
};

}  // namespace rs::views
