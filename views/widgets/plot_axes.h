// What the signals plot and the latent map share: tick positions at round
// numbers, their labels, colours that read on the light and the dark theme,
// and a one-dimensional zoom window (wheel zoom about the cursor, drag pan,
// reset) kept inside the data's range.
#pragma once

#include <QColor>
#include <QPalette>
#include <QString>
#include <vector>

class QPainter;
class QRectF;

namespace rs::views {

// Ticks at multiples of 1, 2 or 5 times a power of ten inside [lo, hi], at
// most about `max_ticks` of them; `integers` keeps the step at 1 or more.
std::vector<double> nice_ticks(double lo, double hi, int max_ticks, bool integers = false);
// A tick's label with as many decimals as the ticks' step needs ("0.25", "40").
QString tick_label(double v, double step);

// The palette is dark (its base reads dark): views pick lighter ink for it.
bool is_dark(const QPalette& p);
// Axis lines and tick marks, and the fainter grid, from the palette.
QColor axis_colour(const QPalette& p);
QColor grid_colour(const QPalette& p);
// Colours of the plotted series and marks, one shade per theme; the
// selection is the tree view's colour in both.
enum class PlotInk { Entropy, Varentropy, Correct, Wrong, Unknown, Selected };
QColor plot_colour(PlotInk ink, const QPalette& p);

// A visible window [lo, hi] onto a data range [min, max]: zoomed by a factor
// about a point, panned, clamped so that it stays inside the data, reset to
// all of it.
struct ZoomWindow {
    double min = 0, max = 1, lo = 0, hi = 1;
    void set_data(double mn, double mx);  // resets the window to all of it
    void reset() { lo = min, hi = max; }
    bool zoomed() const { return lo > min || hi < max; }
    void zoom(double factor, double about);  // factor < 1 zooms in
    void pan(double by);
    void show(double a, double b);  // pans (never zooms) until [a, b] is inside, where it fits
    double span() const { return hi - lo; }
    // The window is kept at least `min_span` wide (a few tokens, say).
    double min_span = 1e-9;
};

}  // namespace rs::views
