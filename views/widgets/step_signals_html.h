// The node pane's per-step signals (reasonscope/step_signals.h) as a small
// HTML table: what the main window shows under a selected node.
#pragma once

#include <QString>

#include "reasonscope/tree.h"

namespace rs::views {

// One row per signal, "–" for an absent one (self-certainty on a server's
// run, latent change without hidden-state taps); empty for the root.
QString step_signals_html(const ReasoningTree& tree, int node);

}  // namespace rs::views
