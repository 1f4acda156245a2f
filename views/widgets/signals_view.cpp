#include "widgets/signals_view.h"

#include <QPainter>
#include <QPainterPath>
#include <cmath>
#include <map>

namespace rs::views {

SignalsView::SignalsView(RunModel* model, QWidget* parent) : QWidget(parent), model_(model) {
    setObjectName("signalsView");
    connect(model_, &RunModel::changed, this, qOverload<>(&QWidget::update));
    connect(model_, &RunModel::selectionChanged, this, qOverload<>(&QWidget::update));
}

void SignalsView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    p.fillRect(rect(), palette().base());
    const QRectF plot(40, 12, width() * 0.64 - 50, height() - 34);
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
    // Answers across branches.
    std::map<std::string, int> votes;
    int total = 0;
    for (const Node& n : model_->tree().nodes())
        if (!n.answer.empty()) {
            votes[n.answer]++;
            ++total;
        }
    const QRectF bars(plot.right() + 20, 12, width() - plot.right() - 30, height() - 34);
    double se = 0;
    for (auto& [a, c] : votes) {
        double q = static_cast<double>(c) / total;
        se -= q * std::log(q);
    }
    p.drawText(QRectF(bars.left(), 0, bars.width(), 12), Qt::AlignLeft,
               total ? QString("answers (%1 branches, entropy %2)").arg(total).arg(se, 0, 'f', 2)
                     : QString("answers"));
    int row = 0, maxc = 1;
    for (auto& [a, c] : votes) maxc = std::max(maxc, c);
    for (auto& [a, c] : votes) {
        double y = bars.top() + 4 + row * 18;
        if (y > bars.bottom()) break;
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
