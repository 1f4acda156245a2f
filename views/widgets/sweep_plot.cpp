#include "widgets/sweep_plot.h"

#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>
#include <algorithm>
#include <cmath>
#include <tuple>

#include "widgets/theme.h"

namespace rs::views {

namespace {

// Series colours that read on both themes (a lighter set on dark bases).
QColor palette_colour(size_t k, bool dark) {
    static const QColor light[] = {{31, 119, 180}, {214, 39, 40}, {44, 160, 44},   {148, 103, 189},
                                   {255, 127, 14}, {140, 86, 75}, {227, 119, 194}, {23, 190, 207}};
    static const QColor darker[] = {{100, 170, 240}, {245, 105, 100}, {110, 205, 110},
                                    {190, 150, 235}, {255, 165, 70},  {200, 150, 130},
                                    {240, 150, 210}, {80, 215, 230}};
    return dark ? darker[k % 8] : light[k % 8];
}

QString tick_label(double x) {
    if (x >= 10000) return QString::number(x / 1000, 'f', 0) + "k";
    if (x >= 10) return QString::number(std::round(x), 'f', 0);
    if (x >= 1) return QString::number(x, 'g', 2);
    return QString::number(x, 'g', 2);
}

}  // namespace

SweepPlot::SweepPlot(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setMinimumSize(260, 180);
}

void SweepPlot::set_labels(const QString& title, const QString& x_label, const QString& y_label) {
    title_ = title;
    x_label_ = x_label;
    y_label_ = y_label;
    update();
}

void SweepPlot::set_series(std::vector<SweepPlotSeries> series) {
    series_ = std::move(series);
    hover_ = -1;
    update_range();
    update();
}

void SweepPlot::update_range() {
    double x0 = 1e300, x1 = -1e300;
    for (const auto& s : series_)
        for (const auto& p : s.points)
            if (p.x > 0) {
                x0 = std::min(x0, p.x);
                x1 = std::max(x1, p.x);
            }
    if (x0 > x1) {
        x0 = 1;
        x1 = 10;
    }
    // A margin of a tenth of the range (or a factor 1.5 for one value) on each side.
    double l0 = std::log10(x0), l1 = std::log10(x1);
    const double pad = l1 > l0 ? (l1 - l0) * 0.08 : std::log10(1.5);
    lx0_ = l0 - pad;
    lx1_ = l1 + pad;
}

QColor SweepPlot::series_colour(size_t s) const {
    return palette_colour(s, palette().color(QPalette::Base).lightness() < 128);
}

QRectF SweepPlot::plot_rect() const {
    const double top = 28 + (series_.empty() ? 0 : 18);
    return QRectF(52, top, std::max(40, width() - 52 - 16), std::max(40.0, height() - top - 44));
}

double SweepPlot::x_pos(double x) const {
    const QRectF r = plot_rect();
    return r.left() + (std::log10(std::max(x, 1e-12)) - lx0_) / (lx1_ - lx0_) * r.width();
}

double SweepPlot::y_pos(double y) const {
    const QRectF r = plot_rect();
    // A little room above 100% and below 0% so points on the edges show whole.
    return r.bottom() - 6 - std::clamp(y, 0.0, 1.0) * (r.height() - 12);
}

QPointF SweepPlot::position(size_t s, size_t index) const {
    const SweepPlotPoint& p = series_.at(s).points.at(index);
    return {x_pos(p.x), y_pos(p.y)};
}

std::vector<int> SweepPlot::keys_at(const QPointF& pos) const {
    // Nearest first; points drawn on one another (within half a pixel) in
    // drawing order reversed, so the one on top comes first.
    std::vector<std::tuple<double, int, int>> hits;  // (distance, -drawing order, key)
    int order = 0;
    for (size_t s = 0; s < series_.size(); ++s)
        for (size_t i = 0; i < series_[s].points.size(); ++i, ++order) {
            if (series_[s].points[i].x <= 0) continue;
            const QPointF d = position(s, i) - pos;
            const double dist = std::sqrt(d.x() * d.x() + d.y() * d.y());
            if (dist <= 8)
                hits.emplace_back(std::round(dist * 2) / 2, -order, series_[s].points[i].key);
        }
    std::sort(hits.begin(), hits.end());
    std::vector<int> keys;
    for (const auto& h : hits) keys.push_back(std::get<2>(h));
    return keys;
}

int SweepPlot::key_at(const QPointF& pos) const {
    const std::vector<int> keys = keys_at(pos);
    return keys.empty() ? -1 : keys.front();
}

void SweepPlot::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QPalette& pal = palette();
    const QColor base = pal.color(QPalette::Base), text = pal.color(QPalette::Text);
    const QColor grid = faded(text, base, 0.85), axis = faded(text, base, 0.55);
    p.fillRect(rect(), base);
    const QRectF r = plot_rect();
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    p.setPen(text);
    p.drawText(QRectF(0, 4, width(), 20), Qt::AlignCenter, title_);
    p.setFont(font());
    // Legend: one row under the title.
    {
        const QFontMetrics fm(font());
        double total = 0;
        for (const auto& s : series_) total += 16 + fm.horizontalAdvance(s.name) + 14;
        double x = std::max(r.left(), r.center().x() - total / 2);
        for (size_t k = 0; k < series_.size(); ++k) {
            const QColor c = series_colour(k);
            p.setPen(QPen(c, 2));
            p.drawLine(QPointF(x, 35), QPointF(x + 12, 35));
            p.setPen(text);
            const double w = fm.horizontalAdvance(series_[k].name);
            p.drawText(QRectF(x + 16, 27, w + 4, 16), Qt::AlignLeft | Qt::AlignVCenter,
                       series_[k].name);
            x += 16 + w + 14;
        }
    }
    // y grid: 0, 25, 50, 75, 100 %.
    for (int i = 0; i <= 4; ++i) {
        const double y = y_pos(i / 4.0);
        p.setPen(grid);
        p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y));
        p.setPen(text);
        p.drawText(QRectF(0, y - 8, r.left() - 6, 16), Qt::AlignRight | Qt::AlignVCenter,
                   QString("%1%").arg(i * 25));
    }
    // x ticks: the points' own x values when few and apart, else 1-2-5 steps.
    std::vector<double> ticks;
    for (const auto& s : series_)
        for (const auto& pt : s.points)
            if (pt.x > 0 && std::find(ticks.begin(), ticks.end(), pt.x) == ticks.end())
                ticks.push_back(pt.x);
    std::sort(ticks.begin(), ticks.end());
    bool crowded = ticks.size() > 8;
    for (size_t i = 1; i < ticks.size(); ++i)
        crowded = crowded || x_pos(ticks[i]) - x_pos(ticks[i - 1]) < 44;
    if (crowded || ticks.empty()) {
        ticks.clear();
        for (double d = std::pow(10.0, std::floor(lx0_)); std::log10(d) <= lx1_; d *= 10)
            for (int m : {1, 2, 5})
                if (std::log10(d * m) >= lx0_ && std::log10(d * m) <= lx1_) ticks.push_back(d * m);
    }
    for (double x : ticks) {
        const double px = x_pos(x);
        p.setPen(grid);
        p.drawLine(QPointF(px, r.top()), QPointF(px, r.bottom()));
        p.setPen(text);
        p.drawText(QRectF(px - 30, r.bottom() + 3, 60, 16), Qt::AlignCenter, tick_label(x));
    }
    p.setPen(axis);
    p.setBrush(Qt::NoBrush);
    p.drawRect(r);
    p.setPen(text);
    p.drawText(QRectF(r.left(), r.bottom() + 20, r.width(), 18), Qt::AlignCenter,
               x_label_ + " (log scale)");
    p.save();
    p.translate(12, r.center().y());
    p.rotate(-90);
    p.drawText(QRectF(-r.height() / 2, -9, r.height(), 18), Qt::AlignCenter, y_label_);
    p.restore();
    if (series_.empty() || std::all_of(series_.begin(), series_.end(),
                                       [](const auto& s) { return s.points.empty(); })) {
        p.setPen(faded(text, base, 0.4));
        p.drawText(r, Qt::AlignCenter, "no points yet: run a sweep");
        return;
    }
    p.setClipRect(r.adjusted(-6, -6, 6, 6));
    for (size_t k = 0; k < series_.size(); ++k) {
        const QColor c = series_colour(k);
        QPainterPath path;
        bool first = true;
        for (size_t i = 0; i < series_[k].points.size(); ++i) {
            if (series_[k].points[i].x <= 0) continue;
            const QPointF pt = position(k, i);
            first ? path.moveTo(pt) : path.lineTo(pt);
            first = false;
        }
        p.setPen(QPen(c, 2));
        p.setBrush(Qt::NoBrush);
        p.drawPath(path);
        for (size_t i = 0; i < series_[k].points.size(); ++i) {
            const SweepPlotPoint& sp = series_[k].points[i];
            if (sp.x <= 0) continue;
            const bool hot = sp.key == hover_;
            p.setPen(QPen(hot ? text : c, hot ? 2 : 1.5));
            p.setBrush(sp.partial ? base : c);
            p.drawEllipse(position(k, i), hot ? 6.0 : 4.5, hot ? 6.0 : 4.5);
            if (!sp.label.isEmpty()) {
                // Above the point (below it at the top), to its right (left at the right edge).
                const QPointF at = position(k, i);
                const double w = fontMetrics().horizontalAdvance(sp.label) + 2;
                const double ty = at.y() - 22 < r.top() ? at.y() + 7 : at.y() - 22;
                const double tx = at.x() + 6 + w > r.right() ? at.x() - 6 - w : at.x() + 4;
                p.setPen(c);
                p.drawText(QRectF(tx, ty, w, 15), Qt::AlignLeft | Qt::AlignVCenter, sp.label);
            }
        }
    }
}

void SweepPlot::mouseMoveEvent(QMouseEvent* e) {
    const int key = key_at(e->position());
    if (key != hover_) {
        hover_ = key;
        setCursor(key >= 0 ? Qt::PointingHandCursor : Qt::ArrowCursor);
        update();
    }
    if (key < 0) {
        QToolTip::hideText();
        return;
    }
    // Every point under the mouse (strategies can coincide), the clicked one first.
    QStringList tips;
    for (const int k : keys_at(e->position()))
        for (const auto& s : series_)
            for (const auto& pt : s.points)
                if (pt.key == k) tips << pt.tip;
    QToolTip::showText(e->globalPosition().toPoint(),
                       tips.join("\n\n") + (tips.size() > 1 ? "\n(click: the first one's runs)"
                                                            : "\n(click: its runs)"),
                       this);
}

void SweepPlot::mousePressEvent(QMouseEvent* e) {
    if (e->button() != Qt::LeftButton) return;
    const int key = key_at(e->position());
    if (key >= 0) emit pointClicked(key);
}

void SweepPlot::leaveEvent(QEvent*) {
    if (hover_ >= 0) {
        hover_ = -1;
        unsetCursor();
        update();
    }
}

}  // namespace rs::views
