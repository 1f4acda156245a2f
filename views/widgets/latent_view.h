// Hidden states of the steps projected to 2D by PCA fitted on the run; one
// trajectory per branch (root to leaf), coloured by correctness (green right,
// red wrong, grey unknown). Needs hidden-state taps on the run.
#pragma once

#include <QThreadPool>
#include <QTimer>
#include <QWidget>
#include <vector>

#include "models/run_model.h"

namespace rs::views {

class LatentView : public QWidget {
    Q_OBJECT
  public:
    explicit LatentView(RunModel* model, QWidget* parent = nullptr);
    ~LatentView() override;
    QSize sizeHint() const override { return {360, 240}; }
    int projected_count() const { return static_cast<int>(proj_.size()); }
    bool fitting() const { return fitting_ || refit_timer_.isActive(); }

  signals:
    void projected();  // a new projection is on screen

  protected:
    void paintEvent(QPaintEvent*) override;

  private:
    // The PCA runs on a worker thread (never the UI's), on a copy of the hidden
    // states; changes arriving meanwhile are coalesced into one more fit.
    void start_fit();
    RunModel* model_;
    std::vector<std::pair<int, QPointF>> proj_;  // node id -> 2D
    QThreadPool pool_;                           // one thread, for the fits
    QTimer refit_timer_;                         // coalesces bursts of changes
    bool fitting_ = false, stale_ = false;
};

// Top-two principal components of rows (n x d); returns n 2D points.
std::vector<QPointF> pca2(const std::vector<const std::vector<float>*>& rows);

}  // namespace rs::views
