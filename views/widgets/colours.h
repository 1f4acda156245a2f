// Shared colour scales: entropy (green sure .. red unsure) and score (red .. green).
#pragma once

#include <QColor>
#include <algorithm>

namespace rs::views {

inline QColor entropy_colour(double h) {
    double t = std::clamp(h / 2.5, 0.0, 1.0);
    return QColor(static_cast<int>(200 + 55 * t), static_cast<int>(240 - 150 * t),
                  std::max(60, static_cast<int>(200 - 120 * t)));
}

inline QColor score_colour(double v) {
    double t = std::clamp(v, 0.0, 1.0);
    return QColor(static_cast<int>(220 - 170 * t), static_cast<int>(80 + 130 * t), 90);
}

}  // namespace rs::views
