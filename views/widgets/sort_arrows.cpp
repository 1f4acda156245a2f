#include "widgets/sort_arrows.h"

#include <QHeaderView>

namespace rs::views {

Qt::SortOrder SortArrowStyle::order_of(const QStyleOptionHeader& h) {
    return h.sortIndicator == QStyleOptionHeader::SortDown ? Qt::AscendingOrder
                                                           : Qt::DescendingOrder;
}

void SortArrowStyle::drawPrimitive(PrimitiveElement pe, const QStyleOption* opt, QPainter* p,
                                   const QWidget* w) const {
    const auto* h = qstyleoption_cast<const QStyleOptionHeader*>(opt);
    if (pe != PE_IndicatorHeaderArrow || !h || h->sortIndicator == QStyleOptionHeader::None) {
        QProxyStyle::drawPrimitive(pe, opt, p, w);
        return;
    }
    QStyleOption arrow(*opt);
    arrow.rect = opt->rect.adjusted(0, 2, 0, -2);
    QProxyStyle::drawPrimitive(
        order_of(*h) == Qt::AscendingOrder ? PE_IndicatorArrowUp : PE_IndicatorArrowDown, &arrow, p,
        w);
}

void use_sort_arrows(QHeaderView* header) {
    auto* style = new SortArrowStyle;
    style->setParent(header);
    header->setStyle(style);
}

}  // namespace rs::views
