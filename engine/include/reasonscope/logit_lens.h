// The logit lens (nostalgebraist, 2020): what each layer's residual stream
// would predict if it were the last one. The prefix is evaluated with a
// hidden-state tap after every layer; each tapped residual then goes through
// the model's own final norm and output matrix (the graph's last step, on the
// session's backend), and a softmax gives that layer's next-token
// distribution. The last layer's row is the model's real output distribution.
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "reasonscope/session.h"

namespace rs {

struct LogitLensLayer {
    int layer = 0;                               // 0 .. n_layers - 1
    std::vector<std::pair<TokenId, float>> top;  // (id, probability), most likely first
    std::vector<std::string> pieces;             // their text (the tokenizer's pieces)
    float entropy = 0;                           // of this layer's distribution, nats
    float target_prob = 0;                       // P(target) (0 when there is no target)
    int target_rank = -1;                        // 0 = most likely; -1: no target
};

struct LogitLens {
    int position = 0;     // the predicted position: tokens[0 .. position - 1] are the prefix
    TokenId target = -1;  // tokens[position] when it exists (the token that was chosen)
    std::string target_piece;
    std::vector<LogitLensLayer> layers;  // n_layers rows, layer 0 first
};

// The logit lens at `position` of `tokens`: the prediction of token
// `position` from tokens[0 .. position - 1], 1 <= position <= tokens.size()
// (tokens.size(): the token after them all), with the k most likely tokens
// of every layer. Works on a scratch sequence of the session (released on
// return). Throws rs::Error for a position outside that range, a k below 1,
// a prefix longer than the context or a backend without hidden-state taps.
LogitLens logit_lens(Session& session, std::span<const TokenId> tokens, int position, int k);

}  // namespace rs
