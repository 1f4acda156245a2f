// reasonscope sweep: what each extra token of compute buys. Several
// strategies at several budgets on one suite: accuracy and coverage against
// tokens, forward passes and seconds, coverage@k (k = 1..64) from each
// strategy's largest budget, a table, JSON, and SVG plots in an HTML page.
// With --db every run is stored, tagged with the sweep, strategy and budget.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/prompt_args.h"
#include "cli/remote_args.h"
#include "cli/session_args.h"
#include "core/resources.h"
#include "core/run_service.h"
#include "core/session_options.h"
#include "core/sweep.h"
#include "reasonscope/error.h"
#include "reasonscope/run_store.h"
#include "reasonscope/text_safety.h"

namespace rs::cli {
namespace {

// A line chart: one polyline per series, x on a log axis.
std::string svg_chart(
    const std::string& title, const std::string& xlabel, const std::string& ylabel,
    const std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>>& series) {
    const int W = 560, H = 340, L = 60, R = 150, T = 30, B = 45;
    double x0 = 1e300, x1 = -1e300;
    for (const auto& [name, pts] : series)
        for (const auto& [x, y] : pts)
            if (x > 0) {
                x0 = std::min(x0, x);
                x1 = std::max(x1, x);
            }
    if (!(x0 < x1)) {
        x0 = x0 > 0 && x0 < 1e300 ? x0 / 2 : 1;
        x1 = x0 * 4;
    }
    const double lx0 = std::log10(x0), lx1 = std::log10(x1);
    const auto X = [&](double x) { return L + (std::log10(x) - lx0) / (lx1 - lx0) * (W - L - R); };
    const auto Y = [&](double y) { return T + (1.0 - y) * (H - T - B); };
    static const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                   "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
    std::ostringstream s;
    s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" "
         "fill=\"white\"/>\n<text x=\""
      << W / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">" << text::html_escape(title)
      << "</text>\n";
    for (int i = 0; i <= 4; ++i) {  // y grid 0..1
        const double y = i / 4.0;
        s << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << Y(y) << "\" y2=\"" << Y(y)
          << "\" stroke=\"#ddd\"/><text x=\"" << L - 6 << "\" y=\"" << Y(y) + 4
          << "\" text-anchor=\"end\">" << static_cast<int>(y * 100) << "%</text>\n";
    }
    // x ticks: the data's own x values when there are few and their labels
    // stay apart (40 px), else 1-2-5.
    std::vector<double> ticks;
    for (const auto& [name, pts] : series)
        for (const auto& [x, y] : pts)
            if (x > 0 && std::find(ticks.begin(), ticks.end(), x) == ticks.end())
                ticks.push_back(x);
    std::sort(ticks.begin(), ticks.end());
    bool crowded = ticks.size() > 8;
    for (size_t i = 1; i < ticks.size(); ++i)
        crowded = crowded || X(ticks[i]) - X(ticks[i - 1]) < 40;
    if (crowded) {
        ticks.clear();
        for (double d = std::pow(10.0, std::floor(lx0)); d <= x1 * 1.0001; d *= 10)
            for (int m : {1, 2, 5})
                if (d * m >= x0 * 0.9999 && d * m <= x1 * 1.0001) ticks.push_back(d * m);
    }
    for (double x : ticks) {
        std::ostringstream label;
        label << (x >= 10 ? std::round(x) : std::round(x * 100) / 100);
        s << "<line x1=\"" << X(x) << "\" x2=\"" << X(x) << "\" y1=\"" << T << "\" y2=\"" << H - B
          << "\" stroke=\"#eee\"/><text x=\"" << X(x) << "\" y=\"" << H - B + 14
          << "\" text-anchor=\"middle\">" << label.str() << "</text>\n";
    }
    s << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 8 << "\" text-anchor=\"middle\">"
      << text::html_escape(xlabel) << " (log scale)</text>\n<text x=\"14\" y=\"" << (T + H - B) / 2
      << "\" transform=\"rotate(-90 14 " << (T + H - B) / 2 << ")\" text-anchor=\"middle\">"
      << text::html_escape(ylabel) << "</text>\n";
    for (size_t k = 0; k < series.size(); ++k) {
        const char* c = colors[k % 8];
        s << "<polyline fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\" points=\"";
        for (const auto& [x, y] : series[k].second)
            if (x > 0) s << X(x) << "," << Y(y) << " ";
        s << "\"/>\n";
        for (const auto& [x, y] : series[k].second)
            if (x > 0)
                s << "<circle cx=\"" << X(x) << "\" cy=\"" << Y(y) << "\" r=\"3\" fill=\"" << c
                  << "\"/>\n";
        s << "<rect x=\"" << W - R + 12 << "\" y=\"" << T + 16 * k
          << "\" width=\"10\" height=\"10\" "
          << "fill=\"" << c << "\"/><text x=\"" << W - R + 26 << "\" y=\"" << T + 16 * k + 9
          << "\">" << text::html_escape(series[k].first) << "</text>\n";
    }
    s << "</svg>\n";
    return s.str();
}

}  // namespace

int cmd_sweep(const Argv& argv) {
    Args a("sweep",
           "--suite S --strategies A,B,C --budgets 1,2,4,8 [--limit N] [--out DIR] [--db FILE]");
    a.option("model", "GGUF model (default: the bundled model)")
        .option("suite", "task suite (.jsonl path or name: easy, medium, hard)", "hard")
        .option("strategies", "strategy ids, comma-separated",
                "self-consistency,beam-search,best-of-n")
        .option("budgets", "budgets: values of each strategy's sample-count parameter", "1,2,4,8")
        .multi("budget-param",
               "STRATEGY=PARAM: the parameter a budget sets (default: n, width, "
               "particles or iterations, whichever it has)")
        .multi("set", "parameter name=value for every strategy that has it (repeatable)")
        .option("limit", "the first N problems (0 = all)", "0")
        .option("seed", "random seed", "42")
        .option("threads", "compute threads (0 = all cores)", "0")
        .option("max-tokens", "budget per run: generated tokens (0 = none)", "0")
        .option("out", "directory for sweep.json, sweep.html and the SVG plots")
        .option("db", "store every run here, tagged sweep:<time>, strategy and budget")
        .flag("json", "print JSON");
    add_session_options(a, "f32");
    add_prompt_options(a);
    add_remote_options(a);
    if (!a.parse(argv)) return 0;
    const std::vector<std::string> strategies = a.get_list("strategies");
    std::vector<int> budgets = a.get_int_list("budgets", 1, 1 << 20);
    if (strategies.empty() || budgets.empty())
        throw UsageError{"sweep: give --strategies and --budgets"};
    std::sort(budgets.begin(), budgets.end());
    std::map<std::string, std::string> given;
    for (const std::string& kv : a.all("budget-param")) {
        const auto [k, v] = split_setting(kv);
        given[k] = v;
    }
    const std::string suite_path = app::resolve_suite_path(a.get("suite"));
    auto tasks = load_suite(suite_path, suite_options(a));
    const int limit = a.get_int("limit", 0, 1 << 30);
    if (limit > 0 && static_cast<size_t>(limit) < tasks.size())
        tasks.resize(static_cast<size_t>(limit));

    app::PluginManager pm;
    pm.scan();
    // Every (strategy, budget) checked before the model loads.
    app::SweepSettings settings;
    settings.suite = suite_path;
    settings.tasks = std::move(tasks);
    settings.strategies = strategies;
    settings.budgets = budgets;
    settings.budget_params = std::move(given);
    for (const std::string& s : a.all("set")) settings.sets.push_back(split_setting(s));
    settings.seed = static_cast<uint64_t>(a.get_int("seed", 0, 2147483647));
    settings.config.max_tokens = a.get_int("max-tokens", 0, 1 << 30);
    settings.prompt = prompt_options(a);
    app::SweepPlan plan;
    try {
        plan = app::plan_sweep(pm, std::move(settings));
    } catch (const app::SweepSetupError& e) {
        throw UsageError{e.what()};
    }
    SessionOptions so = app::search_session_options(a.get_threads());
    apply_session_options(a, so);
    Engine engine = open_engine(a, so);
    std::unique_ptr<RunStore> store;
    app::SweepOptions opt;
    if (a.has("db")) {
        store = RunStore::open(a.get("db"));
        opt.store = store.get();
    }

    const bool quiet = a.flag_set("json");
    if (!quiet) {
        std::printf("%-20s %6s %9s %9s %9s %9s %8s\n", "strategy", "budget", "accuracy", "coverage",
                    "tokens", "passes", "seconds");
        opt.on_point = [](const app::SweepPoint& c) {
            if (!c.complete()) return;
            std::printf("%-20s %6d %8.1f%% %8.1f%% %9.0f %9.0f %8.2f\n", c.strategy.c_str(),
                        c.budget, 100.0 * c.accuracy(), 100.0 * c.coverage(), c.mean_tokens(),
                        c.mean_passes(), c.mean_seconds());
            std::fflush(stdout);
        };
    }
    const app::SweepResult res = app::run_sweep(*engine.model, *engine.gen, pm, plan, opt);
    if (!res.error.empty()) throw Error(res.error);

    // JSON, coverage@k, plots.
    const nlohmann::json out = app::sweep_json(res);
    std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>> acc_tokens,
        cov_tokens, acc_seconds, cov_at_k;
    for (const std::string& id : strategies) {
        std::vector<std::pair<double, double>> at, ct, as, ck;
        for (const app::SweepPoint& c : res.points) {
            if (c.strategy != id) continue;
            at.emplace_back(c.mean_tokens(), c.accuracy());
            ct.emplace_back(c.mean_tokens(), c.coverage());
            as.emplace_back(c.mean_seconds(), c.accuracy());
        }
        for (const auto& [k, v] : res.coverage_at_k.at(id)) ck.emplace_back(k, v);
        acc_tokens.emplace_back(id, at);
        cov_tokens.emplace_back(id, ct);
        acc_seconds.emplace_back(id, as);
        cov_at_k.emplace_back(id, ck);
    }
    const std::string p1 =
        svg_chart("Accuracy against tokens", "mean tokens per problem", "accuracy", acc_tokens);
    const std::string p2 = svg_chart("Coverage against tokens", "mean tokens per problem",
                                     "coverage (a right answer in the tree)", cov_tokens);
    const std::string p3 =
        svg_chart("Accuracy against time", "mean seconds per problem", "accuracy", acc_seconds);
    const std::string p4 =
        svg_chart("Coverage@k (largest budget)", "k (traces)", "coverage@k", cov_at_k);
    if (a.has("out")) {
        const std::filesystem::path dir = a.get("out");
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        const auto write = [&](const std::string& name, const std::string& text) {
            std::ofstream f(dir / name);
            f << text;
            if (!f.flush()) throw Error("cannot write " + (dir / name).string());
        };
        write("accuracy_tokens.svg", p1);
        write("coverage_tokens.svg", p2);
        write("accuracy_seconds.svg", p3);
        write("coverage_at_k.svg", p4);
        write("sweep.json", out.dump(2));
        std::ostringstream h;
        h << "<!doctype html><meta charset=\"utf-8\"><title>Reasonscope sweep</title><style>"
             "body{font-family:sans-serif;margin:24px}td,th{padding:3px 10px;text-align:right}"
             "</style><h1>Sweep: "
          << text::html_escape(suite_path) << " (" << res.problems << " problems)</h1><p>"
          << text::html_escape(engine.gen->backend_name())
          << "</p><table><tr><th>strategy</th><th>budget</th>"
          << "<th>accuracy</th><th>coverage</th><th>tokens</th><th>passes</th><th>seconds</th>"
             "</tr>";
        for (const auto& c : out["cells"])
            h << "<tr><td>" << text::html_escape(c["strategy"].get<std::string>()) << "</td><td>"
              << c["budget"] << "</td><td>" << c["accuracy"].get<double>() * 100 << "%</td><td>"
              << c["coverage"].get<double>() * 100 << "%</td><td>"
              << static_cast<long>(c["mean_tokens"].get<double>()) << "</td><td>"
              << static_cast<long>(c["mean_forward_passes"].get<double>()) << "</td><td>"
              << c["mean_seconds"].get<double>() << "</td></tr>";
        h << "</table>" << p1 << p2 << p3 << p4;
        write("sweep.html", h.str());
        if (!quiet)
            std::printf("\nwrote %s/sweep.html, sweep.json and four SVG plots\n",
                        dir.string().c_str());
    }
    if (store && !quiet)
        std::printf("stored %d runs in %s, tagged %s\n", plan.total_runs(), store->path().c_str(),
                    res.tag.c_str());
    if (a.flag_set("json")) print_json(out);
    return 0;
}

}  // namespace rs::cli
