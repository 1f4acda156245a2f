#include "widgets/tree_view.h"

#include <QContextMenuEvent>
#include <QFontMetricsF>
#include <QGraphicsItem>
#include <QHelpEvent>
#include <QKeyEvent>
#include <QMenu>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QStyleOptionGraphicsItem>
#include <QToolTip>
#include <QWheelEvent>
#include <algorithm>
#include <climits>
#include <cmath>
#include <span>
#include <string_view>
#include <unordered_map>

#include "widgets/colours.h"
#include "widgets/theme.h"
#include "widgets/tree_legend.h"

namespace rs::views {

namespace {

// Spacing (scene units): the least that keeps nodes apart, and the most a
// sparse tree is stretched to fill the view.
constexpr double kDx = 26, kDy = 54, kR = 8;
constexpr double kDxMax = 200, kDyMax = 216;
// Margins round the nodes: room for badges above, answers and records below.
constexpr double kMarginX = 26, kMarginTop = 24, kMarginBottom = 44;
// Zoom: a fit never magnifies past kMaxScale; a tree too long to fit above
// kLongFit is shown at kReadable (1:1, where answers and records are written)
// when its width allows, and scrolls; a tree so wide that its fit is under
// kStretchMin is not stretched to the view's height (nothing would read).
constexpr double kMaxScale = 1.5, kLongFit = 0.6, kReadable = 1.0, kStretchMin = 0.2;

// The records strategies leave on a node, as short parts written under it.
std::vector<QString> record_parts(const Node& n) {
    std::vector<QString> parts;
    const auto score = [&](const char* k) -> const double* {
        auto it = n.scores.find(k);
        return it == n.scores.end() ? nullptr : &it->second;
    };
    const auto num = [](double v) { return QString::number(v, 'g', 3); };
    if (n.visits > 0) {
        parts.push_back(QString("N %1").arg(n.visits));
        parts.push_back(QString("Q %1").arg(n.value(), 0, 'f', 2));
    }
    if (const double* w = score("particle_weight")) parts.push_back("w " + num(*w));
    if (const double* c = score("resample_copies"))
        parts.push_back(QString("%1 %2").arg(num(*c), *c == 1 ? "copy" : "copies"));
    if (const double* d = score("duplicate_of"))
        parts.push_back(QString("dup of %1").arg(static_cast<int>(*d)));
    if (score("width_pruned")) parts.push_back("width cut");
    if (score("width_readded")) parts.push_back("re-added");
    if (const double* r = score("pruned_rank"))
        parts.push_back(QString("cut rank %1").arg(static_cast<int>(*r)));
    if (const double* s = score("pruned_at_step"))
        parts.push_back(QString("at step %1").arg(static_cast<int>(*s)));
    if (const double* s = score("pruned_signal")) parts.push_back("signal " + num(*s));
    if (const double* k = score("kept"); k && *k == 0) parts.push_back("not kept");
    return parts;
}

}  // namespace

class TreeCanvas : public QGraphicsItem {
  public:
    explicit TreeCanvas(RunModel* m) : model_(m) {
        setFlag(QGraphicsItem::ItemUsesExtendedStyleOption);
    }
    QRectF boundingRect() const override { return bounds_; }
    TreeView::ColourBy colour_by = TreeView::ColourBy::Entropy;
    bool grouping = true;
    std::vector<char> collapsed;  // per node: its subtree is folded into it

    // Which node is drawn for which (groups, collapsed subtrees), the drawn
    // tree's children, and per-node colours and marks.
    void build() {
        const ReasoningTree& t = model_->tree();
        const size_t n = static_cast<size_t>(t.size());
        collapsed.resize(n, 0);
        rep_.resize(n);
        shown_.resize(n);
        group_n_.assign(n, 0);
        hidden_n_.assign(n, 0);
        entropy_fill_.resize(n);
        thinking_.assign(n, 0);
        counterfactual_.assign(n, 0);
        pruned_.assign(n, 1);
        TreeLegend::Content c;
        c.by_score = colour_by == TreeView::ColourBy::Score;
        c.score_key = model_->score_key();
        const std::string key = c.score_key.toStdString();
        bool any_score = false;
        // Siblings (under the same drawn parent) with the same settled text
        // share one representative, the first of them.
        struct KeyHash {
            size_t operator()(const std::pair<int, std::string_view>& k) const {
                return std::hash<std::string_view>()(k.second) * 31 + static_cast<size_t>(k.first);
            }
        };
        std::unordered_map<std::pair<int, std::string_view>, int, KeyHash> same;
        const bool settled_run = !model_->live() || model_->finished();
        for (const Node& nd : t.nodes()) {
            const size_t i = static_cast<size_t>(nd.id);
            rep_[i] = nd.id;
            if (nd.parent >= 0 && grouping && !nd.text.empty() &&
                (settled_run || nd.status != NodeStatus::Open)) {
                auto [it, fresh] =
                    same.try_emplace({rep_[static_cast<size_t>(nd.parent)], nd.text}, nd.id);
                if (!fresh) rep_[i] = it->second;
            }
            // Nodes are added after their parents, so the parent is resolved.
            if (nd.parent < 0) {
                shown_[i] = nd.id;
            } else {
                const int pr = rep_[static_cast<size_t>(nd.parent)];
                const int ps = shown_[static_cast<size_t>(nd.parent)];
                shown_[i] = ps != pr ? ps : collapsed[static_cast<size_t>(pr)] ? pr : rep_[i];
            }
            const int s = shown_[i];
            if (rep_[i] == s)
                ++group_n_[static_cast<size_t>(s)];
            else
                ++hidden_n_[static_cast<size_t>(s)];
            entropy_fill_[i] = entropy_colour(nd.mean_entropy());
            const int th = nd.thinking_tokens();
            thinking_[i] = th == 0 ? 0 : th == static_cast<int>(nd.tokens.size()) ? 2 : 1;
            // A group is drawn pruned only when every one of its steps is.
            if (nd.status != NodeStatus::Pruned) pruned_[static_cast<size_t>(rep_[i])] = 0;
            if (nd.visits > 0) c.mcts = true;
            if (nd.scores.count(kCounterfactualRunScore)) counterfactual_[i] = 1;
            c.counterfactual = c.counterfactual || counterfactual_[i];
            for (const auto& [k, v] : nd.scores) {
                if (k == key) {
                    c.score_min = any_score ? std::min(c.score_min, v) : v;
                    c.score_max = any_score ? std::max(c.score_max, v) : v;
                    any_score = true;
                } else if (k == "particle_weight" || k == "resample_copies") {
                    c.particles = true;
                } else if (k == "duplicate_of" || k == "width_pruned" || k == "pruned_rank" ||
                           k == "pruned_signal" || k == "pruned_at_step" || k == "kept") {
                    c.pruning = true;
                }
            }
        }
        legend_content = c;
        // The drawn tree's children (compressed rows), in id order.
        child_start_.assign(n + 1, 0);
        for (const Node& nd : t.nodes())
            if (nd.parent >= 0 && is_shown(nd.id))
                ++child_start_[static_cast<size_t>(shown_[static_cast<size_t>(nd.parent)]) + 1];
        for (size_t i = 0; i < n; ++i) child_start_[i + 1] += child_start_[i];
        child_list_.resize(child_start_[n]);
        std::vector<int> fill(child_start_.begin(), child_start_.end() - 1);
        for (const Node& nd : t.nodes())
            if (nd.parent >= 0 && is_shown(nd.id))
                child_list_[static_cast<size_t>(
                    fill[static_cast<size_t>(shown_[static_cast<size_t>(nd.parent)])]++)] = nd.id;
    }

    // Positions. With `adapt`, the spacing is chosen for a viewport of
    // vw x vh pixels: a wide tree is stretched to the view's height, a long
    // one to its width (at kReadable if it is too long to fit); otherwise the
    // spacing stays (the user's zoom keeps its meaning as the run grows).
    void place(double vw, double vh, bool adapt) {
        const ReasoningTree& t = model_->tree();
        const size_t n = static_cast<size_t>(t.size());
        pos_.assign(n, QPointF());
        // Leaf slots and depths of the drawn tree (iterative post-order).
        std::vector<double> slot(n, 0);
        int leaves = 0, rows = 0;
        std::vector<std::pair<int, int>> stack;
        if (n) stack.push_back({0, child_start_[0]});
        while (!stack.empty()) {
            auto& [id, k] = stack.back();
            const size_t i = static_cast<size_t>(id);
            if (k < child_start_[i + 1]) {
                const int c = child_list_[static_cast<size_t>(k++)];
                stack.push_back({c, child_start_[static_cast<size_t>(c)]});
                continue;
            }
            if (child_start_[i] == child_start_[i + 1]) {
                slot[i] = leaves++;
            } else {
                const int first = child_list_[static_cast<size_t>(child_start_[i])];
                const int last = child_list_[static_cast<size_t>(child_start_[i + 1] - 1)];
                slot[i] = (slot[static_cast<size_t>(first)] + slot[static_cast<size_t>(last)]) / 2;
            }
            rows = std::max(rows, t.at(id).depth + 1);
            stack.pop_back();
        }
        leaves_ = std::max(1, leaves);
        rows_ = std::max(1, rows);
        if (adapt) choose_spacing(vw, vh);
        by_depth_.assign(static_cast<size_t>(rows_), {});
        for (const Node& nd : t.nodes()) {
            if (!is_shown(nd.id)) continue;
            const size_t i = static_cast<size_t>(nd.id);
            pos_[i] = QPointF(slot[i] * dx_, nd.depth * dy_);
            by_depth_[static_cast<size_t>(nd.depth)].push_back(nd.id);
        }
        for (const Node& nd : t.nodes())
            if (!is_shown(nd.id))
                pos_[static_cast<size_t>(nd.id)] =
                    pos_[static_cast<size_t>(shown_[static_cast<size_t>(nd.id)])];
        // Per depth, node ids sorted by x: paint visits only the visible slice.
        for (auto& row : by_depth_)
            std::sort(row.begin(), row.end(), [&](int a, int b) {
                return pos_[static_cast<size_t>(a)].x() < pos_[static_cast<size_t>(b)].x();
            });
        prepareGeometryChange();
        bounds_ = QRectF(-kMarginX, -kMarginTop, (leaves_ - 1) * dx_ + 2 * kMarginX,
                         (rows_ - 1) * dy_ + kMarginTop + kMarginBottom);
        update();
    }

    // The zoom that fits the tree in a vw x vh viewport (a long tree: up to
    // kReadable while its width fits), and whether all of it shows.
    std::pair<double, bool> fit_scale(double vw, double vh) const {
        const double sw = vw / bounds_.width(), sh = vh / bounds_.height();
        double s = std::min(sw, sh);
        if (sh < sw && s < kLongFit) s = std::max(s, std::min(kReadable, sw));
        s = std::min(s, kMaxScale);
        return {s, s <= std::min(sw, sh) + 1e-9};
    }

    void paint(QPainter* p, const QStyleOptionGraphicsItem* opt, QWidget* widget) override {
        const ReasoningTree& t = model_->tree();
        if (pos_.size() != static_cast<size_t>(t.size()) || by_depth_.empty()) return;
        const QRectF vis = opt->exposedRect.adjusted(-dx_, -dy_, dx_, dy_);
        const QTransform wt = p->worldTransform();
        const double lod = opt->levelOfDetailFromTransform(wt);
        const bool detail = lod > 0.15;
        // The selected path, as drawn nodes.
        std::vector<int> path = model_->selected_path();
        for (int& id : path) id = shown_as(id);
        const int selected = path.empty() ? -1 : path.back();
        auto on_path = [&](int id) {
            return std::find(path.begin(), path.end(), id) != path.end();
        };
        const std::string key = model_->score_key().toStdString();
        p->setRenderHint(QPainter::Antialiasing, detail);
        // The visible slice of each visible depth.
        const int d0 = std::max(0, static_cast<int>(std::floor(vis.top() / dy_)) - 1);
        const int d1 = std::min(static_cast<int>(by_depth_.size()) - 1,
                                static_cast<int>(std::ceil(vis.bottom() / dy_)) + 1);
        auto slice = [&](int d) {
            const auto& row = by_depth_[static_cast<size_t>(d)];
            auto lo = std::lower_bound(
                row.begin(), row.end(), vis.left() - 4 * dx_,
                [&](int id, double x) { return pos_[static_cast<size_t>(id)].x() < x; });
            auto hi = std::upper_bound(
                row.begin(), row.end(), vis.right() + 4 * dx_,
                [&](double x, int id) { return x < pos_[static_cast<size_t>(id)].x(); });
            return std::make_pair(lo, hi);
        };
        // Device pixel column of a scene x (the view neither rotates nor shears).
        auto px = [&](double x) { return static_cast<int>(std::floor(wt.m11() * x + wt.dx())); };
        // The palette's colours (dark or light theme); node fills are light in both.
        const QPalette pal = widget ? widget->palette() : opt->palette;
        const QColor ink = pal.color(QPalette::Text), base = pal.color(QPalette::Base);

        // Edges: from each visible node to its drawn parent, batched; far
        // out, edges that land on the same pixels as the last one are skipped.
        // A counterfactual branch grafted onto the tree: its edges dashed.
        std::vector<QLineF> lines, hot_lines, cf_lines, cf_hot_lines;
        for (int d = std::max(1, d0); d <= d1; ++d) {
            auto [lo, hi] = slice(d);
            int last_c = INT_MIN, last_p = INT_MIN;
            for (auto it = lo; it != hi; ++it) {
                const Node& n = t.at(*it);
                const int par = shown_[static_cast<size_t>(n.parent)];
                const QPointF a = pos_[static_cast<size_t>(par)],
                              b = pos_[static_cast<size_t>(n.id)];
                const bool cf = counterfactual_[static_cast<size_t>(n.id)];
                if (on_path(n.id) && on_path(par)) {
                    (cf ? cf_hot_lines : hot_lines).emplace_back(a, b);
                    continue;
                }
                if (cf) {
                    cf_lines.emplace_back(a, b);
                    continue;
                }
                if (!detail) {
                    const int pc = px(b.x()), pp = px(a.x());
                    if (pc == last_c && pp == last_p) continue;
                    last_c = pc;
                    last_p = pp;
                }
                lines.emplace_back(a, b);
            }
        }
        p->setPen(QPen(faded(ink, base, 0.6), detail ? 1.0 : 0.0));
        p->drawLines(lines.data(), static_cast<int>(lines.size()));
        p->setPen(QPen(ink, 2.5));
        p->drawLines(hot_lines.data(), static_cast<int>(hot_lines.size()));
        p->setPen(QPen(counterfactual_colour(), detail ? 1.6 : 0.0, Qt::DashLine));
        p->drawLines(cf_lines.data(), static_cast<int>(cf_lines.size()));
        p->setPen(QPen(counterfactual_colour(), 3.0, Qt::DashLine));
        p->drawLines(cf_hot_lines.data(), static_cast<int>(cf_hot_lines.size()));

        // Nodes.
        for (int d = d0; d <= d1; ++d) {
            auto [lo, hi] = slice(d);
            int last_px = INT_MIN;
            for (auto it = lo; it != hi; ++it) {
                const Node& n = t.at(*it);
                const QPointF c = pos_[static_cast<size_t>(n.id)];
                if (!detail) {  // one square per pixel column
                    const int x = px(c.x());
                    if (x == last_px && n.id != selected) continue;
                    last_px = x;
                }
                const QColor fill = fill_of(n, key);
                if (!detail) {
                    // At least a device pixel or two, however far out.
                    const double half = std::max(3.0, 1.0 / lod);
                    p->fillRect(QRectF(c.x() - half, c.y() - half, 2 * half, 2 * half), fill);
                    continue;
                }
                QPen pen(QColor(80, 80, 80), 1);
                if (n.correct == 1)
                    pen = QPen(correct_colour(), 3);
                else if (n.correct == 0)
                    pen = QPen(wrong_colour(), 3);
                if (n.id == selected) pen = QPen(selected_colour(), 3);
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
                if (pruned_[static_cast<size_t>(n.id)]) {
                    p->setPen(QPen(QColor(120, 120, 120), 1.5));
                    p->drawLine(c + QPointF(-4, -4), c + QPointF(4, 4));
                    p->drawLine(c + QPointF(-4, 4), c + QPointF(4, -4));
                }
                if (hidden_n_[static_cast<size_t>(n.id)] > 0) {
                    // Collapsed: a folded stub under the node, seen at any zoom with detail.
                    p->setPen(QPen(ink, 1.5));
                    p->setBrush(Qt::NoBrush);
                    p->drawLine(c + QPointF(0, kR), c + QPointF(0, kR + 6));
                    p->drawLine(c + QPointF(-5, kR + 6), c + QPointF(5, kR + 6));
                }
            }
        }
        if (lod < 0.35) return;

        // Words in device pixels (a constant size at any zoom): badges,
        // answers, and the strategy records where they fit the node's slot.
        p->save();
        p->resetTransform();
        QFont answer_font = p->font(), record_font = p->font();
        answer_font.setPixelSize(11);
        record_font.setPixelSize(10);
        const QFontMetricsF afm(answer_font), rfm(record_font);
        const double slot = dx_ * lod - 4;
        const QColor record_ink = faded(ink, base, 0.25);
        for (int d = d0; d <= d1; ++d) {
            auto [lo, hi] = slice(d);
            for (auto it = lo; it != hi; ++it) {
                const Node& n = t.at(*it);
                const QPointF c = wt.map(pos_[static_cast<size_t>(n.id)]);
                const double r = kR * lod;
                QPointF badge(c.x() + r * 0.6, c.y() - r * 0.9);
                if (const int k = group_n_[static_cast<size_t>(n.id)]; k > 1) {
                    const QString s = QString("×%1").arg(k);
                    draw_badge(p, badge, s, group_badge_colour());
                    badge.rx() += QFontMetricsF(p->font()).horizontalAdvance(s) + 4;
                }
                if (const int h = hidden_n_[static_cast<size_t>(n.id)]; h > 0)
                    draw_badge(p, badge, QString("+%1").arg(h), collapsed_badge_colour());
                if (lod <= 0.5) continue;
                double y = c.y() + r + 2 + (hidden_n_[static_cast<size_t>(n.id)] > 0 ? 6 * lod : 0);
                const double bottom = c.y() + dy_ * lod - r - 4;
                if (!n.answer.empty()) {
                    const double w = std::max(slot, 40.0);
                    p->setFont(answer_font);
                    p->setPen(ink);
                    p->drawText(
                        QRectF(c.x() - w / 2, y, w, afm.height()), Qt::AlignCenter,
                        afm.elidedText(QString::fromStdString(n.answer), Qt::ElideRight, w));
                    y += afm.height();
                }
                if (lod < 0.6) continue;
                p->setFont(record_font);
                p->setPen(record_ink);
                for (const QString& part : record_parts(n)) {
                    if (y + rfm.height() > bottom) break;
                    if (rfm.horizontalAdvance(part) > slot) break;  // the rest: tooltip only
                    p->drawText(QRectF(c.x() - slot / 2, y, slot, rfm.height()), Qt::AlignCenter,
                                part);
                    y += rfm.height();
                }
            }
        }
        p->restore();
    }

    // The drawn node under scene point s, or -1.
    int hit(const QPointF& s) const {
        if (by_depth_.empty()) return -1;
        const int d = static_cast<int>(std::lround(s.y() / dy_));
        if (d < 0 || d >= static_cast<int>(by_depth_.size())) return -1;
        const auto& row = by_depth_[static_cast<size_t>(d)];
        const auto k = std::lower_bound(row.begin(), row.end(), s.x(),
                                        [&](int id, double x) {
                                            return pos_[static_cast<size_t>(id)].x() < x;
                                        }) -
                       row.begin();
        int best = -1;
        double bd = (kR + 4) * (kR + 4);
        for (auto j : {k - 1, k}) {
            if (j < 0 || j >= static_cast<ptrdiff_t>(row.size())) continue;
            const int id = row[static_cast<size_t>(j)];
            const QPointF q = pos_[static_cast<size_t>(id)] - s;
            const double dd = q.x() * q.x() + q.y() * q.y();
            if (dd < bd) {
                bd = dd;
                best = id;
            }
        }
        return best;
    }
    QPointF pos_of(int id) const { return valid(id) ? pos_[static_cast<size_t>(id)] : QPointF(); }
    int count() const { return static_cast<int>(pos_.size()); }
    int shown_count() const {
        int k = 0;
        for (const auto& row : by_depth_) k += static_cast<int>(row.size());
        return k;
    }
    int thinking_mark(int id) const { return valid(id) ? thinking_[static_cast<size_t>(id)] : 0; }
    bool valid(int id) const { return id >= 0 && static_cast<size_t>(id) < shown_.size(); }
    bool is_shown(int id) const { return valid(id) && shown_[static_cast<size_t>(id)] == id; }
    int shown_as(int id) const { return valid(id) ? shown_[static_cast<size_t>(id)] : -1; }
    int rep_of(int id) const { return valid(id) ? rep_[static_cast<size_t>(id)] : -1; }
    int group_size(int id) const { return is_shown(id) ? group_n_[static_cast<size_t>(id)] : 0; }
    int hidden_count(int id) const { return is_shown(id) ? hidden_n_[static_cast<size_t>(id)] : 0; }
    // The drawn children of a drawn node, in layout order.
    std::span<const int> children(int id) const {
        if (!is_shown(id)) return {};
        const size_t i = static_cast<size_t>(id);
        return std::span<const int>(child_list_)
            .subspan(static_cast<size_t>(child_start_[i]),
                     static_cast<size_t>(child_start_[i + 1] - child_start_[i]));
    }
    double dx() const { return dx_; }
    double dy() const { return dy_; }
    TreeLegend::Content legend_content;

  private:
    QColor fill_of(const Node& n, const std::string& key) const {
        if (pruned_[static_cast<size_t>(n.id)]) return pruned_fill();
        if (colour_by == TreeView::ColourBy::Score) {
            auto sc = n.scores.find(key);
            if (sc != n.scores.end()) return score_colour(sc->second);
        }
        return entropy_fill_[static_cast<size_t>(n.id)];
    }

    void choose_spacing(double vw, double vh) {
        dx_ = kDx;
        dy_ = kDy;
        const double w = (leaves_ - 1) * kDx + 2 * kMarginX;
        const double h = (rows_ - 1) * kDy + kMarginTop + kMarginBottom;
        const double sw = vw / w, sh = vh / h;
        double s = std::min(sw, sh);
        if (sw <= sh && s < kStretchMin) return;  // too wide to read at any stretch
        if (sh < sw && s < kLongFit) s = std::max(s, std::min(kReadable, sw));
        s = std::min(s, kMaxScale);
        if (leaves_ > 1) dx_ = std::clamp((vw / s - 2 * kMarginX) / (leaves_ - 1), kDx, kDxMax);
        if (rows_ > 1)
            dy_ = std::clamp((vh / s - kMarginTop - kMarginBottom) / (rows_ - 1), kDy, kDyMax);
    }

    RunModel* model_;
    std::vector<int> rep_;       // per node: its group's representative (itself without one)
    std::vector<int> shown_;     // per node: the node drawn for it
    std::vector<int> group_n_;   // per drawn node: the steps of its group
    std::vector<int> hidden_n_;  // per drawn node: the nodes its collapse hides
    std::vector<int> child_start_, child_list_;  // drawn children, compressed rows
    std::vector<QPointF> pos_;                   // per node: the position of its drawn node
    std::vector<std::vector<int>> by_depth_;     // per depth: drawn node ids sorted by x
    std::vector<QColor> entropy_fill_;
    std::vector<char> thinking_;        // per node: 0 no thinking, 1 partly, 2 all thinking
    std::vector<char> counterfactual_;  // per node: part of a grafted counterfactual branch
    std::vector<char> pruned_;          // per representative: every step of its group is pruned
    int leaves_ = 1, rows_ = 1;
    double dx_ = kDx, dy_ = kDy;
    QRectF bounds_;
};

TreeView::TreeView(RunModel* model, QWidget* parent) : QGraphicsView(parent), model_(model) {
    setScene(new QGraphicsScene(this));
    canvas_ = new TreeCanvas(model);
    scene()->addItem(canvas_);
    setDragMode(QGraphicsView::ScrollHandDrag);
    setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
    setViewportUpdateMode(QGraphicsView::SmartViewportUpdate);
    setFocusPolicy(Qt::StrongFocus);
    setObjectName("treeView");
    legend_ = new TreeLegend(this);
    // A new or opened run is fit to the view, whatever the last one's zoom,
    // and starts unfolded.
    connect(model_, &RunModel::runReset, this, [this] {
        user_zoomed_ = false;
        canvas_->collapsed.clear();
        trail_.clear();
    });
    connect(model_, &RunModel::changed, this, &TreeView::relayout);
    connect(model_, &RunModel::selectionChanged, this, [this](int node) {
        const ReasoningTree& t = model_->tree();
        if (node >= 0 && node < t.size()) {
            const size_t d = static_cast<size_t>(t.at(node).depth);
            if (d >= trail_.size() || trail_[d] >= t.size() ||
                shown_as(trail_[d]) != shown_as(node))
                trail_ = t.path(node);
        }
        canvas_->update();
    });
    relayout();
}

void TreeView::drawBackground(QPainter* p, const QRectF& rect) {
    // The palette's base, so the canvas follows the theme (it was a fixed white).
    p->fillRect(rect, palette().color(QPalette::Base));
    if (model_->tree().size() > 0 || placeholder_.isEmpty()) return;
    // No run yet: how to begin, centred in the view.
    p->save();
    p->resetTransform();
    p->setPen(faded(palette().color(QPalette::Text), palette().color(QPalette::Base), 0.45));
    p->drawText(viewport()->rect().adjusted(24, 24, -24, -24), Qt::AlignCenter | Qt::TextWordWrap,
                placeholder_);
    p->restore();
}

void TreeView::set_placeholder(const QString& text) {
    placeholder_ = text;
    viewport()->update();
}

void TreeView::relayout() {
    canvas_->build();
    update_legend();  // first: the legend's strip sizes the viewport
    canvas_->place(viewport()->width(), viewport()->height(), !user_zoomed_);
    scene()->setSceneRect(canvas_->boundingRect());
    if (!user_zoomed_) fit_view();
}

void TreeView::update_legend() {
    TreeLegend::Content c = canvas_->legend_content;
    c.by_score = colour_by_ == ColourBy::Score;
    legend_->set_content(c);
    place_legend();
}

void TreeView::place_legend() {
    // A strip under the viewport (the tree is never hidden under it), shown
    // while it takes at most a third of the view's height.
    const QRect area = contentsRect();
    const int h = legend_->height_for_width(area.width());
    const bool show = legend_wanted_ && h <= area.height() / 3;
    const int margin = show ? h : 0;
    if (margin != legend_margin_) {
        legend_margin_ = margin;
        setViewportMargins(0, 0, 0, margin);
    }
    legend_->setVisible(show);
    if (show) {
        const QRect vp = viewport()->geometry();
        legend_->setGeometry(vp.left(), vp.bottom() + 1, vp.width(), h);
    }
}

void TreeView::set_legend_visible(bool on) {
    legend_wanted_ = on;
    place_legend();
}

void TreeView::resizeEvent(QResizeEvent* e) {
    QGraphicsView::resizeEvent(e);
    place_legend();
    if (!user_zoomed_) {
        canvas_->place(viewport()->width(), viewport()->height(), true);
        scene()->setSceneRect(canvas_->boundingRect());
        fit_view();
    }
}

void TreeView::set_colour_by(ColourBy c) {
    colour_by_ = c;
    canvas_->colour_by = c;
    update_legend();
    canvas_->update();
}

void TreeView::set_grouping(bool on) {
    if (on == grouping_) return;
    grouping_ = on;
    canvas_->grouping = on;
    relayout();
    emit groupingChanged(on);
}

int TreeView::node_count() const {
    return canvas_->count();
}
int TreeView::shown_count() const {
    return canvas_->shown_count();
}
QPointF TreeView::node_pos(int node) const {
    return canvas_->pos_of(node);
}
int TreeView::thinking_mark(int node) const {
    return canvas_->thinking_mark(node);
}
int TreeView::shown_as(int node) const {
    return canvas_->shown_as(node);
}
int TreeView::group_size(int node) const {
    return canvas_->group_size(node);
}
int TreeView::hidden_count(int node) const {
    return canvas_->hidden_count(node);
}
bool TreeView::collapsed(int node) const {
    return canvas_->valid(node) && canvas_->collapsed[static_cast<size_t>(node)];
}

void TreeView::set_collapsed(int node, bool on) {
    const int s = shown_as(node);
    if (s < 0 || collapsed(s) == on) return;
    if (on && canvas_->children(s).empty()) return;  // nothing to fold
    canvas_->collapsed[static_cast<size_t>(s)] = on;
    relayout();
    if (model_->selected() >= 0) {
        const QPointF c = canvas_->pos_of(model_->selected());
        ensureVisible(QRectF(c - QPointF(20, 20), QSizeF(40, 40)));
    }
}

void TreeView::toggle_collapsed(int node) {
    const int s = shown_as(node);
    if (s >= 0) set_collapsed(s, !collapsed(s));
}

void TreeView::expand_all() {
    std::fill(canvas_->collapsed.begin(), canvas_->collapsed.end(), 0);
    relayout();
}

std::vector<int> TreeView::group_members(int node) const {
    // Steps whose group this drawn node represents: among the children of
    // the steps its drawn parent stands for.
    std::vector<int> out;
    const ReasoningTree& t = model_->tree();
    const int s = shown_as(node);
    if (s <= 0) return s == 0 ? std::vector<int>{0} : out;
    const int dp = shown_as(t.at(s).parent);
    for (const Node& n : t.nodes())
        if (n.parent >= 0 && shown_as(n.parent) == dp && canvas_->rep_of(n.id) == s)
            out.push_back(n.id);
    return out;
}

QString TreeView::annotation(int node) const {
    if (node < 0 || node >= model_->tree().size()) return {};
    QStringList parts;
    for (const QString& s : record_parts(model_->tree().at(node))) parts << s;
    return parts.join(" · ");
}

QString TreeView::hover_text(int node) const {
    const ReasoningTree& t = model_->tree();
    if (node < 0 || node >= t.size()) return {};
    const Node& n = t.at(node);
    QString h = QString("<b>%1</b> · depth %2 · %3%4")
                    .arg(node == 0 ? QString("prompt") : QString("step %1").arg(node))
                    .arg(n.depth)
                    .arg(status_name(n.status))
                    .arg(n.ended ? " · ended" : "");
    // The step's text, trimmed; its thinking part in violet italics.
    constexpr int kBudget = 360;
    QString body;
    int used = 0;
    const auto add = [&](const QString& s, bool thinking) {
        if (used >= kBudget || s.isEmpty()) return;
        QString part = s.left(kBudget - used);
        used += static_cast<int>(part.size());
        part = part.toHtmlEscaped().replace('\n', "<br>");
        body += thinking ? QString("<i style='color:%1'>%2</i>").arg(forced_colour().name(), part)
                         : part;
    };
    if (n.tokens.empty()) {
        add(QString::fromStdString(n.text).trimmed(), false);
    } else {
        QString run;
        bool thinking = n.tokens.front().thinking;
        for (const TokenRecord& tok : n.tokens) {
            if (tok.thinking != thinking) {
                add(run, thinking);
                run.clear();
                thinking = tok.thinking;
            }
            run += QString::fromStdString(tok.piece);
        }
        add(run, thinking);
    }
    if (used >= kBudget) body += "…";
    if (!body.isEmpty()) h += "<br>" + body;
    h += "<br><table cellspacing=0 cellpadding=0>";
    const auto row = [&](const QString& k, const QString& v) {
        h += QString("<tr><td>%1&nbsp;&nbsp;</td><td>%2</td></tr>").arg(k.toHtmlEscaped(), v);
    };
    for (const auto& [k, v] : n.scores) row(QString::fromStdString(k), QString::number(v, 'g', 4));
    if (!n.tokens.empty()) {
        row("mean entropy", QString::number(n.mean_entropy(), 'f', 3));
        row("mean logprob", QString::number(n.mean_logprob(), 'f', 3));
        const int th = n.thinking_tokens();
        row("tokens", th ? QString("%1 (%2 thinking)").arg(n.tokens.size()).arg(th)
                         : QString::number(n.tokens.size()));
        if (std::isfinite(n.wall_seconds()))  // stored since schema 8
            row("wall time", QString("%1 s").arg(n.wall_seconds(), 0, 'f', 3));
    }
    if (n.visits > 0) {
        row("visits", QString::number(n.visits));
        row("value", QString::number(n.value(), 'f', 3));
    }
    if (!n.answer.empty())
        row("answer",
            QString::fromStdString(n.answer).toHtmlEscaped() + (n.correct == 1   ? " (correct)"
                                                                : n.correct == 0 ? " (wrong)"
                                                                                 : ""));
    h += "</table>";
    const int s = shown_as(node);
    if (const int k = group_size(s); k > 1) {
        int pruned = 0;
        for (const int m : group_members(s)) pruned += t.at(m).status == NodeStatus::Pruned;
        h += QString("<br>×%1 identical sibling steps drawn as one").arg(k);
        if (pruned) h += QString(" (%1 of them pruned)").arg(pruned);
    }
    if (const int hid = hidden_count(s); hid > 0)
        h += QString("<br>collapsed: hides %1 nodes (Space expands)").arg(hid);
    return h;
}

int TreeView::node_at(const QPoint& viewport_pos) const {
    return canvas_->hit(mapToScene(viewport_pos));
}

void TreeView::fit() {
    user_zoomed_ = false;
    canvas_->place(viewport()->width(), viewport()->height(), true);
    scene()->setSceneRect(canvas_->boundingRect());
    fit_view();
}

void TreeView::fit_view() {
    const QRectF r = canvas_->boundingRect();
    const double vw = viewport()->width() - 4, vh = viewport()->height() - 4;
    if (r.isEmpty() || vw <= 0 || vh <= 0) return;
    const auto [s, all] = canvas_->fit_scale(vw, vh);
    setTransform(QTransform::fromScale(s, s));
    if (all) {
        centerOn(r.center());
    } else {
        // A long tree at a readable zoom: its top, or a live run's frontier.
        const double half = vh / s / 2;
        const bool growing = model_->live() && !model_->finished();
        centerOn(r.center().x(), growing ? r.bottom() - half : r.top() + half);
    }
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

void TreeView::select_shown(int node) {
    if (node < 0) return;
    model_->select(node);
    const QPointF c = canvas_->pos_of(node);
    ensureVisible(QRectF(c.x() - canvas_->dx() / 2, c.y() - 20, canvas_->dx(), 48), 40, 40);
}

void TreeView::keyPressEvent(QKeyEvent* e) {
    const ReasoningTree& t = model_->tree();
    if (t.size() == 0) return QGraphicsView::keyPressEvent(e);
    const int cur = shown_as(model_->selected());
    const auto siblings = [&](int id) {
        return id > 0 ? canvas_->children(shown_as(t.at(id).parent)) : std::span<const int>();
    };
    switch (e->key()) {
        case Qt::Key_Home:
            select_shown(0);
            break;
        case Qt::Key_Up:
            select_shown(cur > 0 ? shown_as(t.at(cur).parent) : 0);
            break;
        case Qt::Key_Down: {
            if (cur < 0) {
                select_shown(0);
                break;
            }
            const auto kids = canvas_->children(cur);
            if (kids.empty()) break;
            // Back down the path the selection came up, else the first child.
            int next = kids.front();
            const size_t d = static_cast<size_t>(t.at(cur).depth) + 1;
            if (d < trail_.size() && trail_[d] < t.size()) {
                const int want = shown_as(trail_[d]);
                if (std::find(kids.begin(), kids.end(), want) != kids.end()) next = want;
            }
            select_shown(next);
            break;
        }
        case Qt::Key_Left:
        case Qt::Key_Right: {
            const auto sib = siblings(cur);
            auto it = std::find(sib.begin(), sib.end(), cur);
            if (it == sib.end()) break;
            if (e->key() == Qt::Key_Left && it != sib.begin()) select_shown(*(it - 1));
            if (e->key() == Qt::Key_Right && it + 1 != sib.end()) select_shown(*(it + 1));
            break;
        }
        case Qt::Key_Space:
        case Qt::Key_C:
            if (cur >= 0) toggle_collapsed(cur);
            break;
        case Qt::Key_G:
            set_grouping(!grouping_);
            break;
        default:
            return QGraphicsView::keyPressEvent(e);
    }
    e->accept();
}

QMenu* TreeView::context_menu_for(int node) {
    auto* menu = new QMenu(this);
    const int s = shown_as(node);
    if (s >= 0) {
        const bool folded = collapsed(s);
        QAction* a =
            menu->addAction(folded ? QString("Expand subtree (%1 hidden)").arg(hidden_count(s))
                                   : QString("Collapse subtree"),
                            this, [this, s] { toggle_collapsed(s); });
        a->setShortcut(QKeySequence(Qt::Key_Space));
        a->setEnabled(folded || !canvas_->children(s).empty());
    }
    menu->addAction("Expand all", this, &TreeView::expand_all);
    menu->addSeparator();
    QAction* g =
        menu->addAction("Group identical steps", this, [this](bool on) { set_grouping(on); });
    g->setCheckable(true);
    g->setChecked(grouping_);
    g->setShortcut(QKeySequence(Qt::Key_G));
    QAction* l = menu->addAction("Show legend", this, [this](bool on) { set_legend_visible(on); });
    l->setCheckable(true);
    l->setChecked(legend_wanted_);
    menu->addAction("Fit", this, &TreeView::fit);
    return menu;
}

void TreeView::contextMenuEvent(QContextMenuEvent* e) {
    const int id = node_at(e->pos());
    if (id >= 0) model_->select(id);
    QMenu* menu = context_menu_for(id);
    menu->exec(e->globalPos());
    menu->deleteLater();
}

bool TreeView::viewportEvent(QEvent* e) {
    if (e->type() == QEvent::ToolTip) {
        auto* he = static_cast<QHelpEvent*>(e);
        const int id = node_at(he->pos());
        if (id >= 0)
            QToolTip::showText(he->globalPos(), hover_text(id), viewport());
        else
            QToolTip::hideText();
        return true;
    }
    return QGraphicsView::viewportEvent(e);
}

void TreeView::wheelEvent(QWheelEvent* e) {
    user_zoomed_ = true;
    double f = std::pow(1.0015, e->angleDelta().y());
    scale(f, f);
}

void TreeView::mouseDoubleClickEvent(QMouseEvent* e) {
    const int id = node_at(e->pos());
    if (id >= 0)
        toggle_collapsed(id);
    else
        QGraphicsView::mouseDoubleClickEvent(e);
}

void TreeView::mousePressEvent(QMouseEvent* e) {
    int id = node_at(e->pos());
    if (id >= 0) model_->select(id);
    QGraphicsView::mousePressEvent(e);
}

}  // namespace rs::views
