#include "widgets/plot_axes.h"

#include <algorithm>
#include <cmath>

#include "widgets/theme.h"
#include "widgets/tree_legend.h"

namespace rs::views {

std::vector<double> nice_ticks(double lo, double hi, int max_ticks, bool integers) {
    if (!(hi > lo) || max_ticks < 1) return {lo};
    std::vector<double> out;
    // A round step for about max_ticks ticks; a finer one while fewer than
    // two fall inside (a window just wider than one step).
    for (int want = max_ticks; out.size() < 2 && want <= 4 * max_ticks + 4; ++want) {
        const double raw = (hi - lo) / want;
        const double mag = std::pow(10.0, std::floor(std::log10(raw)));
        double step = 10 * mag;
        for (double m : {1.0, 2.0, 5.0})
            if (m * mag >= raw) {
                step = m * mag;
                break;
            }
        if (integers) step = std::max(1.0, std::round(step));
        out.clear();
        const double eps = step * 1e-9;
        for (double k = std::ceil((lo - eps) / step); k * step <= hi + eps; k += 1)
            out.push_back(std::abs(k * step) < eps ? 0.0 : k * step);
        if (integers && step == 1) break;  // no finer integer step
    }
    return out;
}

QString tick_label(double v, double step) {
    const int decimals =
        step >= 1 ? 0 : std::clamp(static_cast<int>(std::ceil(-std::log10(step) - 1e-9)), 0, 6);
    return QString::number(v, 'f', decimals);
}

bool is_dark(const QPalette& p) {
    return relative_luminance(p.color(QPalette::Base)) < 0.2;
}

QColor axis_colour(const QPalette& p) {
    return faded(p.color(QPalette::Text), p.color(QPalette::Base), 0.45);
}

QColor grid_colour(const QPalette& p) {
    return faded(p.color(QPalette::Text), p.color(QPalette::Base), 0.85);
}

QColor plot_colour(PlotInk ink, const QPalette& p) {
    const bool dark = is_dark(p);
    switch (ink) {
        case PlotInk::Entropy:
            return dark ? QColor(80, 200, 220) : QColor(0, 128, 150);
        case PlotInk::Varentropy:
            return dark ? QColor(245, 165, 80) : QColor(196, 104, 24);
        case PlotInk::Correct:
            return dark ? QColor(70, 200, 100) : QColor(26, 140, 52);
        case PlotInk::Wrong:
            return dark ? QColor(240, 96, 86) : QColor(200, 44, 38);
        case PlotInk::Unknown:
            return dark ? QColor(150, 150, 165) : QColor(120, 120, 138);
        case PlotInk::Selected:
            return selected_colour();  // the tree view's: one colour for the selection
    }
    return p.color(QPalette::Text);
}

void ZoomWindow::set_data(double mn, double mx) {
    min = mn;
    max = std::max(mx, mn + min_span);
    reset();
}

void ZoomWindow::zoom(double factor, double about) {
    const double s = std::clamp(span() * factor, std::min(min_span, max - min), max - min);
    const double t = span() > 0 ? (about - lo) / span() : 0.5;
    lo = about - t * s;
    hi = lo + s;
    pan(0);
}

void ZoomWindow::pan(double by) {
    const double s = span();
    lo = std::clamp(lo + by, min, max - s);
    hi = lo + s;
}

void ZoomWindow::show(double a, double b) {
    if (a >= lo && b <= hi) return;
    if (b - a >= span())
        pan(a - lo);  // too wide to fit: its start
    else if (a < lo)
        pan(a - lo);
    else
        pan(b - hi);
}

}  // namespace rs::views
