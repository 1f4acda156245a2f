// Readable exports: Markdown, CSV and a self-contained HTML report.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "reasonscope/run_export.h"
#include "reasonscope/step_signals.h"
#include "reasonscope/text_safety.h"

namespace rs {
namespace {

using text::html_escape;

// Text cells: quoted, and never read as a formula by a spreadsheet.
std::string csv_field(const std::string& s) {
    return text::csv_text(s);
}

std::string fmt(double v, int prec = 3) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}

// Entropy -> colour from pale green (sure) through yellow to red (unsure).
std::string entropy_colour(double h) {
    double t = std::clamp(h / 2.5, 0.0, 1.0);
    int r = static_cast<int>(200 + 55 * t), g = static_cast<int>(240 - 150 * t),
        b = static_cast<int>(200 - 120 * t);
    char buf[16];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, std::max(b, 60));
    return buf;
}

// A thinking token's background: its entropy colour faded toward a cool grey
// (as the app's token view shows it).
std::string thinking_colour(double h) {
    double t = std::clamp(h / 2.5, 0.0, 1.0);
    int r = static_cast<int>(200 + 55 * t), g = static_cast<int>(240 - 150 * t),
        b = std::max(60, static_cast<int>(200 - 120 * t));
    char buf[16];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", (r + 2 * 205) / 3, (g + 2 * 205) / 3,
                  (b + 2 * 218) / 3);
    return buf;
}

std::string score_colour(double v) {  // 0 red .. 1 green
    double t = std::clamp(v, 0.0, 1.0);
    char buf[16];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", static_cast<int>(220 - 170 * t),
                  static_cast<int>(80 + 130 * t), 90);
    return buf;
}

std::string path_text(const StoredRun& r, const std::vector<int>& p) {
    std::string s;
    for (int id : p)
        if (r.tree.at(id).parent >= 0) s += r.tree.at(id).text;
    return s;
}

}  // namespace

// Every stored string is escaped: table cells and the heading with
// markdown_inline (no markup, no HTML, no | breaking the table), the prompt
// and the trace in fences longer than any backtick run they hold.
std::string run_to_markdown(const StoredRun& r) {
    const RunRow& x = r.run;
    const auto md = [](const std::string& v) { return text::markdown_inline(v); };
    std::ostringstream s;
    s << "# Run " << x.id << (x.name.empty() ? "" : " — " + md(x.name)) << "\n\n";
    s << "| field | value |\n|---|---|\n";
    s << "| strategy | " << md(x.strategy) << " |\n| parameters | " << md(x.params)
      << " |\n| model | " << md(x.model_name) << " (" << md(x.model_path) << ") |\n| backend | "
      << md(x.backend) << (x.backend_reason.empty() ? "" : " (" + md(x.backend_reason) + ")")
      << " |\n| task | " << md(x.suite) << " " << md(x.task_id) << " |\n| seed | " << x.seed
      << " |\n| status | " << md(x.status)
      << (x.status_reason.empty() ? "" : " (" + md(x.status_reason) + ")") << " |\n| answer | "
      << md(x.answer)
      << (x.correct == 1   ? " (correct)"
          : x.correct == 0 ? " (wrong, expected " + md(x.expected) + ")"
                           : "")
      << " |\n";
    s << "| cost | " << x.tokens << " tokens, " << x.forward_passes << " forward passes, "
      << fmt(x.wall_seconds, 2) << " s |\n| tree | " << r.tree.size() << " nodes, depth "
      << r.tree.max_depth() << " |\n";
    if (!x.prompt_settings.empty() && x.prompt_settings != "{}")
        s << "| prompt settings | " << md(x.prompt_settings) << " |\n";
    if (!x.model_file_type.empty()) s << "| model file type | " << md(x.model_file_type) << " |\n";
    if (!x.server.empty()) s << "| server | " << md(x.server) << " |\n";
    s << "\n## Prompt\n\n" << text::markdown_code_block(x.prompt) << "\n";
    if (!x.prompt_rendered.empty())
        s << "## Prompt as rendered by the chat template\n\n"
          << text::markdown_code_block(x.prompt_rendered) << "\n";
    // The chosen trace, its thinking apart from the answer when the model
    // thought (tokens marked thinking, the markers included).
    const std::vector<int> chosen = chosen_path(r);
    std::string thought, answer;
    int thinking_tokens = 0, forced = 0;
    for (int id : chosen) {
        const Node& n = r.tree.at(id);
        if (n.parent < 0) continue;
        if (n.tokens.empty()) answer += n.text;
        for (const TokenRecord& t : n.tokens) {
            (t.thinking ? thought : answer) += t.piece;
            thinking_tokens += t.thinking;
            forced += t.forced;
        }
    }
    if (thinking_tokens > 0) {
        s << "## Chosen trace: thinking (" << thinking_tokens << " tokens"
          << (forced ? ", " + std::to_string(forced) + " put there by the thinking budget" : "")
          << ")\n\n"
          << text::markdown_code_block(thought) << "\n## Chosen trace: answer\n\n"
          << text::markdown_code_block(answer) << "\n";
    } else {
        s << "## Chosen trace\n\n" << text::markdown_code_block(path_text(r, chosen)) << "\n";
    }
    std::map<std::string, int> answers;
    for (const Node& n : r.tree.nodes())
        if (!n.answer.empty()) answers[n.answer]++;
    if (!answers.empty()) {
        s << "## Answers across branches\n\n| answer | branches |\n|---|---|\n";
        for (const auto& [a, c] : answers) s << "| " << md(a) << " | " << c << " |\n";
    }
    return s.str();
}

std::string run_tokens_csv(const StoredRun& r) {
    std::ostringstream s;
    s << "node_id,idx,token_id,piece,logprob,entropy,varentropy,top\n";
    for (const Node& n : r.tree.nodes())
        for (size_t i = 0; i < n.tokens.size(); ++i) {
            const auto& t = n.tokens[i];
            std::string top;
            for (size_t k = 0; k < t.top.size(); ++k)
                top +=
                    (k ? ";" : "") + std::to_string(t.top[k].first) + ":" + fmt(t.top[k].second, 4);
            s << n.id << "," << i << "," << t.id << "," << csv_field(t.piece) << "," << t.logprob
              << "," << t.entropy << "," << t.varentropy << "," << csv_field(top) << "\n";
        }
    return s.str();
}

std::string run_nodes_csv(const StoredRun& r) {
    std::ostringstream s;
    s << "node_id,parent_id,depth,status,answer,correct,tokens,mean_logprob,mean_entropy,visits,"
         "value,text\n";
    for (const Node& n : r.tree.nodes())
        s << n.id << "," << n.parent << "," << n.depth << "," << status_name(n.status) << ","
          << csv_field(n.answer) << "," << n.correct << "," << n.tokens.size() << ","
          << n.mean_logprob() << "," << n.mean_entropy() << "," << n.visits << "," << n.value()
          << "," << csv_field(n.text) << "\n";
    return s.str();
}

std::string run_to_html(const StoredRun& r) {
    const RunRow& x = r.run;
    const ReasoningTree& t = r.tree;
    std::vector<int> path = chosen_path(r);
    std::vector<bool> on_path(static_cast<size_t>(t.size()), false);
    for (int id : path) on_path[static_cast<size_t>(id)] = true;

    // Layout: leaves left to right in depth-first order, parents centred.
    std::vector<double> xs(static_cast<size_t>(t.size()), 0);
    double next_leaf = 0;
    // Iterative: a stored or imported tree may be a chain of any depth.
    std::vector<std::pair<int, size_t>> stack;  // (node, next child to visit)
    if (t.size()) stack.push_back({0, 0});
    while (!stack.empty()) {
        const int id = stack.back().first;
        const Node& n = t.at(id);
        if (stack.back().second < n.children.size()) {
            const int c = n.children[stack.back().second++];
            stack.push_back({c, 0});
            continue;
        }
        xs[static_cast<size_t>(id)] = n.children.empty()
                                          ? next_leaf++
                                          : (xs[static_cast<size_t>(n.children.front())] +
                                             xs[static_cast<size_t>(n.children.back())]) /
                                                2;
        stack.pop_back();
    }
    const double dx = 22, dy = 46, pad = 20;
    const double w = std::max(200.0, next_leaf * dx + 2 * pad),
                 h = (t.max_depth() + 1) * dy + 2 * pad;
    std::string score_key;
    for (const Node& n : t.nodes())
        for (const auto& [k, v] : n.scores)
            if (score_key.empty() && k != "prm_step" && k != "ess" && k != "branch_point")
                score_key = k;

    std::ostringstream s;
    s << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Reasonscope run " << x.id
      << "</title>\n"
      << "<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:3px "
         "8px;text-align:left}.tok{white-space:pre-wrap;font-family:monospace;"
         "border-radius:3px}.trace{line-height:1.9;font-family:monospace;white-space:pre-wrap;"
         "border:1px solid #ddd;"
         "padding:10px}svg text{font-size:10px}.think{font-style:italic;color:#555564;"
         "border-bottom:2px dashed #7b2fbf}.think .tok{color:#555564}.tok.forced{"
         "font-weight:bold;color:#7b2fbf;text-decoration:underline dashed #7b2fbf}"
         ".legend span{padding:0 4px;font-family:monospace}pre.rendered{color:#555;"
         "background:#f6f6f8;padding:6px;white-space:pre-wrap}</style></head><body>\n";
    s << "<h1>Run " << x.id << (x.name.empty() ? "" : " — " + html_escape(x.name))
      << "</h1>\n<table>\n";
    auto row = [&](const std::string& k, const std::string& v) {
        s << "<tr><th>" << k << "</th><td>" << html_escape(v) << "</td></tr>\n";
    };
    row("strategy", x.strategy);
    row("parameters", x.params);
    row("model", x.model_name + " (" + x.model_path + ")");
    row("backend", x.backend);
    row("backend chosen", x.backend_reason);
    row("task", x.suite + " " + x.task_id);
    row("seed", std::to_string(x.seed));
    row("status", x.status + (x.status_reason.empty() ? "" : " (" + x.status_reason + ")"));
    row("answer", x.answer + (x.correct == 1   ? " (correct)"
                              : x.correct == 0 ? " (wrong; expected " + x.expected + ")"
                                               : ""));
    row("cost", std::to_string(x.tokens) + " tokens, " + std::to_string(x.forward_passes) +
                    " forward passes, " + fmt(x.wall_seconds, 2) + " s, KV peak " +
                    fmt(x.kv_peak_bytes / 1e6, 1) + " MB");
    row("tree", std::to_string(t.size()) + " nodes, depth " + std::to_string(t.max_depth()));
    if (!x.prompt_settings.empty() && x.prompt_settings != "{}")
        row("prompt settings", x.prompt_settings);
    if (!x.model_file_type.empty()) row("model file type", x.model_file_type);
    if (!x.server.empty()) row("server", x.server);
    s << "</table>\n<h2>Prompt</h2><pre>" << html_escape(x.prompt) << "</pre>\n";
    if (!x.prompt_rendered.empty())
        s << "<h2>Prompt as rendered by the chat template</h2><pre class=\"rendered\">"
          << html_escape(x.prompt_rendered) << "</pre>\n";

    s << "<h2>Tree</h2><p>Colour: "
      << (score_key.empty() ? "mean entropy" : "score (" + html_escape(score_key) + ")")
      << "; ring: green correct, red wrong; grey: pruned; dashed violet ring: the step is (partly) "
         "thinking; thick edges: the chosen trace. Hover a node for its text.</p>\n";
    s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
      << "\">\n";
    for (const Node& n : t.nodes()) {
        if (n.parent < 0) continue;
        bool thick = on_path[static_cast<size_t>(n.id)] && on_path[static_cast<size_t>(n.parent)];
        s << "<line x1=\"" << pad + xs[static_cast<size_t>(n.parent)] * dx << "\" y1=\""
          << pad + (n.depth - 1) * dy << "\" x2=\"" << pad + xs[static_cast<size_t>(n.id)] * dx
          << "\" y2=\"" << pad + n.depth * dy << "\" stroke=\"" << (thick ? "#333" : "#bbb")
          << "\" stroke-width=\"" << (thick ? 2.5 : 1) << "\"/>\n";
    }
    for (const Node& n : t.nodes()) {
        double cx = pad + xs[static_cast<size_t>(n.id)] * dx, cy = pad + n.depth * dy;
        std::string fill = n.status == NodeStatus::Pruned ? "#cccccc"
                           : !score_key.empty() && n.scores.count(score_key)
                               ? score_colour(n.scores.at(score_key))
                               : entropy_colour(n.mean_entropy());
        std::string stroke = n.correct == 1 ? "#1a9c3a" : n.correct == 0 ? "#d0302a" : "#555";
        s << "<circle cx=\"" << cx << "\" cy=\"" << cy << "\" r=\"7\" fill=\"" << fill
          << "\" stroke=\"" << stroke << "\" stroke-width=\"" << (n.correct >= 0 ? 3 : 1)
          << "\"><title>node " << n.id << " (" << status_name(n.status) << ")\n"
          << html_escape(n.parent < 0 ? x.prompt : n.text);
        for (const auto& [k, v] : n.scores) s << "\n" << html_escape(k) << " = " << fmt(v);
        s << "</title></circle>\n";
        // Thinking: a dashed ring, all round when the whole step is, the top half when part is.
        if (const int th = n.thinking_tokens()) {
            const char* ring =
                "fill=\"none\" stroke=\"#7b2fbf\" stroke-width=\"1.5\" "
                "stroke-dasharray=\"3 2\"";
            if (th == static_cast<int>(n.tokens.size()))
                s << "<circle class=\"think-ring\" cx=\"" << cx << "\" cy=\"" << cy
                  << "\" r=\"10.5\" " << ring << "/>\n";
            else
                s << "<path class=\"think-ring\" d=\"M" << cx - 10.5 << " " << cy
                  << " A10.5 10.5 0 0 1 " << cx + 10.5 << " " << cy << "\" " << ring << "/>\n";
        }
        if (!n.answer.empty())
            s << "<text x=\"" << cx - 8 << "\" y=\"" << cy + 18 << "\">" << html_escape(n.answer)
              << "</text>\n";
    }
    s << "</svg>\n";

    // Chosen trace, token by token.
    std::vector<const TokenRecord*> toks;
    for (int id : path)
        for (const auto& tk : t.at(id).tokens) toks.push_back(&tk);
    bool any_thinking = false;
    for (const TokenRecord* tk : toks) any_thinking = any_thinking || tk->thinking || tk->forced;
    s << "<h2>Chosen trace</h2><p>Background: entropy of the next-token distribution (green sure, "
         "red unsure). Hover a token for its probability and the alternatives.</p>\n";
    if (any_thinking)
        s << "<p class=\"legend\">Legend: <span class=\"think\">thinking</span> the model's "
             "thinking span (italic, faded, dashed underline); <span class=\"tok "
             "forced\">forced</span> a token the thinking budget put there, not sampled.</p>\n";
    s << "<div class=\"trace\">";
    bool in_think = false;
    for (const TokenRecord* tk : toks) {
        if (tk->thinking != in_think) {
            s << (tk->thinking ? "<span class=\"think\" title=\"thinking\">" : "</span>");
            in_think = tk->thinking;
        }
        std::ostringstream tip;
        tip << "p=" << fmt(std::exp(tk->logprob)) << " H=" << fmt(tk->entropy)
            << " VH=" << fmt(tk->varentropy);
        for (size_t i = 0; i < tk->top.size(); ++i)
            tip << "\n"
                << (i < tk->top_pieces.size() ? "'" + tk->top_pieces[i] + "'"
                                              : std::to_string(tk->top[i].first))
                << "  " << fmt(std::exp(tk->top[i].second));
        if (tk->thinking) tip << "\nthinking";
        if (tk->forced) tip << "\nforced by the thinking budget";
        s << "<span class=\"tok" << (tk->forced ? " forced" : "") << "\" style=\"background:"
          << (tk->thinking ? thinking_colour(tk->entropy) : entropy_colour(tk->entropy))
          << "\" title=\"" << html_escape(tip.str()) << "\">" << html_escape(tk->piece)
          << "</span>";
    }
    if (in_think) s << "</span>";
    s << "</div>\n";

    // Per-step signals of the chosen trace (reasonscope/step_signals.h).
    if (path.size() > 1) {
        s << "<h2>Step signals</h2><p>Per step of the chosen trace: token log-probabilities, "
             "entropy, DeepConf group confidence, self-certainty (KL of the next-token "
             "distribution from uniform) and the latent change of the step-end hidden states so "
             "far (net, cumulative, aligned; only with hidden-state taps). &ndash;: "
             "absent.</p>\n<table class=\"step-signals\"><tr><th>node</th><th>step</th>"
             "<th>tokens</th>";
        for (const auto& [name, what] : step_signal_names())
            s << "<th title=\"" << html_escape(what) << "\">" << name << "</th>";
        s << "</tr>\n";
        for (size_t i = 1; i < path.size(); ++i) {
            const StepSignals sig = step_signals(t, path[i]);
            s << "<tr><td>" << path[i] << "</td><td>" << t.at(path[i]).depth << "</td><td>"
              << sig.tokens << "</td>";
            for (const auto& [name, what] : step_signal_names()) {
                const double v = step_signal_value(sig, name);
                s << "<td>" << (std::isfinite(v) ? fmt(v) : "&ndash;") << "</td>";
            }
            s << "</tr>\n";
        }
        s << "</table>\n";
    }

    // Entropy and varentropy along the trace.
    if (!toks.empty()) {
        const double pw = 760, ph = 160;
        double hmax = 0.1;
        for (const TokenRecord* tk : toks)
            hmax = std::max(
                {hmax, static_cast<double>(tk->entropy), static_cast<double>(tk->varentropy)});
        auto poly = [&](bool var) {
            std::ostringstream p;
            for (size_t i = 0; i < toks.size(); ++i) {
                double v = var ? toks[i]->varentropy : toks[i]->entropy;
                p << (i ? " " : "")
                  << 30 + pw * static_cast<double>(i) / std::max<size_t>(1, toks.size() - 1) << ","
                  << 10 + ph - ph * v / hmax;
            }
            return p.str();
        };
        s << "<h2>Signals along the trace</h2><svg xmlns=\"http://www.w3.org/2000/svg\" width=\""
          << pw + 60 << "\" height=\"" << ph + 40 << "\"><rect x=\"30\" y=\"10\" width=\"" << pw
          << "\" height=\"" << ph
          << "\" fill=\"none\" stroke=\"#ccc\"/><polyline fill=\"none\" stroke=\"#2a6fd0\" "
             "stroke-width=\"1.5\" points=\""
          << poly(false)
          << "\"/><polyline fill=\"none\" stroke=\"#d07a2a\" stroke-width=\"1\" points=\""
          << poly(true)
          << "\"/><text x=\"34\" y=\"24\" fill=\"#2a6fd0\">entropy</text><text x=\"100\" y=\"24\" "
             "fill=\"#d07a2a\">varentropy</text>"
          << "<text x=\"2\" y=\"16\">" << fmt(hmax, 1) << "</text><text x=\"2\" y=\"" << ph + 10
          << "\">0</text></svg>\n";
    }
    s << "<p style=\"color:#888\">Reasonscope " << html_escape(x.app_version)
      << "</p></body></html>\n";
    return s.str();
}

}  // namespace rs
