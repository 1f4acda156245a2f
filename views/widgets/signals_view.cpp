#include "widgets/signals_view.h"

#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QScrollBar>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>
#include <map>

#include "widgets/theme.h"

namespace rs::views {

namespace {
constexpr int kRowHeight = 18;
constexpr double kLegendHeight = 20;  // the legend's row above the plot
constexpr double kMinTokens = 4;      // the narrowest zoom, in tokens

// Draws `text` left-aligned at (x, y) (its top) and returns its width.
double draw_label(QPainter& p, double x, double y, const QString& text) {
    const double w = p.fontMetrics().horizontalAdvance(text);
    p.drawText(QRectF(x, y, w + 2, p.fontMetrics().height()), Qt::AlignLeft | Qt::AlignVCenter,
               text);
    return w;
}
}  // namespace

SignalsView::SignalsView(RunModel* model, QWidget* parent) : QWidget(parent), model_(model) {
    setObjectName("signalsView");
    setMouseTracking(true);  // hover values; no timers: repaints follow events only
    x_.min_span = kMinTokens;
    scroll_ = new QScrollBar(Qt::Vertical, this);
    scroll_->setObjectName("answerScroll");
    scroll_->hide();
    connect(scroll_, &QScrollBar::valueChanged, this, qOverload<>(&QWidget::update));
    connect(model_, &RunModel::runReset, this, [this] {
        leaf_ = -1;
        hovered_ = -1;
        rebuild_trace(false);
    });
    connect(model_, &RunModel::changed, this, [this] {
        rebuild_trace(true);  // a live trace grows; a zoom stays where it is
        update_scroll();
        update();
    });
    connect(model_, &RunModel::selectionChanged, this, &SignalsView::on_selection);
}

void SignalsView::on_selection(int node) {
    const ReasoningTree& t = model_->tree();
    bool on_trace = false;
    if (node >= 0 && leaf_ >= 0 && leaf_ < t.size())
        for (int id : t.path(leaf_)) on_trace = on_trace || id == node;
    if (!on_trace) {
        leaf_ = node;
        hovered_ = -1;
        rebuild_trace(false);
    }
    show_selected_step();
    update();
}

void SignalsView::rebuild_trace(bool keep_zoom) {
    const ReasoningTree& t = model_->tree();
    if (leaf_ >= t.size()) leaf_ = -1;
    tokens_.clear();
    steps_.clear();
    if (leaf_ >= 0)
        for (int id : t.path(leaf_)) {
            const Node& n = t.at(id);
            const int begin = static_cast<int>(tokens_.size());
            for (size_t i = 0; i < n.tokens.size(); ++i)
                tokens_.push_back({id, static_cast<int>(i)});
            steps_.push_back({id, n.depth, begin, static_cast<int>(tokens_.size())});
        }
    if (hovered_ >= token_count()) hovered_ = -1;
    const double lo = x_.lo, hi = x_.hi;
    const bool was_zoomed = x_.zoomed();
    x_.set_data(-0.5, std::max(0.5, token_count() - 0.5));
    if (keep_zoom && was_zoomed) {  // the same window, inside the new data
        x_.lo = lo;
        x_.hi = hi;
        x_.pan(0);
    }
}

void SignalsView::show_selected_step() {
    const int sel = model_->selected();
    for (const Step& s : steps_)
        if (s.node == sel && s.end > s.begin) x_.show(s.begin - 0.5, s.end - 0.5);
}

int SignalsView::token_node(int i) const {
    return i >= 0 && i < token_count() ? tokens_[static_cast<size_t>(i)].node : -1;
}

int SignalsView::token_index(int i) const {
    return i >= 0 && i < token_count() ? tokens_[static_cast<size_t>(i)].index : -1;
}

QRectF SignalsView::plot_rect() const {
    const double left = 50, top = kLegendHeight + 4;
    return {left, top, std::max(40.0, width() * 0.64 - left - 8),
            std::max(20.0, height() - top - 34)};
}

QRectF SignalsView::bars_rect() const {
    const QRectF plot = plot_rect();
    return {plot.right() + 20, plot.top(), width() - plot.right() - 30, plot.height() + 16};
}

double SignalsView::token_x(int i) const {
    const QRectF plot = plot_rect();
    return plot.left() + plot.width() * (i - x_.lo) / x_.span();
}

int SignalsView::token_at(const QPointF& pos) const {
    const QRectF plot = plot_rect();
    if (tokens_.empty() || !plot.contains(pos)) return -1;
    const double x = x_.lo + x_.span() * (pos.x() - plot.left()) / plot.width();
    return std::clamp(static_cast<int>(std::lround(x)), 0, token_count() - 1);
}

void SignalsView::zoom_x(double factor, double about) {
    x_.zoom(factor, about);
    update();
}

void SignalsView::reset_zoom() {
    x_.reset();
    update();
}

QString SignalsView::hover_text(int i) const {
    if (i < 0 || i >= token_count()) return {};
    const TokenAt& at = tokens_[static_cast<size_t>(i)];
    const Node& n = model_->tree().at(at.node);
    const TokenRecord& t = n.tokens[static_cast<size_t>(at.index)];
    QString piece = QString::fromStdString(t.piece);
    piece.replace('\n', "\\n");
    if (piece.size() > 24) piece = piece.left(23) + "…";
    return QString(
               "token %1 · step %2 (node %3)\n'%4'\nentropy %5 nats\nvarentropy %6 nats²\n"
               "logprob %7 (p %8)")
        .arg(i)
        .arg(n.depth)
        .arg(at.node)
        .arg(piece)
        .arg(t.entropy, 0, 'f', 3)
        .arg(t.varentropy, 0, 'f', 3)
        .arg(t.logprob, 0, 'f', 3)
        .arg(std::exp(t.logprob), 0, 'f', 3);
}

int SignalsView::visible_answer_rows() const {
    return std::max(1, static_cast<int>((bars_rect().height() - 4 + 2) / kRowHeight));
}

std::vector<SignalsView::AnswerVote> SignalsView::answer_votes() const {
    std::map<std::string, AnswerVote> by;
    const std::string key = model_->score_key().toStdString();
    for (const Node& n : model_->tree().nodes()) {
        if (n.answer.empty()) continue;
        AnswerVote& v = by[n.answer];
        v.answer = n.answer;
        ++v.count;
        if (!key.empty())
            if (auto it = n.scores.find(key); it != n.scores.end()) v.weight += it->second;
    }
    std::vector<AnswerVote> out;
    out.reserve(by.size());
    for (auto& [a, v] : by) out.push_back(std::move(v));
    std::stable_sort(out.begin(), out.end(), [](const AnswerVote& x, const AnswerVote& y) {
        if (x.count != y.count) return x.count > y.count;
        return x.weight > y.weight;  // equal weights keep the text order
    });
    return out;
}

void SignalsView::update_scroll() {
    const int rows = static_cast<int>(answer_votes().size());
    const int visible = visible_answer_rows();
    scroll_->setRange(0, std::max(0, rows - visible));
    scroll_->setPageStep(visible);
    scroll_->setSingleStep(1);
    const QRectF bars = bars_rect();
    const int w = scroll_->sizeHint().width();
    scroll_->setGeometry(width() - w, static_cast<int>(bars.top()), w,
                         static_cast<int>(bars.height()));
    scroll_->setVisible(rows > visible);
}

void SignalsView::resizeEvent(QResizeEvent* e) {
    QWidget::resizeEvent(e);
    update_scroll();
}

void SignalsView::wheelEvent(QWheelEvent* e) {
    if (scroll_->isVisible() && e->position().x() >= bars_rect().left()) {
        const int steps = e->angleDelta().y() / 120;
        scroll_->setValue(scroll_->value() - (steps ? steps : (e->angleDelta().y() > 0 ? 1 : -1)));
        e->accept();
        return;
    }
    const QRectF plot = plot_rect();
    if (plot.contains(e->position()) && !tokens_.empty() && e->angleDelta().y() != 0) {
        const double about = x_.lo + x_.span() * (e->position().x() - plot.left()) / plot.width();
        zoom_x(std::pow(0.8, e->angleDelta().y() / 120.0), about);
        e->accept();
        return;
    }
    QWidget::wheelEvent(e);
}

void SignalsView::mousePressEvent(QMouseEvent* e) {
    pressed_ = e->button() == Qt::LeftButton && plot_rect().contains(e->position());
    dragging_ = false;
    press_at_ = e->position();
    press_lo_ = x_.lo;
    QWidget::mousePressEvent(e);
}

void SignalsView::mouseMoveEvent(QMouseEvent* e) {
    const QRectF plot = plot_rect();
    if (pressed_ && (e->buttons() & Qt::LeftButton)) {
        if ((e->position() - press_at_).manhattanLength() > 4) dragging_ = true;
        if (dragging_) {
            x_.pan(press_lo_ - x_.lo -
                   (e->position().x() - press_at_.x()) * x_.span() / plot.width());
            update();
            return;
        }
    }
    const int h = token_at(e->position());
    if (h != hovered_) {
        hovered_ = h;
        update();
    }
}

void SignalsView::mouseReleaseEvent(QMouseEvent* e) {
    if (pressed_ && !dragging_ && e->button() == Qt::LeftButton) {
        const int i = token_at(e->position());
        if (i >= 0) {
            const TokenAt at = tokens_[static_cast<size_t>(i)];
            model_->select(at.node);
            emit tokenPicked(at.node, at.index);
        }
    }
    pressed_ = dragging_ = false;
    QWidget::mouseReleaseEvent(e);
}

void SignalsView::mouseDoubleClickEvent(QMouseEvent* e) {
    if (plot_rect().contains(e->position())) {
        reset_zoom();
        e->accept();
        return;
    }
    QWidget::mouseDoubleClickEvent(e);
}

void SignalsView::leaveEvent(QEvent* e) {
    if (hovered_ >= 0) {
        hovered_ = -1;
        update();
    }
    QWidget::leaveEvent(e);
}

void SignalsView::paint_plot(QPainter& p) {
    const QPalette& pal = palette();
    const QRectF plot = plot_rect();
    const QColor text = pal.color(QPalette::Text), axis = axis_colour(pal), grid = grid_colour(pal);
    const QColor ent = plot_colour(PlotInk::Entropy, pal),
                 var = plot_colour(PlotInk::Varentropy, pal),
                 sel = plot_colour(PlotInk::Selected, pal);
    QColor band = sel;
    band.setAlpha(is_dark(pal) ? 48 : 40);
    const ReasoningTree& t = model_->tree();
    auto record = [&](int i) -> const TokenRecord& {
        const TokenAt& at = tokens_[static_cast<size_t>(i)];
        return t.at(at.node).tokens[static_cast<size_t>(at.index)];
    };

    // Legend: a swatch and a name per series, then the selected step's band,
    // in the ticks' smaller font so that it fits over the plot.
    QFont small = p.font();
    small.setPointSizeF(small.pointSizeF() * 0.9);
    p.setFont(small);
    const QFontMetricsF fm(small);
    double lx = plot.left();
    const double ly = 4, lh = fm.height();
    const auto line_entry = [&](const QColor& c, double w, const QString& name) {
        p.setPen(QPen(c, w));
        p.drawLine(QPointF(lx, ly + lh / 2), QPointF(lx + 14, ly + lh / 2));
        p.setPen(text);
        lx += 18 + draw_label(p, lx + 18, ly, name) + 10;
        drawn_.legend << name;
    };
    line_entry(ent, 1.8, "entropy");
    line_entry(var, 1.2, "varentropy (nats²)");
    p.fillRect(QRectF(lx, ly + 2, 12, lh - 4), band);
    p.setPen(QPen(sel, 1));
    p.drawLine(QPointF(lx, ly + 2), QPointF(lx, ly + lh - 2));
    p.setPen(text);
    draw_label(p, lx + 16, ly, "selected step");
    drawn_.legend << "selected step";

    const int n = token_count();
    const int first = std::max(0, static_cast<int>(std::floor(x_.lo)));
    const int last = std::min(n - 1, static_cast<int>(std::ceil(x_.hi)));
    float top = 0.5f;
    for (int i = 0; i < n; ++i)  // the whole trace: the y scale holds while zooming x
        top = std::max({top, record(i).entropy, record(i).varentropy});
    const int y_max_ticks = std::max(2, static_cast<int>(plot.height() / 28));
    std::vector<double> yt = nice_ticks(0, top * 1.06, y_max_ticks);  // headroom for the labels
    const double ystep = yt.size() > 1 ? yt[1] - yt[0] : top;
    const double ytop = std::max<double>(top * 1.06, yt.empty() ? top : yt.back());
    auto Y = [&](double y) { return plot.bottom() - plot.height() * y / ytop; };
    auto X = [&](double i) { return plot.left() + plot.width() * (i - x_.lo) / x_.span(); };

    // Grid and y ticks (nats).
    for (double y : yt) {
        p.setPen(QPen(grid, 1));
        p.drawLine(QPointF(plot.left(), Y(y)), QPointF(plot.right(), Y(y)));
        p.setPen(axis);
        p.drawLine(QPointF(plot.left() - 4, Y(y)), QPointF(plot.left(), Y(y)));
        const QString s = tick_label(y, ystep);
        p.setPen(text);
        p.drawText(QRectF(0, Y(y) - fm.height() / 2, plot.left() - 6, fm.height()),
                   Qt::AlignRight | Qt::AlignVCenter, s);
        drawn_.y_ticks << s;
    }
    // The unit, turned along the axis.
    p.save();
    p.translate(10, plot.center().y());
    p.rotate(-90);
    drawn_.y_title = "nats";
    p.drawText(QRectF(-40, -7, 80, 14), Qt::AlignCenter, drawn_.y_title);
    p.restore();
    // x ticks: token positions along the trace.
    if (n > 0) {
        const int x_max_ticks = std::max(2, static_cast<int>(plot.width() / 56));
        const std::vector<double> xt =
            nice_ticks(std::max(0.0, x_.lo), std::min<double>(n - 1, x_.hi), x_max_ticks, true);
        for (double x : xt) {
            const double px = X(x);
            p.setPen(axis);
            p.drawLine(QPointF(px, plot.bottom()), QPointF(px, plot.bottom() + 4));
            const QString s = tick_label(x, 1);
            p.setPen(text);
            p.drawText(QRectF(px - 30, plot.bottom() + 4, 60, fm.height()), Qt::AlignCenter, s);
            drawn_.x_ticks << s;
        }
    }
    drawn_.x_title = x_.zoomed() ? "token along the trace (zoomed: double-click shows all)"
                                 : "token along the trace";
    p.setPen(text);
    p.drawText(QRectF(plot.left(), plot.bottom() + 4 + fm.height(), plot.width(), fm.height() + 2),
               Qt::AlignRight | Qt::AlignVCenter, drawn_.x_title);

    p.save();
    p.setClipRect(plot.adjusted(0, -1, 1, 1));
    // The selected step's band, and the step boundaries numbered where the
    // numbers fit (a number is written when it clears the previous one).
    const int selected = model_->selected();
    double label_right = -1e9, line_x = -1e9;
    for (const Step& s : steps_) {
        if (s.end <= s.begin) continue;
        const double a = X(s.begin - 0.5), b = X(s.end - 0.5);
        if (b < plot.left() || a > plot.right()) continue;
        if (s.node == selected) p.fillRect(QRectF(a, plot.top(), b - a, plot.height()), band);
        // A boundary within 3 px of the last one drawn is left out (a long
        // trace seen whole would be a wall of dashes).
        if (s.begin > 0 && (a - line_x >= 3 || s.node == selected)) {
            p.setPen(QPen(axis, 1, Qt::DashLine));
            p.drawLine(QPointF(a, plot.top()), QPointF(a, plot.bottom()));
            line_x = a;
        }
        // "step 3" where it fits, "s3" where only that does.
        QString label = QString("step %1").arg(s.depth);
        if (fm.horizontalAdvance(label) + 6 > b - a) label = QString("s%1").arg(s.depth);
        const double w = fm.horizontalAdvance(label);
        const double lx0 = std::max(a + 2, plot.left() + 2);
        if (lx0 > label_right + 4 && lx0 + w < std::min(b, plot.right())) {
            p.setPen(s.node == selected ? sel : axis);
            p.drawText(QRectF(lx0, plot.top() + 1, w + 2, fm.height()),
                       Qt::AlignLeft | Qt::AlignVCenter, label);
            drawn_.step_labels << label;
            label_right = lx0 + w;
        }
    }
    // The series: the visible tokens and one beyond each side.
    if (n >= 1) {
        const int a = std::max(0, first - 1), b = std::min(n - 1, last + 1);
        for (int pass = 0; pass < 2; ++pass) {
            QPainterPath path;
            for (int i = a; i <= b; ++i) {
                const double y = pass ? record(i).varentropy : record(i).entropy;
                if (i == a)
                    path.moveTo(X(i), Y(y));
                else
                    path.lineTo(X(i), Y(y));
            }
            p.setPen(QPen(pass ? var : ent, pass ? 1.2 : 1.8));
            p.setBrush(Qt::NoBrush);
            p.drawPath(path);
            if (x_.span() < plot.width() / 6) {  // zoomed in: a dot per token
                p.setBrush(pass ? var : ent);
                p.setPen(Qt::NoPen);
                for (int i = a; i <= b; ++i)
                    p.drawEllipse(QPointF(X(i), Y(pass ? record(i).varentropy : record(i).entropy)),
                                  2, 2);
            }
        }
    }
    // Hover: a crosshair at the token and its values in a box.
    drawn_.hover.clear();
    if (hovered_ >= 0 && hovered_ < n) {
        const double hx = X(hovered_);
        const TokenRecord& r = record(hovered_);
        p.setPen(QPen(text, 1, Qt::DotLine));
        p.drawLine(QPointF(hx, plot.top()), QPointF(hx, plot.bottom()));
        p.drawLine(QPointF(plot.left(), Y(r.entropy)), QPointF(plot.right(), Y(r.entropy)));
        p.setPen(QPen(pal.color(QPalette::Base), 1.5));
        p.setBrush(ent);
        p.drawEllipse(QPointF(hx, Y(r.entropy)), 4, 4);
        p.setBrush(var);
        p.drawEllipse(QPointF(hx, Y(r.varentropy)), 3.5, 3.5);
        drawn_.hover = hover_text(hovered_);
        const QStringList lines = drawn_.hover.split('\n');
        double bw = 0;
        for (const QString& l : lines) bw = std::max(bw, fm.horizontalAdvance(l));
        bw += 12;
        const double bh = lines.size() * fm.height() + 8;
        double bx = hx + 10;
        if (bx + bw > plot.right()) bx = hx - 10 - bw;
        bx = std::max(bx, plot.left() + 1);
        const QRectF box(bx, plot.top() + 4, bw, bh);
        p.setPen(QPen(axis, 1));
        p.setBrush(pal.color(QPalette::ToolTipBase));
        p.drawRect(box);
        p.setPen(pal.color(QPalette::ToolTipText));
        for (int k = 0; k < lines.size(); ++k)
            p.drawText(QRectF(box.left() + 6, box.top() + 4 + k * fm.height(), bw, fm.height()),
                       Qt::AlignLeft | Qt::AlignVCenter, lines[k]);
    }
    p.restore();
    if (n == 0) {
        p.setPen(faded(text, pal.color(QPalette::Base), 0.4));
        p.drawText(plot, Qt::AlignCenter, "select a node: its trace's signals show here");
    }
    // The frame: the axes last, over the series.
    p.setPen(QPen(axis, 1));
    p.setBrush(Qt::NoBrush);
    p.drawLine(plot.bottomLeft(), plot.topLeft());
    p.drawLine(plot.bottomLeft(), plot.bottomRight());
}

void SignalsView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QPalette& pal = palette();
    p.fillRect(rect(), pal.base());
    drawn_ = Drawn();
    const QFont font = p.font();
    paint_plot(p);
    p.setFont(font);
    // Answers across branches, most votes first; the list scrolls.
    const std::vector<AnswerVote> votes = answer_votes();
    int total = 0;
    for (const AnswerVote& v : votes) total += v.count;
    QRectF bars = bars_rect();
    if (scroll_->isVisible()) bars.setRight(scroll_->x() - 4);
    double se = 0;
    for (const AnswerVote& v : votes) {
        double q = static_cast<double>(v.count) / total;
        se -= q * std::log(q);
    }
    p.setPen(pal.color(QPalette::Text));
    p.drawText(QRectF(bars.left(), 3, bars.width() + 10, p.fontMetrics().height()),
               Qt::AlignLeft | Qt::AlignVCenter,
               total ? QString("answers (%1, entropy %2 nats)").arg(total).arg(se, 0, 'f', 2)
                     : QString("answers"));
    int row = 0, maxc = 1;
    for (const AnswerVote& v : votes) maxc = std::max(maxc, v.count);
    const QColor right_bar = plot_colour(PlotInk::Correct, pal),
                 other_bar = plot_colour(PlotInk::Unknown, pal);
    const size_t first = static_cast<size_t>(std::max(0, scroll_->value()));
    for (size_t i = first; i < votes.size(); ++i) {
        const std::string& a = votes[i].answer;
        const int c = votes[i].count;
        double y = bars.top() + 4 + row * kRowHeight;
        if (y + 16 > bars.bottom()) break;  // whole rows only: the rest scroll
        bool right = model_->info().expected == a;
        p.setPen(pal.color(QPalette::Text));
        p.drawText(QRectF(bars.left(), y, 60, 16), Qt::AlignLeft | Qt::AlignVCenter,
                   p.fontMetrics().elidedText(QString::fromStdString(a), Qt::ElideRight, 58));
        p.fillRect(QRectF(bars.left() + 62, y + 2, (bars.width() - 90) * c / maxc, 12),
                   right ? right_bar : other_bar);
        p.drawText(QRectF(bars.right() - 24, y, 24, 16), Qt::AlignRight | Qt::AlignVCenter,
                   QString::number(c));
        ++row;
    }
}

}  // namespace rs::views
