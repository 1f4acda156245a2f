#include "widgets/latent_view.h"

#include <QPainter>
#include <QPainterPath>
#include <cmath>
#include <map>

namespace rs::views {

std::vector<QPointF> pca2(const std::vector<const std::vector<float>*>& rows) {
    const size_t n = rows.size();
    if (n == 0) return {};
    const size_t d = rows[0]->size();
    std::vector<double> mean(d, 0.0);
    for (auto* r : rows)
        for (size_t j = 0; j < d && j < r->size(); ++j) mean[j] += (*r)[j];
    for (double& m : mean) m /= static_cast<double>(n);
    // Power iteration on X^T X without forming it: v <- X^T (X v).
    auto top = [&](const std::vector<double>* deflate) {
        std::vector<double> v(d);
        for (size_t j = 0; j < d; ++j)
            v[j] = std::sin(1.0 + static_cast<double>(j) * 0.7);  // fixed start: reproducible
        for (int it = 0; it < 60; ++it) {
            std::vector<double> w(d, 0.0);
            for (auto* r : rows) {
                double p = 0;
                for (size_t j = 0; j < d; ++j) p += ((*r)[j] - mean[j]) * v[j];
                for (size_t j = 0; j < d; ++j) w[j] += p * ((*r)[j] - mean[j]);
            }
            if (deflate) {
                double p = 0;
                for (size_t j = 0; j < d; ++j) p += w[j] * (*deflate)[j];
                for (size_t j = 0; j < d; ++j) w[j] -= p * (*deflate)[j];
            }
            double nrm = 0;
            for (double x : w) nrm += x * x;
            nrm = std::sqrt(nrm);
            if (nrm == 0) break;
            for (size_t j = 0; j < d; ++j) v[j] = w[j] / nrm;
        }
        return v;
    };
    auto v1 = top(nullptr);
    auto v2 = top(&v1);
    std::vector<QPointF> out;
    for (auto* r : rows) {
        double a = 0, b = 0;
        for (size_t j = 0; j < d; ++j) {
            a += ((*r)[j] - mean[j]) * v1[j];
            b += ((*r)[j] - mean[j]) * v2[j];
        }
        out.emplace_back(a, b);
    }
    return out;
}

LatentView::LatentView(RunModel* model, QWidget* parent) : QWidget(parent), model_(model) {
    setObjectName("latentView");
    pool_.setMaxThreadCount(1);
    refit_timer_.setSingleShot(true);
    refit_timer_.setInterval(150);
    connect(&refit_timer_, &QTimer::timeout, this, &LatentView::start_fit);
    connect(model_, &RunModel::changed, this, [this] {
        stale_ = true;
        if (!refit_timer_.isActive()) refit_timer_.start();
    });
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
        auto pts = std::make_shared<std::vector<QPointF>>(pca2(ptrs));
        QMetaObject::invokeMethod(
            this,
            [this, pts, ids] {
                proj_.clear();
                for (size_t i = 0; i < pts->size(); ++i) proj_.push_back({(*ids)[i], (*pts)[i]});
                fitting_ = false;
                update();
                emit projected();
                if (stale_) start_fit();
            },
            Qt::QueuedConnection);
    });
}

void LatentView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    p.fillRect(rect(), palette().base());
    p.setPen(palette().text().color());
    if (proj_.size() < 2) {
        p.drawText(rect(), Qt::AlignCenter,
                   "Latent map: no hidden states in this run\n(enable hidden-state taps)");
        return;
    }
    p.drawText(QRectF(6, 2, width(), 14), Qt::AlignLeft,
               "latent map: PCA of step hidden states, a line per branch");
    QRectF box;
    for (auto& [id, pt] : proj_)
        box = box.isNull() ? QRectF(pt, QSizeF(1e-9, 1e-9))
                           : box.united(QRectF(pt, QSizeF(1e-9, 1e-9)));
    const QRectF area = rect().adjusted(14, 20, -14, -10);
    auto map = [&](QPointF q) {
        return QPointF(
            area.left() + area.width() * (q.x() - box.left()) / std::max(1e-9, box.width()),
            area.bottom() - area.height() * (q.y() - box.top()) / std::max(1e-9, box.height()));
    };
    const ReasoningTree& t = model_->tree();
    std::map<int, QPointF> at;  // (a projection from before a reset may name nodes now gone)
    for (auto& [id, pt] : proj_)
        if (id >= 0 && id < t.size()) at[id] = map(pt);
    for (int leaf : t.leaves()) {
        QPainterPath path;
        bool started = false;
        for (int id : t.path(leaf)) {
            auto it = at.find(id);
            if (it == at.end()) continue;
            if (!started)
                path.moveTo(it->second);
            else
                path.lineTo(it->second);
            started = true;
        }
        const Node& n = t.at(leaf);
        QColor c = n.correct == 1   ? QColor(26, 156, 58, 170)
                   : n.correct == 0 ? QColor(208, 48, 42, 150)
                                    : QColor(120, 120, 140, 120);
        p.setPen(QPen(c, 1.4));
        p.setBrush(Qt::NoBrush);
        p.drawPath(path);
    }
    for (auto& [id, q] : at) {
        const Node& n = t.at(id);
        p.setPen(Qt::NoPen);
        p.setBrush(n.correct == 1   ? QColor(26, 156, 58)
                   : n.correct == 0 ? QColor(208, 48, 42)
                                    : QColor(90, 90, 110));
        p.drawEllipse(q, id == model_->selected() ? 5.0 : 2.5,
                      id == model_->selected() ? 5.0 : 2.5);
    }
}

}  // namespace rs::views
