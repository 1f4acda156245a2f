// A sweep's plot: a y share (accuracy, coverage: 0..1) against a compute
// measure (tokens, forward passes, seconds) on a log axis, a line per
// strategy through its budgets. Hovering a point shows its values;
// clicking one says which (pointClicked with the point's key). A point cut
// short (fewer problems than planned) is drawn hollow.
#pragma once

#include <QString>
#include <QWidget>
#include <vector>

namespace rs::views {

struct SweepPlotPoint {
    double x = 0, y = 0;
    int key = -1;   // the caller's id of the point
    QString tip;    // the hover text
    QString label;  // drawn beside the point (its budget)
    bool partial = false;
};
struct SweepPlotSeries {
    QString name;
    std::vector<SweepPlotPoint> points;  // in budget order
};

class SweepPlot : public QWidget {
    Q_OBJECT
  public:
    explicit SweepPlot(QWidget* parent = nullptr);
    QSize sizeHint() const override { return {460, 300}; }
    QSize minimumSizeHint() const override { return {260, 180}; }

    void set_labels(const QString& title, const QString& x_label, const QString& y_label);
    void set_series(std::vector<SweepPlotSeries> series);
    const std::vector<SweepPlotSeries>& series() const { return series_; }
    // Where point `index` of series `s` is drawn (widget coordinates).
    QPointF position(size_t s, size_t index) const;
    // The keys of the points within a few pixels of `pos`, nearest first
    // (of points on one another, the one drawn on top first); key_at: the
    // first, or -1.
    std::vector<int> keys_at(const QPointF& pos) const;
    int key_at(const QPointF& pos) const;
    // The colour of series `s` on this widget's palette.
    QColor series_colour(size_t s) const;

  signals:
    void pointClicked(int key);

  protected:
    void paintEvent(QPaintEvent*) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent* e) override;

  private:
    QRectF plot_rect() const;
    double x_pos(double x) const;
    double y_pos(double y) const;
    void update_range();

    QString title_, x_label_, y_label_;
    std::vector<SweepPlotSeries> series_;
    double lx0_ = 0, lx1_ = 1;  // log10 of the x range
    int hover_ = -1;            // key of the point under the mouse
};

}  // namespace rs::views
