#include "widgets/probe_view.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPainter>
#include <QPainterPath>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

namespace rs::views {

namespace {

// A token's text for a cell: visible spaces and newlines.
QString shown_piece(const std::string& piece) {
    QString s = QString::fromStdString(piece);
    s.replace('\n', QString::fromUtf8("\u21b5"));
    s.replace('\t', QString::fromUtf8("\u21e5"));
    s.replace(' ', QString::fromUtf8("\u00b7"));
    return s.isEmpty() ? QStringLiteral("\u2205") : s;
}

}  // namespace

AnswerEntropyPlot::AnswerEntropyPlot(QWidget* parent) : QWidget(parent) {
    setObjectName("answerEntropyPlot");
    setMinimumHeight(120);
}

void AnswerEntropyPlot::set_curve(const AnswerEntropyCurve& c) {
    curve_ = c;
    update();
}

void AnswerEntropyPlot::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QPalette& pal = palette();
    p.fillRect(rect(), pal.color(QPalette::Base));
    const QRectF plot(44, 10, width() - 60, height() - 36);
    p.setPen(pal.color(QPalette::Mid));
    p.drawRect(plot);
    const int n = static_cast<int>(curve_.entropy.size());
    const double top = std::max(curve_.max_entropy, 1e-6);
    p.setPen(pal.color(QPalette::Text));
    p.drawText(QRectF(0, plot.top() - 6, 40, 14), Qt::AlignRight, QString::number(top, 'f', 2));
    p.drawText(QRectF(0, plot.bottom() - 8, 40, 14), Qt::AlignRight, "0");
    p.save();
    p.translate(10, plot.center().y());
    p.rotate(-90);
    p.drawText(QRectF(-50, -8, 100, 14), Qt::AlignCenter, "entropy (nats)");
    p.restore();
    if (n == 0) {
        p.drawText(plot, Qt::AlignCenter, "no steps yet");
        return;
    }
    auto x_of = [&](int i) {
        return n == 1 ? plot.center().x() : plot.left() + 12 + (plot.width() - 24) * i / (n - 1);
    };
    auto y_of = [&](double h) {
        return plot.bottom() - plot.height() * std::clamp(h / top, 0.0, 1.0);
    };
    for (int i = 0; i < n; ++i)
        p.drawText(QRectF(x_of(i) - 20, plot.bottom() + 2, 40, 14), Qt::AlignCenter,
                   QString::number(i + 1));
    p.drawText(QRectF(plot.left(), plot.bottom() + 12, plot.width(), 14), Qt::AlignCenter, "step");
    // The cheap variant: the first answer token's entropy, dashed.
    if (static_cast<int>(curve_.first_token.size()) == n) {
        QPainterPath path;
        for (int i = 0; i < n; ++i) {
            const QPointF pt(x_of(i), y_of(curve_.first_token[static_cast<size_t>(i)]));
            i == 0 ? path.moveTo(pt) : path.lineTo(pt);
        }
        p.setPen(QPen(QColor(120, 120, 200), 1.5, Qt::DashLine));
        p.drawPath(path);
    }
    QPainterPath path;
    for (int i = 0; i < n; ++i) {
        const QPointF pt(x_of(i), y_of(curve_.entropy[static_cast<size_t>(i)]));
        i == 0 ? path.moveTo(pt) : path.lineTo(pt);
    }
    p.setPen(QPen(QColor(210, 90, 40), 2));
    p.drawPath(path);
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    p.setFont(small);
    for (int i = 0; i < n; ++i) {
        const QPointF pt(x_of(i), y_of(curve_.entropy[static_cast<size_t>(i)]));
        p.setPen(Qt::NoPen);
        p.setBrush(QColor(210, 90, 40));
        p.drawEllipse(pt, 3.5, 3.5);
        if (static_cast<size_t>(i) < curve_.top_answer.size()) {
            const QString a = curve_.top_answer[static_cast<size_t>(i)].isEmpty()
                                  ? QStringLiteral("\u2014")
                                  : curve_.top_answer[static_cast<size_t>(i)];
            p.setPen(pal.color(QPalette::Text));
            const double ty = pt.y() - 16 < plot.top() ? pt.y() + 4 : pt.y() - 16;
            p.drawText(QRectF(pt.x() - 40, ty, 80, 14), Qt::AlignCenter, a);
        }
    }
    p.setFont(font());
    p.setPen(QColor(210, 90, 40));
    p.drawText(QRectF(plot.right() - 230, plot.top() + 2, 226, 14), Qt::AlignRight,
               "answers (label: most common)");
    p.setPen(QColor(120, 120, 200));
    p.drawText(QRectF(plot.right() - 230, plot.top() + 16, 226, 14), Qt::AlignRight,
               "first answer token (dashed)");
}

ProbeView::ProbeView(QWidget* parent) : QWidget(parent) {
    setObjectName("probeView");
    auto* v = new QVBoxLayout(this);
    lens_title_ = new QLabel(
        "Logit lens: right-click a token (Tokens pane) and choose "
        "\u201cLogit lens of this token\u201d.",
        this);
    lens_title_->setObjectName("lensTitle");
    lens_title_->setWordWrap(true);
    lens_title_->setTextFormat(Qt::PlainText);
    v->addWidget(lens_title_);
    table_ = new QTableWidget(this);
    table_->setObjectName("lensTable");
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    table_->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    v->addWidget(table_, 3);
    auto* row = new QHBoxLayout;
    entropy_title_ = new QLabel("Answer entropy after each step of the selected trace", this);
    entropy_title_->setObjectName("answerEntropyTitle");
    entropy_title_->setWordWrap(true);
    entropy_title_->setTextFormat(Qt::PlainText);
    entropy_button_ = new QPushButton("Answer entropy per step", this);
    entropy_button_->setObjectName("answerEntropyButton");
    entropy_button_->setToolTip(
        "After each step of the selected trace, force the answer cue, sample answers at "
        "temperature 1 and measure the entropy of their normalised values");
    row->addWidget(entropy_title_, 1);
    row->addWidget(entropy_button_);
    v->addLayout(row);
    plot_ = new AnswerEntropyPlot(this);
    v->addWidget(plot_, 2);
    connect(entropy_button_, &QPushButton::clicked, this, &ProbeView::answerEntropyRequested);
}

void ProbeView::show_lens(const LogitLens& lens, const QString& title) {
    lens_title_->setText(title);
    const int rows = static_cast<int>(lens.layers.size());
    int cols = 0;
    for (const auto& l : lens.layers) cols = std::max(cols, static_cast<int>(l.top.size()));
    const bool target = lens.target >= 0;
    table_->clear();
    table_->setRowCount(rows);
    table_->setColumnCount(cols + (target ? 1 : 0));
    QStringList heads;
    if (target) heads << QString("p(%1)").arg(shown_piece(lens.target_piece));
    for (int c = 0; c < cols; ++c) heads << QString("top %1").arg(c + 1);
    table_->setHorizontalHeaderLabels(heads);
    QStringList layers;
    // The last layer first: it is the model's own distribution.
    for (int r = 0; r < rows; ++r) {
        const LogitLensLayer& l = lens.layers[static_cast<size_t>(rows - 1 - r)];
        layers << QString("layer %1").arg(l.layer);
        int c0 = 0;
        if (target) {
            auto* it = new QTableWidgetItem(
                QString("%1\nrank %2").arg(l.target_prob, 0, 'f', 3).arg(l.target_rank + 1));
            it->setTextAlignment(Qt::AlignCenter);
            it->setToolTip(QString("P(%1) = %2 at layer %3 (rank %4)")
                               .arg(shown_piece(lens.target_piece))
                               .arg(l.target_prob, 0, 'g', 4)
                               .arg(l.layer)
                               .arg(l.target_rank + 1));
            table_->setItem(r, 0, it);
            c0 = 1;
        }
        for (size_t c = 0; c < l.top.size(); ++c) {
            const float prob = l.top[c].second;
            const QString piece = shown_piece(c < l.pieces.size() ? l.pieces[c] : std::string());
            auto* it = new QTableWidgetItem(QString("%1\n%2").arg(piece).arg(prob, 0, 'f', 3));
            it->setTextAlignment(Qt::AlignCenter);
            QColor bg(70, 130, 220);
            bg.setAlphaF(0.08 + 0.75 * std::clamp(prob, 0.0f, 1.0f));
            it->setBackground(bg);
            if (l.top[c].first == lens.target) {
                QFont f = it->font();
                f.setBold(true);
                it->setFont(f);
            }
            it->setToolTip(QString("layer %1: '%2' (id %3) p=%4; layer entropy %5 nats")
                               .arg(l.layer)
                               .arg(piece)
                               .arg(l.top[c].first)
                               .arg(prob, 0, 'g', 4)
                               .arg(l.entropy, 0, 'f', 3));
            table_->setItem(r, c0 + static_cast<int>(c), it);
        }
    }
    table_->setVerticalHeaderLabels(layers);
}

void ProbeView::show_answer_entropy(const AnswerEntropyCurve& c) {
    entropy_title_->setText(c.title);
    plot_->set_curve(c);
}

void ProbeView::show_lens_message(const QString& text) {
    lens_title_->setText(text);
}

void ProbeView::show_entropy_message(const QString& text) {
    entropy_title_->setText(text);
}

void ProbeView::set_available(bool ok, const QString& why_not) {
    entropy_button_->setEnabled(ok);
    entropy_button_->setToolTip(ok ? QString("After each step of the selected trace, force the "
                                             "answer cue, sample answers at temperature 1 and "
                                             "measure the entropy of their normalised values")
                                   : why_not);
}

}  // namespace rs::views
