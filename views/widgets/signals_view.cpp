#include "widgets/signals_view.h"

#include <QPainter>
#include <QPainterPath>
#include <QScrollBar>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>
#include <map>

namespace rs::views {

namespace {
constexpr int kRowHeight = 18;
}

SignalsView::SignalsView(RunModel* model, QWidget* parent) : QWidget(parent), model_(model) {
    setObjectName("signalsView");
    scroll_ = new QScrollBar(Qt::Vertical, this);
    scroll_->setObjectName("answerScroll");
    scroll_->hide();
    connect(scroll_, &QScrollBar::valueChanged, this, qOverload<>(&QWidget::update));
    connect(model_, &RunModel::changed, this, [this] {
        update_scroll();
        update();
    });
    connect(model_, &RunModel::selectionChanged, this, qOverload<>(&QWidget::update));
}

QRectF SignalsView::plot_rect() const {
    return {40, 12, width() * 0.64 - 50, static_cast<double>(height() - 34)};
}

QRectF SignalsView::bars_rect() const {
    const QRectF plot = plot_rect();
    return {plot.right() + 20, 12, width() - plot.right() - 30, static_cast<double>(height() - 34)};
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
    QWidget::wheelEvent(e);
}

void SignalsView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    p.fillRect(rect(), palette().base());
    const QRectF plot = plot_rect();
    std::vector<float> h, v;
    std::vector<int> marks;
    for (int id : model_->selected_path()) {
        const Node& n = model_->tree().at(id);
        if (n.parent >= 0) marks.push_back(static_cast<int>(h.size()));
        for (const auto& t : n.tokens) {
            h.push_back(t.entropy);
            v.push_back(t.varentropy);
        }
    }
    p.setPen(QColor(200, 200, 200));
    p.drawRect(plot);
    p.setPen(palette().text().color());
    p.drawText(QRectF(plot.left(), 0, plot.width(), 12), Qt::AlignLeft,
               "entropy / varentropy along the path");
    if (h.size() >= 2) {
        float top = 0.5f;
        for (size_t i = 0; i < h.size(); ++i) top = std::max({top, h[i], v[i]});
        auto X = [&](size_t i) {
            return plot.left() +
                   plot.width() * static_cast<double>(i) / static_cast<double>(h.size() - 1);
        };
        auto Y = [&](float y) { return plot.bottom() - plot.height() * y / top; };
        p.setPen(QPen(QColor(220, 220, 220), 1, Qt::DashLine));
        for (int m : marks)
            p.drawLine(QPointF(X(static_cast<size_t>(m)), plot.top()),
                       QPointF(X(static_cast<size_t>(m)), plot.bottom()));
        for (int pass = 0; pass < 2; ++pass) {
            const auto& s = pass ? v : h;
            QPainterPath path(QPointF(X(0), Y(s[0])));
            for (size_t i = 1; i < s.size(); ++i) path.lineTo(X(i), Y(s[i]));
            p.setPen(QPen(pass ? QColor(208, 122, 42) : QColor(42, 111, 208), pass ? 1.0 : 1.6));
            p.setBrush(Qt::NoBrush);
            p.drawPath(path);
        }
        p.setPen(palette().text().color());
        p.drawText(QPointF(4, plot.top() + 10), QString::number(top, 'f', 1));
        p.drawText(QPointF(4, plot.bottom()), "0");
    }
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
    p.drawText(QRectF(bars.left(), 0, bars.width(), 12), Qt::AlignLeft,
               total ? QString("answers (%1 branches, entropy %2)").arg(total).arg(se, 0, 'f', 2)
                     : QString("answers"));
    int row = 0, maxc = 1;
    for (const AnswerVote& v : votes) maxc = std::max(maxc, v.count);
    const size_t first = static_cast<size_t>(std::max(0, scroll_->value()));
    for (size_t i = first; i < votes.size(); ++i) {
        const std::string& a = votes[i].answer;
        const int c = votes[i].count;
        double y = bars.top() + 4 + row * kRowHeight;
        if (y + 16 > bars.bottom()) break;  // whole rows only: the rest scroll
        bool right = model_->info().expected == a;
        p.setPen(palette().text().color());
        p.drawText(QRectF(bars.left(), y, 60, 16), Qt::AlignLeft | Qt::AlignVCenter,
                   QString::fromStdString(a));
        p.fillRect(QRectF(bars.left() + 62, y + 2, (bars.width() - 90) * c / maxc, 12),
                   right ? QColor(26, 156, 58) : QColor(120, 140, 170));
        p.drawText(QRectF(bars.right() - 24, y, 24, 16), Qt::AlignRight | Qt::AlignVCenter,
                   QString::number(c));
        ++row;
    }
}

}  // namespace rs::views
