#include "widgets/latent_view.h"

#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "widgets/theme.h"

namespace rs::views {

Pca2 pca2_fit(const std::vector<const std::vector<float>*>& rows) {
    Pca2 out;
    const size_t n = rows.size();
    if (n == 0) return out;
    const size_t d = rows[0]->size();
    std::vector<double> mean(d, 0.0);
    for (auto* r : rows)
        for (size_t j = 0; j < d && j < r->size(); ++j) mean[j] += (*r)[j];
    for (double& m : mean) m /= static_cast<double>(n);
    // Power iteration on X^T X without forming it: v <- X^T (X v). The second
    // component starts orthogonal to the first and stays so (deflation), so
    // rank-one data leaves it with no variance rather than a copy of the first.
    auto top = [&](const std::vector<double>* deflate) {
        std::vector<double> v(d);
        for (size_t j = 0; j < d; ++j)
            v[j] = std::sin(1.0 + static_cast<double>(j) * 0.7);  // fixed start: reproducible
        auto orthonormal = [&](std::vector<double>& w) {
            if (deflate) {
                double p = 0;
                for (size_t j = 0; j < d; ++j) p += w[j] * (*deflate)[j];
                for (size_t j = 0; j < d; ++j) w[j] -= p * (*deflate)[j];
            }
            double nrm = 0;
            for (double x : w) nrm += x * x;
            nrm = std::sqrt(nrm);
            if (nrm == 0) return false;
            for (double& x : w) x /= nrm;
            return true;
        };
        orthonormal(v);
        for (int it = 0; it < 60; ++it) {
            std::vector<double> w(d, 0.0);
            for (auto* r : rows) {
                double p = 0;
                for (size_t j = 0; j < d; ++j) p += ((*r)[j] - mean[j]) * v[j];
                for (size_t j = 0; j < d; ++j) w[j] += p * ((*r)[j] - mean[j]);
            }
            if (!orthonormal(w)) break;
            v = std::move(w);
        }
        return v;
    };
    auto v1 = top(nullptr);
    auto v2 = top(&v1);
    // Explained variance: the squared projections over the squared distances
    // to the mean (the total variance), each summed over the rows.
    double total = 0, s1 = 0, s2 = 0;
    for (auto* r : rows) {
        double a = 0, b = 0;
        for (size_t j = 0; j < d; ++j) {
            const double x = (*r)[j] - mean[j];
            a += x * v1[j];
            b += x * v2[j];
            total += x * x;
        }
        s1 += a * a;
        s2 += b * b;
        out.points.emplace_back(a, b);
    }
    if (total > 0) {
        out.explained[0] = std::min(1.0, s1 / total);
        out.explained[1] = std::min(1.0 - out.explained[0], s2 / total);
    }
    return out;
}

std::vector<QPointF> pca2(const std::vector<const std::vector<float>*>& rows) {
    return pca2_fit(rows).points;
}

namespace {
constexpr double kHitRadius = 9;  // px: how near a click or hover must be to a point

// A step's text on one line, trimmed to `max` characters.
QString trimmed_step(const std::string& text, int max) {
    QString s = QString::fromStdString(text).simplified();
    return s.size() > max ? s.left(max - 1) + "…" : s;
}
}  // namespace

LatentView::LatentView(RunModel* model, QWidget* parent) : QWidget(parent), model_(model) {
    setObjectName("latentView");
    setMouseTracking(true);
    pool_.setMaxThreadCount(1);
    refit_timer_.setSingleShot(true);
    refit_timer_.setInterval(150);
    connect(&refit_timer_, &QTimer::timeout, this, &LatentView::start_fit);
    connect(model_, &RunModel::changed, this, [this] {
        relayout();  // the legend names the branches there are
        stale_ = true;
        if (!refit_timer_.isActive()) refit_timer_.start();
    });
    connect(model_, &RunModel::runReset, this, [this] {
        // The old run's points name nodes of another tree: gone until the
        // new run's fit (the message says it is fitting meanwhile).
        proj_.clear();
        index_.clear();
        explained_[0] = explained_[1] = 0;
        leaf_ = hovered_ = -1;
        x_.reset();
        y_.reset();
        relayout();
        update();
    });
    connect(model_, &RunModel::selectionChanged, this, &LatentView::on_selection);
    relayout();
}

LatentView::~LatentView() {
    pool_.waitForDone();  // its result, posted to this object, is then dropped
}

void LatentView::start_fit() {
    if (fitting_ || !stale_) return;
    stale_ = false;
    auto rows = std::make_shared<std::vector<std::vector<float>>>();
    auto ids = std::make_shared<std::vector<int>>();
    for (const Node& n : model_->tree().nodes())
        if (!n.hidden.empty() && (rows->empty() || n.hidden.size() == rows->front().size())) {
            rows->push_back(n.hidden);
            ids->push_back(n.id);
        }
    fitting_ = true;
    pool_.start([this, rows, ids] {
        std::vector<const std::vector<float>*> ptrs;
        for (const auto& r : *rows) ptrs.push_back(&r);
        auto fit = std::make_shared<Pca2>(pca2_fit(ptrs));
        QMetaObject::invokeMethod(
            this,
            [this, fit, ids] {
                std::vector<std::pair<int, QPointF>> proj;
                for (size_t i = 0; i < fit->points.size(); ++i)
                    proj.push_back({(*ids)[i], fit->points[i]});
                set_projection(std::move(proj), fit->explained[0], fit->explained[1]);
                fitting_ = false;
                update();
                emit projected();
                if (stale_) start_fit();
            },
            Qt::QueuedConnection);
    });
}

void LatentView::set_projection(std::vector<std::pair<int, QPointF>> proj, double e1, double e2) {
    proj_ = std::move(proj);
    explained_[0] = e1;
    explained_[1] = e2;
    index_.assign(static_cast<size_t>(model_->tree().size()), -1);
    double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
    for (size_t i = 0; i < proj_.size(); ++i) {
        const auto& [id, pt] = proj_[i];
        // (a projection from before a reset may name nodes now gone)
        if (id >= 0 && id < static_cast<int>(index_.size()))
            index_[static_cast<size_t>(id)] = static_cast<int>(i);
        x0 = i ? std::min(x0, pt.x()) : pt.x();
        x1 = i ? std::max(x1, pt.x()) : pt.x();
        y0 = i ? std::min(y0, pt.y()) : pt.y();
        y1 = i ? std::max(y1, pt.y()) : pt.y();
    }
    // A margin around the points, so that none sits on the frame; a flat
    // component (all its points equal) still gets a window about them.
    const double wx = std::max(x1 - x0, 1e-3), wy = std::max(y1 - y0, 1e-3);
    const double lo[2] = {x_.lo, y_.lo}, hi[2] = {x_.hi, y_.hi};
    const bool was_zoomed = zoomed();
    x_.min_span = y_.min_span = 1e-9;
    x_.set_data((x0 + x1 - wx) / 2 - 0.06 * wx, (x0 + x1 + wx) / 2 + 0.06 * wx);
    y_.set_data((y0 + y1 - wy) / 2 - 0.08 * wy, (y0 + y1 + wy) / 2 + 0.08 * wy);
    x_.min_span = x_.span() * 1e-3;
    y_.min_span = y_.span() * 1e-3;
    if (was_zoomed) {  // keep the user's window, inside the new data
        x_.lo = lo[0], x_.hi = hi[0], y_.lo = lo[1], y_.hi = hi[1];
        x_.zoom(1, x_.lo);
        y_.zoom(1, y_.lo);
    }
    if (hovered_ >= 0 &&
        (hovered_ >= static_cast<int>(index_.size()) || index_[static_cast<size_t>(hovered_)] < 0))
        hovered_ = -1;
}

void LatentView::on_selection(int node) {
    const ReasoningTree& t = model_->tree();
    bool on_trace = false;
    if (node >= 0 && leaf_ >= 0 && leaf_ < t.size())
        for (int id : t.path(leaf_)) on_trace = on_trace || id == node;
    if (!on_trace) leaf_ = node;
    relayout();
    keep_selected_in_view();
    update();
}

void LatentView::keep_selected_in_view() {
    const int sel = model_->selected();
    if (!zoomed() || sel < 0 || sel >= static_cast<int>(index_.size())) return;
    const int i = index_[static_cast<size_t>(sel)];
    if (i < 0) return;
    const QPointF q = proj_[static_cast<size_t>(i)].second;
    // Pans until the point is inside, a little in from the edge.
    x_.show(q.x() - 0.1 * x_.span(), q.x() + 0.1 * x_.span());
    y_.show(q.y() - 0.1 * y_.span(), q.y() + 0.1 * y_.span());
}

std::vector<LatentView::LegendEntry> LatentView::legend() const {
    std::vector<LegendEntry> out;
    const ReasoningTree& t = model_->tree();
    bool branch[3] = {false, false, false}, answer[2] = {false, false};
    for (int leaf : t.leaves()) {
        const int c = t.at(leaf).correct;
        branch[c == 1 ? 0 : c == 0 ? 1 : 2] = true;
    }
    for (const Node& n : t.nodes())
        if (!n.answer.empty() && n.correct >= 0) answer[n.correct == 1 ? 0 : 1] = true;
    if (leaf_ >= 0) out.push_back({LegendEntry::Selected, "selected trace", {}});
    if (branch[0]) out.push_back({LegendEntry::CorrectBranch, "correct branch", {}});
    if (branch[1]) out.push_back({LegendEntry::WrongBranch, "wrong branch", {}});
    if (branch[2]) out.push_back({LegendEntry::OtherBranch, "branch", {}});
    if (answer[0]) out.push_back({LegendEntry::RightAnswer, "right answer", {}});
    if (answer[1]) out.push_back({LegendEntry::WrongAnswer, "wrong answer", {}});
    // Rows across the widget, wrapping where an entry would not fit.
    const QFontMetricsF fm(font());
    double x = 6, y = 3;
    for (LegendEntry& e : out) {
        const double w = 20 + fm.horizontalAdvance(e.name);
        if (x > 6 && x + w > width() - 6) {
            x = 6;
            y += fm.height() + 2;
        }
        e.at = QRectF(x, y, w, fm.height());
        x += w + 12;
    }
    return out;
}

void LatentView::relayout() {
    legend_ = legend();
    const double top = (legend_.empty() ? 4 : legend_.back().at.bottom()) + 6;
    const double left = 54, bottom = 36;
    plot_ = QRectF(left, top, std::max(20.0, width() - left - 10),
                   std::max(20.0, height() - top - bottom));
}

void LatentView::resizeEvent(QResizeEvent* e) {
    QWidget::resizeEvent(e);
    relayout();
}

void LatentView::changeEvent(QEvent* e) {
    QWidget::changeEvent(e);
    if (e->type() == QEvent::FontChange) relayout();
}

QPointF LatentView::to_widget(const QPointF& q) const {
    const QRectF plot = plot_rect();
    return {plot.left() + plot.width() * (q.x() - x_.lo) / x_.span(),
            plot.bottom() - plot.height() * (q.y() - y_.lo) / y_.span()};
}

bool LatentView::node_pos(int node, QPointF* at) const {
    if (node < 0 || node >= static_cast<int>(index_.size())) return false;
    const int i = index_[static_cast<size_t>(node)];
    if (i < 0) return false;
    *at = to_widget(proj_[static_cast<size_t>(i)].second);
    return true;
}

int LatentView::node_at(const QPointF& pos) const {
    const QRectF plot = plot_rect();
    if (!plot.adjusted(-3, -3, 3, 3).contains(pos)) return -1;
    int best = -1;
    double best_d = kHitRadius * kHitRadius;
    const int sel = model_->selected();
    for (const auto& [id, q] : proj_) {
        if (id < 0 || id >= model_->tree().size()) continue;
        const QPointF w = to_widget(q) - pos;
        const double d = w.x() * w.x() + w.y() * w.y();
        // Ties (points on top of each other) go to the selected node.
        if (d < best_d || (d == best_d && id == sel)) {
            best = id;
            best_d = d;
        }
    }
    return best;
}

void LatentView::zoom(double factor, const QPointF& about) {
    const QRectF plot = plot_rect();
    x_.zoom(factor, x_.lo + x_.span() * (about.x() - plot.left()) / plot.width());
    y_.zoom(factor, y_.lo + y_.span() * (plot.bottom() - about.y()) / plot.height());
    update();
}

void LatentView::reset_zoom() {
    x_.reset();
    y_.reset();
    update();
}

QString LatentView::hover_text(int node) const {
    QPointF dummy;
    if (node >= model_->tree().size() || !node_pos(node, &dummy)) return {};
    const Node& n = model_->tree().at(node);
    const QPointF q = proj_[static_cast<size_t>(index_[static_cast<size_t>(node)])].second;
    QString s = QString("node %1 · step %2").arg(node).arg(n.depth);
    if (!n.answer.empty())
        s += QString(" · answer %1%2")
                 .arg(trimmed_step(n.answer, 12), n.correct == 1   ? " ✓"
                                                  : n.correct == 0 ? " ✗"
                                                                   : "");
    s += "\n" + (n.parent < 0 ? QString("(the prompt)") : "“" + trimmed_step(n.text, 38) + "”");
    s += QString("\nPC1 %1  PC2 %2").arg(q.x(), 0, 'f', 3).arg(q.y(), 0, 'f', 3);
    return s;
}

void LatentView::wheelEvent(QWheelEvent* e) {
    if (proj_.size() >= 2 && plot_rect().contains(e->position()) && e->angleDelta().y() != 0) {
        zoom(std::pow(0.8, e->angleDelta().y() / 120.0), e->position());
        e->accept();
        return;
    }
    QWidget::wheelEvent(e);
}

void LatentView::mousePressEvent(QMouseEvent* e) {
    pressed_ = e->button() == Qt::LeftButton && plot_rect().contains(e->position());
    dragging_ = false;
    press_at_ = e->position();
    press_lo_ = QPointF(x_.lo, y_.lo);
    QWidget::mousePressEvent(e);
}

void LatentView::mouseMoveEvent(QMouseEvent* e) {
    if (pressed_ && (e->buttons() & Qt::LeftButton)) {
        if ((e->position() - press_at_).manhattanLength() > 4) dragging_ = true;
        if (dragging_) {
            const QRectF plot = plot_rect();
            const QPointF d = e->position() - press_at_;
            x_.pan(press_lo_.x() - x_.lo - d.x() * x_.span() / plot.width());
            y_.pan(press_lo_.y() - y_.lo + d.y() * y_.span() / plot.height());
            update();
            return;
        }
    }
    const int h = node_at(e->position());
    if (h != hovered_) {
        hovered_ = h;
        update();
    }
}

void LatentView::mouseReleaseEvent(QMouseEvent* e) {
    if (pressed_ && !dragging_ && e->button() == Qt::LeftButton) {
        const int node = node_at(e->position());
        if (node >= 0) model_->select(node);
    }
    pressed_ = dragging_ = false;
    QWidget::mouseReleaseEvent(e);
}

void LatentView::mouseDoubleClickEvent(QMouseEvent* e) {
    if (plot_rect().contains(e->position())) {
        reset_zoom();
        e->accept();
        return;
    }
    QWidget::mouseDoubleClickEvent(e);
}

void LatentView::leaveEvent(QEvent* e) {
    if (hovered_ >= 0) {
        hovered_ = -1;
        update();
    }
    QWidget::leaveEvent(e);
}

void LatentView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QPalette& pal = palette();
    p.fillRect(rect(), pal.base());
    drawn_ = Drawn();
    const QColor text = pal.color(QPalette::Text), axis = axis_colour(pal), grid = grid_colour(pal),
                 base = pal.color(QPalette::Base);
    if (proj_.size() < 2) {
        p.setPen(text);
        p.drawText(rect(), Qt::AlignCenter,
                   fitting() ? QString("Latent map: fitting…")
                             : QString("Latent map: no hidden states in this run\n"
                                       "(enable hidden-state taps)"));
        return;
    }
    const QColor right = plot_colour(PlotInk::Correct, pal),
                 wrong = plot_colour(PlotInk::Wrong, pal),
                 other = plot_colour(PlotInk::Unknown, pal),
                 sel = plot_colour(PlotInk::Selected, pal);
    auto with_alpha = [](QColor c, int a) {
        c.setAlpha(a);
        return c;
    };
    const auto branch_colour = [&](int correct) {
        return correct == 1   ? with_alpha(right, 170)
               : correct == 0 ? with_alpha(wrong, 160)
                              : with_alpha(other, 140);
    };

    // Legend.
    for (const LegendEntry& e : legend_) {
        const QPointF mid(e.at.left() + 8, e.at.center().y());
        switch (e.kind) {
            case LegendEntry::Selected:
                p.setPen(QPen(sel, 2.6));
                p.drawLine(mid - QPointF(8, 0), mid + QPointF(8, 0));
                break;
            case LegendEntry::CorrectBranch:
            case LegendEntry::WrongBranch:
            case LegendEntry::OtherBranch:
                p.setPen(QPen(branch_colour(e.kind == LegendEntry::CorrectBranch ? 1
                                            : e.kind == LegendEntry::WrongBranch ? 0
                                                                                 : -1),
                              1.6));
                p.drawLine(mid - QPointF(8, 0), mid + QPointF(8, 0));
                break;
            case LegendEntry::RightAnswer:
            case LegendEntry::WrongAnswer:
                p.setPen(QPen(e.kind == LegendEntry::RightAnswer ? right : wrong, 2));
                p.setBrush(base);
                p.drawEllipse(mid, 4.5, 4.5);
                break;
        }
        p.setPen(text);
        p.drawText(QRectF(e.at.left() + 20, e.at.top(), e.at.width() - 18, e.at.height()),
                   Qt::AlignLeft | Qt::AlignVCenter, e.name);
        drawn_.legend << e.name;
    }

    const QRectF plot = plot_rect();
    QFont small = p.font();
    small.setPointSizeF(small.pointSizeF() * 0.9);
    p.setFont(small);
    const QFontMetricsF fm(small);
    // Ticks and grid, in the projection's units.
    const std::vector<double> xt =
        nice_ticks(x_.lo, x_.hi, std::max(2, static_cast<int>(plot.width() / 64)));
    const std::vector<double> yt =
        nice_ticks(y_.lo, y_.hi, std::max(3, static_cast<int>(plot.height() / 26)));
    const double xs = xt.size() > 1 ? xt[1] - xt[0] : x_.span();
    const double ys = yt.size() > 1 ? yt[1] - yt[0] : y_.span();
    for (double x : xt) {
        const double px = to_widget({x, 0}).x();
        p.setPen(QPen(grid, 1));
        p.drawLine(QPointF(px, plot.top()), QPointF(px, plot.bottom()));
        p.setPen(axis);
        p.drawLine(QPointF(px, plot.bottom()), QPointF(px, plot.bottom() + 4));
        const QString s = tick_label(x, xs);
        p.setPen(text);
        p.drawText(QRectF(px - 32, plot.bottom() + 4, 64, fm.height()), Qt::AlignCenter, s);
        drawn_.x_ticks << s;
    }
    for (double y : yt) {
        const double py = to_widget({0, y}).y();
        p.setPen(QPen(grid, 1));
        p.drawLine(QPointF(plot.left(), py), QPointF(plot.right(), py));
        p.setPen(axis);
        p.drawLine(QPointF(plot.left() - 4, py), QPointF(plot.left(), py));
        const QString s = tick_label(y, ys);
        p.setPen(text);
        p.drawText(QRectF(14, py - fm.height() / 2, plot.left() - 20, fm.height()),
                   Qt::AlignRight | Qt::AlignVCenter, s);
        drawn_.y_ticks << s;
    }
    drawn_.x_title = QString("PC1 (%1% var.)").arg(100 * explained_[0], 0, 'f', 1);
    drawn_.y_title = QString("PC2 (%1% var.)").arg(100 * explained_[1], 0, 'f', 1);
    p.setPen(text);
    p.drawText(QRectF(plot.left(), plot.bottom() + 4 + fm.height(), plot.width(), fm.height() + 2),
               Qt::AlignCenter,
               drawn_.x_title + (zoomed() ? "  (zoomed: double-click shows all)" : ""));
    p.save();
    p.translate(9, plot.center().y());
    p.rotate(-90);
    p.drawText(QRectF(-plot.height() / 2 - 20, -8, plot.height() + 40, 16), Qt::AlignCenter,
               drawn_.y_title);
    p.restore();

    // The branches, then the selected trace over them, then the points.
    const ReasoningTree& t = model_->tree();
    auto at = [&](int id, QPointF* w) { return node_pos(id, w); };
    auto path_of = [&](int leaf) {
        QPainterPath path;
        bool started = false;
        QPointF w;
        for (int id : t.path(leaf)) {
            if (!at(id, &w)) continue;
            if (!started)
                path.moveTo(w);
            else
                path.lineTo(w);
            started = true;
        }
        return path;
    };
    p.save();
    p.setClipRect(plot.adjusted(-6, -6, 6, 6));
    p.setBrush(Qt::NoBrush);
    for (int leaf : t.leaves()) {
        p.setPen(QPen(branch_colour(t.at(leaf).correct), 1.3));
        p.drawPath(path_of(leaf));
    }
    std::vector<int> trace;
    if (leaf_ >= 0 && leaf_ < t.size()) trace = t.path(leaf_);
    std::vector<char> on_trace(static_cast<size_t>(t.size()), 0);
    for (int id : trace) on_trace[static_cast<size_t>(id)] = 1;
    if (!trace.empty()) {
        p.setPen(QPen(with_alpha(base, 200), 5.0, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
        p.drawPath(path_of(leaf_));  // a halo, so the trace reads over the others
        p.setPen(QPen(sel, 2.6, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
        p.drawPath(path_of(leaf_));
    }
    const int selected = model_->selected();
    for (const auto& [id, q] : proj_) {
        if (id < 0 || id >= t.size()) continue;
        const Node& n = t.at(id);
        const QPointF w = to_widget(q);
        const bool mine = on_trace[static_cast<size_t>(id)];
        if (!n.answer.empty() && n.correct >= 0) {  // an answer's end point: a ring
            p.setPen(QPen(n.correct == 1 ? right : wrong, 2));
            p.setBrush(base);
            p.drawEllipse(w, 4.5, 4.5);
        }
        p.setPen(Qt::NoPen);
        p.setBrush(mine ? sel : n.correct == 1 ? right : n.correct == 0 ? wrong : other);
        p.drawEllipse(w, mine ? 3.0 : 2.2, mine ? 3.0 : 2.2);
    }
    QPointF w;
    if (at(selected, &w)) {
        p.setPen(QPen(text, 1.6));
        p.setBrush(Qt::NoBrush);
        p.drawEllipse(w, 6.5, 6.5);
    }
    // Hover: a ring at the point, and what it is in a box.
    if (hovered_ >= 0 && at(hovered_, &w)) {
        p.setPen(QPen(text, 1, Qt::DotLine));
        p.drawLine(QPointF(w.x(), plot.top()), QPointF(w.x(), plot.bottom()));
        p.drawLine(QPointF(plot.left(), w.y()), QPointF(plot.right(), w.y()));
        p.setPen(QPen(text, 1.5));
        p.drawEllipse(w, 5, 5);
        drawn_.hover = hover_text(hovered_);
        const QStringList lines = drawn_.hover.split('\n');
        double bw = 0;
        for (const QString& l : lines) bw = std::max(bw, fm.horizontalAdvance(l));
        bw += 12;
        const double bh = lines.size() * fm.height() + 8;
        QPointF corner(w.x() + 10, w.y() + 10);
        if (corner.x() + bw > plot.right()) corner.setX(w.x() - 10 - bw);
        if (corner.y() + bh > plot.bottom()) corner.setY(w.y() - 10 - bh);
        corner.setX(std::max(corner.x(), plot.left() + 1));
        corner.setY(std::max(corner.y(), plot.top() + 1));
        const QRectF box(corner, QSizeF(bw, bh));
        p.setPen(QPen(axis, 1));
        p.setBrush(pal.color(QPalette::ToolTipBase));
        p.drawRect(box);
        p.setPen(pal.color(QPalette::ToolTipText));
        for (int k = 0; k < lines.size(); ++k)
            p.drawText(QRectF(box.left() + 6, box.top() + 4 + k * fm.height(), bw, fm.height()),
                       Qt::AlignLeft | Qt::AlignVCenter, lines[k]);
    }
    p.restore();
    p.setPen(QPen(axis, 1));
    p.setBrush(Qt::NoBrush);
    p.drawLine(plot.bottomLeft(), plot.topLeft());
    p.drawLine(plot.bottomLeft(), plot.bottomRight());
}

}  // namespace rs::views
