// Entropy and varentropy along the selected path, with step boundaries, and
// the distribution of answers across branches (votes) with its entropy.
#pragma once

#include <QWidget>
#include <vector>

#include "models/run_model.h"

class QScrollBar;

namespace rs::views {

class SignalsView : public QWidget {
    Q_OBJECT
  public:
    explicit SignalsView(RunModel* model, QWidget* parent = nullptr);
    QSize sizeHint() const override { return {520, 200}; }

    // One answer of the vote: how many nodes reached it, and the sum of their
    // scores under the run's primary score key (0 without scores).
    struct AnswerVote {
        std::string answer;
        int count = 0;
        double weight = 0;
    };
    // The answers as the list shows them: most votes first, then the highest
    // weight, then by text.
    std::vector<AnswerVote> answer_votes() const;
    // The answer list scrolls when it has more rows than fit: its value is
    // the first row shown.
    QScrollBar* answer_scroll() const { return scroll_; }
    int visible_answer_rows() const;

  protected:
    void paintEvent(QPaintEvent*) override;
    void resizeEvent(QResizeEvent*) override;
    void wheelEvent(QWheelEvent*) override;

  private:
    QRectF plot_rect() const;
    QRectF bars_rect() const;
    void update_scroll();
    RunModel* model_;
    QScrollBar* scroll_ = nullptr;
};

}  // namespace rs::views
