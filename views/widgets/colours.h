// Shared colour scales: entropy (green sure .. red unsure) and score (red .. green),
// and the marks of thinking.
#pragma once

#include <QColor>
#include <algorithm>

namespace rs::views {

inline QColor entropy_colour(double h) {
    double t = std::clamp(h / 2.5, 0.0, 1.0);
    return QColor(static_cast<int>(200 + 55 * t), static_cast<int>(240 - 150 * t),
                  std::max(60, static_cast<int>(200 - 120 * t)));
}

// A thinking token's background: its entropy colour faded toward a cool
// grey (the scale still reads; the band of thinking stands apart).
inline QColor thinking_colour(const QColor& entropy) {
    const QColor g(205, 205, 218);
    return QColor((entropy.red() + 2 * g.red()) / 3, (entropy.green() + 2 * g.green()) / 3,
                  (entropy.blue() + 2 * g.blue()) / 3);
}
inline QColor thinking_text_colour() {
    return QColor(85, 85, 100);
}
inline QColor forced_colour() {  // tokens the thinking budget put there
    return QColor(123, 47, 191);
}

inline QColor score_colour(double v) {
    double t = std::clamp(v, 0.0, 1.0);
    return QColor(static_cast<int>(220 - 170 * t), static_cast<int>(80 + 130 * t), 90);
}

}  // namespace rs::views
