#include "widgets/step_signals_html.h"

#include <cmath>

#include "reasonscope/step_signals.h"

namespace rs::views {

QString step_signals_html(const ReasoningTree& tree, int node) {
    if (node <= 0 || node >= tree.size() || tree.at(node).parent < 0) return {};
    const StepSignals s = step_signals(tree, node);
    QString html = "<table class=\"step-signals\" cellspacing=\"0\" cellpadding=\"1\">";
    for (const auto& [name, what] : step_signal_names()) {
        const double v = step_signal_value(s, name);
        html += QString("<tr><td title=\"%1\">%2</td><td align=\"right\">&nbsp;%3</td></tr>")
                    .arg(QString(what).toHtmlEscaped(), QString(name).replace('_', ' '),
                         std::isfinite(v) ? QString::number(v, 'f', 3) : QString("&ndash;"));
    }
    return html + "</table>";
}

}  // namespace rs::views
