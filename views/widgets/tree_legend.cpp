#include "widgets/tree_legend.h"

#include <QPainter>
#include <QPainterPath>
#include <algorithm>
#include <cmath>
#include <iterator>
#include <vector>

#include "widgets/colours.h"
#include "widgets/theme.h"

namespace rs::views {

namespace {

constexpr int kPad = 8, kLine = 16, kBarH = 10, kNodeR = 6;

QFont small_font(const QFont& base, int px, bool bold = false) {
    QFont f(base);
    f.setPixelSize(px);
    f.setBold(bold);
    return f;
}

// One sample node of the shapes key, as the canvas draws it.
enum class Sample { Pruned, Correct, Wrong, Thinking, Selected, Collapsed, Grouped };

void draw_sample(QPainter* p, QPointF c, Sample s, const QColor& ink) {
    const QColor fill = s == Sample::Pruned ? pruned_fill() : entropy_colour(0.3);
    QPen pen(QColor(80, 80, 80), 1);
    if (s == Sample::Correct) pen = QPen(correct_colour(), 2.5);
    if (s == Sample::Wrong) pen = QPen(wrong_colour(), 2.5);
    if (s == Sample::Selected) {
        p->setPen(QPen(ink, 2.5));
        p->drawLine(c - QPointF(12, 0), c);
        pen = QPen(selected_colour(), 2.5);
    }
    p->setPen(pen);
    p->setBrush(fill);
    p->drawEllipse(c, kNodeR, kNodeR);
    if (s == Sample::Pruned) {
        p->setPen(QPen(QColor(120, 120, 120), 1.4));
        p->drawLine(c + QPointF(-3, -3), c + QPointF(3, 3));
        p->drawLine(c + QPointF(-3, 3), c + QPointF(3, -3));
    }
    if (s == Sample::Thinking) {
        p->setPen(QPen(forced_colour(), 1.4, Qt::DashLine));
        p->setBrush(Qt::NoBrush);
        p->drawEllipse(c, kNodeR + 3, kNodeR + 3);
    }
    if (s == Sample::Collapsed)
        draw_badge(p, c + QPointF(kNodeR - 1, -kNodeR + 1), "+12", collapsed_badge_colour());
    if (s == Sample::Grouped)
        draw_badge(p, c + QPointF(kNodeR - 1, -kNodeR + 1), "×4", group_badge_colour());
}

struct ShapeKey {
    Sample sample;
    const char* label;
};
constexpr ShapeKey kShapes[] = {
    {Sample::Correct, "answer correct"},
    {Sample::Wrong, "answer wrong"},
    {Sample::Pruned, "pruned"},
    {Sample::Thinking, "thinking (half: in part)"},
    {Sample::Selected, "selected path"},
    {Sample::Collapsed, "collapsed subtree"},
    {Sample::Grouped, "identical siblings"},
};

std::vector<QString> record_lines(const TreeLegend::Content& c) {
    std::vector<QString> lines;
    if (c.mcts) lines.push_back("N visits · Q mean value");
    if (c.particles) lines.push_back("w particle weight · copies resampled");
    if (c.pruning) lines.push_back("why pruned: rank, step, signal, width, dup of");
    if (c.counterfactual) lines.push_back("dashed orange: a counterfactual branch grafted on");
    return lines;
}

// The legend's flow: the scale block on the left, then the shapes, the
// records and the keys as items in lines of kItemH to its right.
constexpr int kScaleW = 250, kScaleH = 46, kItemH = 18, kGap = 14;
constexpr const char* kKeys = "keys: arrows · Home · Space collapse · G group";

struct Item {
    int shape = -1;  // index into kShapes, or -1: words only
    QString text;
    QRect rect;
    int lead = 0;  // the sample's room before the words
};

std::vector<Item> flow(const TreeLegend::Content& c, const QFont& font, int width, int* height) {
    QFont f(font);
    f.setPixelSize(10);
    const QFontMetrics fm(f);
    std::vector<Item> items;
    for (int i = 0; i < static_cast<int>(std::size(kShapes)); ++i)
        items.push_back({i, kShapes[i].label, {}, 0});
    for (const QString& line : record_lines(c)) items.push_back({-1, line, {}, 0});
    items.push_back({-1, kKeys, {}, 0});
    // Beside the scale when there is room for a column of keys; in a narrow
    // view, under it.
    const bool beside = width - (kPad + kScaleW + kGap) >= 200;
    const int left = beside ? kPad + kScaleW + kGap : kPad;
    const int right = std::max(left + 120, width - kPad);
    int x = left, y = beside ? kPad : kPad + kScaleH + 2;
    for (Item& it : items) {
        it.lead = it.shape < 0 ? 0
                  : kShapes[it.shape].sample == Sample::Collapsed ||
                          kShapes[it.shape].sample == Sample::Grouped
                      ? 46
                      : 28;
        const int w = it.lead + fm.horizontalAdvance(it.text) + 2;
        if (x > left && x + w > right) {
            x = left;
            y += kItemH;
        }
        it.rect = QRect(x, y, w, kItemH);
        x += w + kGap;
    }
    if (height) *height = std::max(kPad + kScaleH, y + kItemH) + kPad;
    return items;
}

}  // namespace

void draw_badge(QPainter* p, QPointF anchor, const QString& text, const QColor& fill) {
    p->save();
    const QFont f = small_font(p->font(), 9, true);
    p->setFont(f);
    const QFontMetricsF fm(f);
    const double w = fm.horizontalAdvance(text) + 6, h = fm.height() + 1;
    const QRectF r(anchor.x(), anchor.y() - h / 2, w, h);
    p->setRenderHint(QPainter::Antialiasing, true);
    p->setPen(Qt::NoPen);
    p->setBrush(fill);
    p->drawRoundedRect(r, h / 2, h / 2);
    p->setPen(contrast_text_colour(fill));
    p->drawText(r, Qt::AlignCenter, text);
    p->restore();
}

TreeLegend::TreeLegend(QWidget* parent) : QWidget(parent) {
    setObjectName("treeLegend");
    setToolTip(
        "The tree's colours and marks. Keys: arrows move the selection, Home: root, "
        "Space or C: collapse or expand the subtree, G: group identical steps.");
}

void TreeLegend::set_content(const Content& c) {
    if (c == content_) return;
    content_ = c;
    update();
}

int TreeLegend::height_for_width(int w) const {
    int h = 0;
    flow(content_, font(), w, &h);
    return h;
}

QSize TreeLegend::sizeHint() const {
    return QSize(std::max(width(), kScaleW + 2 * kPad), height_for_width(width()));
}

QRect TreeLegend::scale_rect() const {
    return QRect(kPad + 2, kPad + kLine, kScaleW - 4, kBarH);
}

QString TreeLegend::title() const {
    if (!content_.by_score) return "colour: mean entropy of the step (nats)";
    if (content_.score_key.isEmpty()) return "colour: no scores in this run (entropy)";
    return QString("colour: score %1 · run %2–%3")
        .arg(content_.score_key)
        .arg(content_.score_min, 0, 'g', 2)
        .arg(content_.score_max, 0, 'g', 2);
}

void TreeLegend::paintEvent(QPaintEvent*) {
    QPainter p(this);
    const QColor base = palette().color(QPalette::Base), ink = palette().color(QPalette::Text);
    p.fillRect(rect(), base);
    p.setPen(faded(ink, base, 0.8));
    p.drawLine(0, 0, width(), 0);

    // The colour scale, its caption and its numbers.
    p.setFont(small_font(font(), 11, true));
    p.setPen(ink);
    p.drawText(QRect(kPad, kPad - 2, kScaleW, kLine), Qt::AlignLeft | Qt::AlignVCenter, title());
    const QRect bar = scale_rect();
    const bool score = content_.by_score && !content_.score_key.isEmpty();
    const double top = scale_max();
    for (int x = 0; x < bar.width(); ++x) {
        const double v = top * x / std::max(1, bar.width() - 1);
        p.setPen(score ? score_colour(v) : entropy_colour(v));
        p.drawLine(bar.left() + x, bar.top(), bar.left() + x, bar.bottom());
    }
    p.setRenderHint(QPainter::Antialiasing, true);
    if (score && content_.score_max > content_.score_min) {
        // The run's range over the scale.
        const auto at = [&](double v) {
            return bar.left() + std::clamp(v, 0.0, 1.0) * (bar.width() - 1);
        };
        p.setPen(QPen(ink, 2));
        p.drawLine(QPointF(at(content_.score_min), bar.top() - 2),
                   QPointF(at(content_.score_max), bar.top() - 2));
    }
    p.setFont(small_font(font(), 10));
    p.setPen(ink);
    const int ticks = score ? 4 : 5;
    for (int i = 0; i <= ticks; ++i) {
        const double v = top * i / ticks;
        const int x =
            bar.left() + static_cast<int>(std::lround((bar.width() - 1) * double(i) / ticks));
        p.drawLine(x, bar.bottom() + 1, x, bar.bottom() + 3);
        QString label = QString::number(v, 'g', 3);
        if (!score && i == ticks) label += "+";
        if (score && i == 0) label += " bad";
        if (score && i == ticks) label = "good 1";
        if (!score && i == 0) label += " sure";
        const int w = 60;
        const int left = i == 0 ? x - 2 : i == ticks ? x - w + 2 : x - w / 2;
        const Qt::Alignment a = i == 0       ? Qt::AlignLeft
                                : i == ticks ? Qt::AlignRight
                                             : Qt::AlignHCenter;
        p.drawText(QRect(left, bar.bottom() + 3, w, kLine - 2), a | Qt::AlignVCenter, label);
    }

    // The shapes, the strategy records written on the nodes, the keys.
    const auto items = flow(content_, font(), width(), nullptr);
    for (const Item& it : items) {
        if (it.shape >= 0) {
            draw_sample(&p, QPointF(it.rect.left() + 12, it.rect.center().y() + 1),
                        kShapes[it.shape].sample, ink);
        }
        p.setFont(small_font(font(), 10));
        p.setPen(it.text == kKeys ? faded(ink, base, 0.35) : ink);
        p.drawText(it.rect.adjusted(it.lead, 0, 0, 0), Qt::AlignLeft | Qt::AlignVCenter, it.text);
    }
}

}  // namespace rs::views
