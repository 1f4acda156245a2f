// Entropy and varentropy along the selected path, with step boundaries, and
// the distribution of answers across branches (votes) with its entropy.
#pragma once

#include <QWidget>

#include "models/run_model.h"

namespace rs::views {

class SignalsView : public QWidget {
    Q_OBJECT
  public:
    explicit SignalsView(RunModel* model, QWidget* parent = nullptr);
    QSize sizeHint() const override { return {520, 200}; }

  protected:
    void paintEvent(QPaintEvent*) override;

  private:
    RunModel* model_;
};

}  // namespace rs::views
