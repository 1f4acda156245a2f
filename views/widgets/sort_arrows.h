// Sort arrows that point the way the rows go: up for ascending (smallest
// first), down for descending. Qt passes ascending to the style as
// "SortDown", and Fusion on Linux draws that as a down arrow, so a table
// sorted newest first (descending) showed an up arrow.
#pragma once

#include <QProxyStyle>
#include <QStyleOption>

class QHeaderView;

namespace rs::views {

class SortArrowStyle : public QProxyStyle {
  public:
    // `order` of the arrow a header option stands for (QHeaderView's mapping).
    static Qt::SortOrder order_of(const QStyleOptionHeader& h);
    void drawPrimitive(PrimitiveElement pe, const QStyleOption* opt, QPainter* p,
                       const QWidget* w = nullptr) const override;
};

// Gives `header` the arrows above (the style is owned by the header).
void use_sort_arrows(QHeaderView* header);

}  // namespace rs::views
