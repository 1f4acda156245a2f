#include "widgets/tree_view.h"

#include <QGraphicsItem>
#include <QMouseEvent>
#include <QPainter>
#include <QStyleOptionGraphicsItem>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "widgets/colours.h"
#include "widgets/theme.h"

namespace rs::views {

class TreeCanvas : public QGraphicsItem {
  public:
    explicit TreeCanvas(RunModel* m) : model_(m) {
        setFlag(QGraphicsItem::ItemUsesExtendedStyleOption);
    }
    QRectF boundingRect() const override { return bounds_; }
    TreeView::ColourBy colour_by = TreeView::ColourBy::Entropy;

    void layout() {
        const ReasoningTree& t = model_->tree();
        pos_.assign(static_cast<size_t>(t.size()), QPointF());
        double next = 0;
        // Iterative post-order: leaves get consecutive x, parents the mean of their children.
        std::vector<std::pair<int, size_t>> stack;
        if (t.size()) stack.push_back({0, 0});
        while (!stack.empty()) {
            auto& [id, k] = stack.back();
            const Node& n = t.at(id);
            if (k < n.children.size()) {
                int c = n.children[k++];
                stack.push_back({c, 0});
                continue;
            }
            double x = n.children.empty() ? next++
                                          : (pos_[static_cast<size_t>(n.children.front())].x() +
                                             pos_[static_cast<size_t>(n.children.back())].x()) /
                                                2 / kDx;
            pos_[static_cast<size_t>(id)] = QPointF(x * kDx, n.depth * kDy);
            stack.pop_back();
        }
        // Spatial index: per depth, node ids sorted by x (paint visits only the
        // visible slice), and each node's entropy colour computed once.
        by_depth_.assign(static_cast<size_t>(t.max_depth() + 1), {});
        entropy_fill_.resize(static_cast<size_t>(t.size()));
        thinking_.assign(static_cast<size_t>(t.size()), 0);
        for (const Node& n : t.nodes()) {
            by_depth_[static_cast<size_t>(n.depth)].push_back(n.id);
            entropy_fill_[static_cast<size_t>(n.id)] = entropy_colour(n.mean_entropy());
            const int th = n.thinking_tokens();
            thinking_[static_cast<size_t>(n.id)] = th == 0                                   ? 0
                                                   : th == static_cast<int>(n.tokens.size()) ? 2
                                                                                             : 1;
        }
        for (auto& row : by_depth_)
            std::sort(row.begin(), row.end(), [&](int a, int b) {
                return pos_[static_cast<size_t>(a)].x() < pos_[static_cast<size_t>(b)].x();
            });
        prepareGeometryChange();
        bounds_ =
            QRectF(-kDx, -kDy, std::max(1.0, next) * kDx + 2 * kDx, (t.max_depth() + 2) * kDy);
        update();
    }

    void paint(QPainter* p, const QStyleOptionGraphicsItem* opt, QWidget* widget) override {
        const ReasoningTree& t = model_->tree();
        if (pos_.size() != static_cast<size_t>(t.size())) return;
        const QRectF vis = opt->exposedRect.adjusted(-kDx, -kDy, kDx, kDy);
        const double lod = opt->levelOfDetailFromTransform(p->worldTransform());
        const bool detail = lod > 0.15;
        const auto path = model_->selected_path();
        auto on_path = [&](int id) {
            return std::find(path.begin(), path.end(), id) != path.end();
        };
        const std::string key = model_->score_key().toStdString();
        p->setRenderHint(QPainter::Antialiasing, detail);
        // The visible slice of each visible depth.
        const int d0 = std::max(0, static_cast<int>(std::floor(vis.top() / kDy)) - 1);
        const int d1 = std::min(static_cast<int>(by_depth_.size()) - 1,
                                static_cast<int>(std::ceil(vis.bottom() / kDy)) + 1);
        auto slice = [&](int d) {
            const auto& row = by_depth_[static_cast<size_t>(d)];
            auto lo = std::lower_bound(
                row.begin(), row.end(), vis.left() - 4 * kDx,
                [&](int id, double x) { return pos_[static_cast<size_t>(id)].x() < x; });
            auto hi = std::upper_bound(
                row.begin(), row.end(), vis.right() + 4 * kDx,
                [&](double x, int id) { return x < pos_[static_cast<size_t>(id)].x(); });
            return std::make_pair(lo, hi);
        };
        // Edges: from each visible node to its parent.
        // The palette's colours (dark or light theme); node fills are light in both.
        const QPalette pal = widget ? widget->palette() : opt->palette;
        const QColor ink = pal.color(QPalette::Text);
        const QPen edge(faded(ink, pal.color(QPalette::Base), 0.6), 1.0), hot(ink, 2.5);
        for (int d = std::max(1, d0); d <= d1; ++d) {
            auto [lo, hi] = slice(d);
            for (auto it = lo; it != hi; ++it) {
                const Node& n = t.at(*it);
                const bool h = on_path(n.id) && on_path(n.parent);
                p->setPen(h ? hot : edge);
                p->drawLine(pos_[static_cast<size_t>(n.parent)], pos_[static_cast<size_t>(n.id)]);
            }
        }
        // Nodes.
        for (int d = d0; d <= d1; ++d) {
            auto [lo, hi] = slice(d);
            for (auto it = lo; it != hi; ++it) {
                const Node& n = t.at(*it);
                const QPointF c = pos_[static_cast<size_t>(n.id)];
                QColor fill;
                auto sc = n.scores.find(key);
                if (n.status == NodeStatus::Pruned)
                    fill = QColor(200, 200, 200);
                else if (colour_by == TreeView::ColourBy::Score && sc != n.scores.end())
                    fill = score_colour(sc->second);
                else
                    fill = entropy_fill_[static_cast<size_t>(n.id)];
                if (!detail) {
                    p->fillRect(QRectF(c.x() - 3, c.y() - 3, 6, 6), fill);
                    continue;
                }
                QPen pen(QColor(80, 80, 80), 1);
                if (n.correct == 1)
                    pen = QPen(QColor(26, 156, 58), 3);
                else if (n.correct == 0)
                    pen = QPen(QColor(208, 48, 42), 3);
                if (n.id == model_->selected()) pen = QPen(QColor(30, 90, 220), 3);
                p->setPen(pen);
                p->setBrush(fill);
                p->drawEllipse(c, kR, kR);
                // Thinking: a dashed violet ring, all round when the whole
                // step is thinking, over the top half when part of it is.
                if (const char th = thinking_[static_cast<size_t>(n.id)]) {
                    QPen ring(forced_colour(), 1.6, Qt::DashLine);
                    p->setPen(ring);
                    p->setBrush(Qt::NoBrush);
                    const QRectF r(c.x() - kR - 3.5, c.y() - kR - 3.5, 2 * kR + 7, 2 * kR + 7);
                    if (th == 2)
                        p->drawEllipse(r);
                    else
                        p->drawArc(r, 0, 180 * 16);
                }
                if (n.status == NodeStatus::Pruned) {
                    p->setPen(QPen(QColor(120, 120, 120), 1.5));
                    p->drawLine(c + QPointF(-4, -4), c + QPointF(4, 4));
                    p->drawLine(c + QPointF(-4, 4), c + QPointF(4, -4));
                }
                if (!n.answer.empty() && lod > 0.5) {
                    p->setPen(ink);
                    p->drawText(QRectF(c.x() - 30, c.y() + kR + 1, 60, 14), Qt::AlignCenter,
                                QString::fromStdString(n.answer));
                }
            }
        }
    }

    int hit(const QPointF& s) const {
        int best = -1;
        double bd = (kR + 4) * (kR + 4);
        for (size_t i = 0; i < pos_.size(); ++i) {
            QPointF d = pos_[i] - s;
            double dd = d.x() * d.x() + d.y() * d.y();
            if (dd < bd) {
                bd = dd;
                best = static_cast<int>(i);
            }
        }
        return best;
    }
    QPointF pos_of(int id) const {
        return id >= 0 && static_cast<size_t>(id) < pos_.size() ? pos_[static_cast<size_t>(id)]
                                                                : QPointF();
    }
    int count() const { return static_cast<int>(pos_.size()); }
    int thinking_mark(int id) const {
        return id >= 0 && static_cast<size_t>(id) < thinking_.size()
                   ? thinking_[static_cast<size_t>(id)]
                   : 0;
    }

    static constexpr double kDx = 26, kDy = 54, kR = 8;

  private:
    RunModel* model_;
    std::vector<QPointF> pos_;
    std::vector<std::vector<int>> by_depth_;  // per depth: node ids sorted by x
    std::vector<QColor> entropy_fill_;
    std::vector<char> thinking_;  // per node: 0 no thinking, 1 partly, 2 all thinking
    QRectF bounds_;
};

TreeView::TreeView(RunModel* model, QWidget* parent) : QGraphicsView(parent), model_(model) {
    setScene(new QGraphicsScene(this));
    canvas_ = new TreeCanvas(model);
    scene()->addItem(canvas_);
    setDragMode(QGraphicsView::ScrollHandDrag);
    setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
    setViewportUpdateMode(QGraphicsView::SmartViewportUpdate);
    setObjectName("treeView");
    // A new or opened run is fit to the view, whatever the last one's zoom.
    connect(model_, &RunModel::runReset, this, [this] { user_zoomed_ = false; });
    connect(model_, &RunModel::changed, this, &TreeView::relayout);
    connect(model_, &RunModel::selectionChanged, this, [this] { canvas_->update(); });
}

void TreeView::drawBackground(QPainter* p, const QRectF& rect) {
    // The palette's base, so the canvas follows the theme (it was a fixed white).
    p->fillRect(rect, palette().color(QPalette::Base));
}

void TreeView::relayout() {
    canvas_->layout();
    scene()->setSceneRect(canvas_->boundingRect());
    if (!user_zoomed_) fit();
}

void TreeView::set_colour_by(ColourBy c) {
    colour_by_ = c;
    canvas_->colour_by = c;
    canvas_->update();
}

int TreeView::node_count() const {
    return canvas_->count();
}
QPointF TreeView::node_pos(int node) const {
    return canvas_->pos_of(node);
}
int TreeView::thinking_mark(int node) const {
    return canvas_->thinking_mark(node);
}

void TreeView::fit() {
    QRectF r = canvas_->boundingRect();
    if (r.width() < 400) r.setWidth(400);
    if (r.height() < 300) r.setHeight(300);
    fitInView(r, Qt::KeepAspectRatio);
}

void TreeView::find_text(const QString& text) {
    const ReasoningTree& t = model_->tree();
    for (int k = 0; k < t.size(); ++k) {
        int id = (find_from_ + k) % t.size();
        if (QString::fromStdString(t.at(id).text).contains(text, Qt::CaseInsensitive)) {
            model_->select(id);
            centerOn(canvas_->pos_of(id));
            find_from_ = id + 1;
            return;
        }
    }
}

void TreeView::wheelEvent(QWheelEvent* e) {
    user_zoomed_ = true;
    double f = std::pow(1.0015, e->angleDelta().y());
    scale(f, f);
}

void TreeView::mousePressEvent(QMouseEvent* e) {
    int id = canvas_->hit(mapToScene(e->pos()));
    if (id >= 0) model_->select(id);
    QGraphicsView::mousePressEvent(e);
}

}  // namespace rs::views
