// The app's two themes as palettes, and text colours chosen for contrast.
// Widgets that paint their own colours (the tree canvas, the token view)
// take their background and text from the palette, so both themes read.
#pragma once

#include <QColor>
#include <QPalette>

namespace rs::views {

// A dark palette whose disabled group is greyed (Qt's QPalette::setColor
// without a group sets every group alike, so disabled buttons looked
// enabled).
QPalette dark_palette();
// The style's own light palette.
QPalette light_palette();

// WCAG 2 relative luminance and contrast ratio (1 .. 21).
double relative_luminance(const QColor& c);
double contrast_ratio(const QColor& a, const QColor& b);
// Near-black or white, whichever reads better on `background`.
QColor contrast_text_colour(const QColor& background);
// `text` faded toward `background` by `amount` (0: text, 1: background).
QColor faded(const QColor& text, const QColor& background, double amount);

}  // namespace rs::views
