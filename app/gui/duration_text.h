// A duration for the status lines of the app's windows: "4.2 s", "37 s",
// "2:05 min", "1:02:05 h".
#pragma once

#include <QString>
#include <algorithm>
#include <cmath>

namespace rs::gui {

inline QString duration_text(double seconds) {
    const double s = std::max(0.0, seconds);
    if (s < 60) return QString("%1 s").arg(s, 0, 'f', s < 10 ? 1 : 0);
    const auto t = static_cast<long>(std::lround(s));
    if (t < 3600) return QString("%1:%2 min").arg(t / 60).arg(t % 60, 2, 10, QChar('0'));
    return QString("%1:%2:%3 h")
        .arg(t / 3600)
        .arg(t / 60 % 60, 2, 10, QChar('0'))
        .arg(t % 60, 2, 10, QChar('0'));
}

}  // namespace rs::gui
