#include "rows.h"

#include <cmath>
#include <cstring>

namespace rs::storage {

std::string pack_top(const std::vector<std::pair<TokenId, float>>& top) {
    std::string b(top.size() * 8, '\0');
    for (size_t i = 0; i < top.size(); ++i) {
        std::memcpy(&b[i * 8], &top[i].first, 4);
        std::memcpy(&b[i * 8 + 4], &top[i].second, 4);
    }
    return b;
}

std::vector<std::pair<TokenId, float>> unpack_top(const std::string& b) {
    std::vector<std::pair<TokenId, float>> v(b.size() / 8);
    for (size_t i = 0; i < v.size(); ++i) {
        std::memcpy(&v[i].first, &b[i * 8], 4);
        std::memcpy(&v[i].second, &b[i * 8 + 4], 4);
    }
    return v;
}

void write_token(Stmt& s, int64_t run, int node, int64_t idx, const TokenRecord& t) {
    const std::string top = pack_top(t.top);
    s.bind(1, run).bind(2, node).bind(3, idx).bind(4, t.id).bind(5, t.piece);
    s.bind(6, static_cast<double>(t.logprob)).bind(7, static_cast<double>(t.entropy));
    s.bind(8, static_cast<double>(t.varentropy)).bind_blob(9, top.data(), top.size());
    s.bind(10, pieces_to_json(t.top_pieces));
    s.bind(11, static_cast<int64_t>((t.thinking ? 1 : 0) | (t.forced ? 2 : 0)));
    if (std::isnan(t.self_certainty))
        s.bind_null(12);
    else
        s.bind(12, static_cast<double>(t.self_certainty));
    s.run();
}

void write_node(Stmt& s, int64_t run, const Node& n) {
    s.bind(1, run).bind(2, n.id);
    if (n.parent < 0)
        s.bind_null(3);
    else
        s.bind(3, n.parent);
    s.bind(4, n.depth)
        .bind(5, std::string(status_name(n.status)))
        .bind(6, n.text)
        .bind(7, n.answer);
    s.bind_opt(8, n.correct).bind(9, n.ended ? 1 : 0).bind(10, n.visits).bind(11, n.value_sum);
    for (const auto& [col, v] : {std::pair{12, n.started_at}, std::pair{13, n.ended_at}})
        if (std::isnan(v))
            s.bind_null(col);
        else
            s.bind(col, v);
    s.run();
}

}  // namespace rs::storage
