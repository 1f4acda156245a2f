// Per-step signals (reasonscope/step_signals.h): self-certainty from the
// sampler's full distribution, DeepConf group confidence, token statistics
// and the latent change of step-end hidden states, on hand-computed
// distributions and trees; then a scripted run with scripted hidden states,
// stored and loaded back, in the HTML report, the JSON export and the node
// pane's table.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>

#include "reasonscope/run_export.h"
#include "reasonscope/run_store.h"
#include "reasonscope/sampling.h"
#include "reasonscope/step_signals.h"
#include "scripted_search.h"
#include "widgets/step_signals_html.h"

using namespace rs;

namespace {

bool near(double a, double b, double tol = 1e-5) {
    return std::abs(a - b) <= tol;
}

TokenRecord token(float lp, float h, float vh, std::vector<float> top, float sc) {
    TokenRecord t;
    t.logprob = lp;
    t.entropy = h;
    t.varentropy = vh;
    for (size_t i = 0; i < top.size(); ++i) t.top.push_back({static_cast<TokenId>(i), top[i]});
    t.self_certainty = sc;
    return t;
}

// Runs the root's one child to its end (a strategy object for the fixture).
class OneTrace final : public Strategy {
  public:
    void run(SearchContext& ctx, const Params&) override {
        auto leaves = ctx.complete(ctx.expand(ctx.root(), 1));
        if (!leaves.empty()) ctx.choose_answer(ctx.node(leaves[0]).answer, leaves[0]);
    }
};

}  // namespace

class TestStepSignals : public QObject {
    Q_OBJECT
  private slots:
    // KL(U || p) over a 4-token distribution: p = (1/2, 1/4, 1/8, 1/8):
    // -ln 4 - (1/4)(-ln2 - 2ln2 - 3ln2 - 3ln2) = (9/4 - 2) ln 2 = ln2 / 4.
    void selfCertaintyOfAKnownDistribution() {
        const float logits[4] = {std::log(0.5f), std::log(0.25f), std::log(0.125f),
                                 std::log(0.125f)};
        TokenSignals s;
        s.token = 0;
        distribution_signals(logits, 4, 1.0f, 2, s);
        QVERIFY2(near(s.self_certainty, std::log(2.0) / 4, 1e-6),
                 std::to_string(s.self_certainty).c_str());
        // The same entropy as before: sum p ln(1/p) = (1/2)ln2 + (1/4)2ln2 + 2(1/8)3ln2.
        QVERIFY(near(s.entropy, 1.75 * std::log(2.0), 1e-6));
        // Uniform: no divergence; temperature 2 flattens p = (1/2, 1/4, 1/8, 1/8) to
        // p_i ∝ sqrt(p_i): KL(U || p) = -ln4 - mean ln p_i by hand.
        const float flat[4] = {0.3f, 0.3f, 0.3f, 0.3f};
        distribution_signals(flat, 4, 1.0f, 0, s);
        QVERIFY(near(s.self_certainty, 0.0, 1e-7));
        distribution_signals(logits, 4, 2.0f, 0, s);
        const double q[4] = {std::sqrt(0.5), std::sqrt(0.25), std::sqrt(0.125), std::sqrt(0.125)};
        const double z = q[0] + q[1] + q[2] + q[3];
        double mean_lp = 0;
        for (double x : q) mean_lp += std::log(x / z) / 4;
        QVERIFY(near(s.self_certainty, -std::log(4.0) - mean_lp, 1e-6));
        // A server's token (no full distribution) has none: NaN, not 0.
        QVERIFY(std::isnan(TokenRecord{}.self_certainty));
    }

    // Token and group confidence (DeepConf) and the token statistics of a
    // hand-built step; latent change of scripted step states.
    void stepSignalsOfAHandBuiltTree() {
        ReasoningTree t;
        t.add(-1);
        const int a = t.add(0), b = t.add(a), c = t.add(b);
        // Token confidences: -(mean of top): 1.0, 3.0, 2.0.
        t.at(c).tokens = {token(-0.5f, 1, 0.5f, {-0.5f, -1.5f}, 0.2f),
                          token(-1.5f, 2, 0.5f, {-2.0f, -4.0f}, 0.4f),
                          token(-1.0f, 3, 2.0f, {-1.0f, -3.0f}, 0.6f)};
        const StepSignals s = step_signals(t, c, 2);
        QCOMPARE(s.tokens, 3);
        QVERIFY(near(s.mean_logprob, -1.0));
        QVERIFY(near(s.min_logprob, -1.5));
        QVERIFY(near(s.mean_entropy, 2.0));
        QVERIFY(near(s.mean_varentropy, 1.0));
        // Windows of 2: (1 + 3)/2 = 2, (3 + 2)/2 = 2.5: the lowest is 2.
        QVERIFY(near(s.group_confidence, 2.0));
        QVERIFY(near(step_signals(t, c, 3).group_confidence, 2.0));  // one window: the mean
        QVERIFY(near(step_signals(t, c, 1).group_confidence, 1.0));  // the lowest token
        QVERIFY(near(s.self_certainty, 0.4));
        // Top-1 confidence: 0.5, 2.0, 1.0; windows of 2: 1.25, 1.5.
        QVERIFY(near(step_signals(t, c, 2, 1).group_confidence, 1.25));
        // No taps: latent change absent, not zero.
        QVERIFY(std::isnan(s.latent_net) && std::isnan(s.latent_cumulative) &&
                std::isnan(s.latent_aligned));
        // One token without self-certainty makes the step's absent.
        t.at(c).tokens[1].self_certainty = std::nanf("");
        QVERIFY(std::isnan(step_signals(t, c).self_certainty));

        // Step-end states (0,0) -> (3,4) -> (3,0): net 3, cumulative 5 + 4,
        // aligned: cos((3,4), (3,0)) = 0.6 and cos((0,-4), (0,-4)) = 1.
        t.at(a).hidden = {0, 0};
        t.at(b).hidden = {3, 4};
        t.at(c).hidden = {3, 0};
        const StepSignals l = step_signals(t, c);
        QVERIFY(near(l.latent_net, 3.0));
        QVERIFY(near(l.latent_cumulative, 9.0));
        QVERIFY(near(l.latent_aligned, 0.8));
        const StepSignals l2 = step_signals(t, b);  // the trajectory so far
        QVERIFY(near(l2.latent_net, 5.0) && near(l2.latent_cumulative, 5.0) &&
                near(l2.latent_aligned, 1.0));
        QVERIFY(std::isnan(step_signals(t, a).latent_net));  // one state: no change yet
        t.at(c).hidden.clear();                              // its step was never tapped: absent
        QVERIFY(std::isnan(step_signals(t, c).latent_net));
        // The root (the prompt) has no token signals.
        QVERIFY(std::isnan(step_signals(t, 0).mean_logprob));
        QCOMPARE(step_signals(t, 0).tokens, 0);
        QVERIFY(std::isnan(step_signal_value(l, "no such signal")));
        QVERIFY(near(step_signal_value(l, "latent_aligned"), 0.8));
    }

    // A scripted run with taps: each tapped row's hidden state is (pos,
    // token, 0, ...). The trace is "1\n" then "</s>" (greedy); its steps end
    // with the rows (pos 2, "1") and (pos 3, "\n") evaluated, so the second
    // step's latent change is (3,7) - (2,4): net = cumulative = sqrt(10).
    void scriptedRunStoredReportedAndShown() {
        test::Fixture f;
        f.backend->tap_state = [](const BatchRow& r, int, float* out, int dim) {
            for (int i = 0; i < dim; ++i) out[i] = 0;
            out[0] = static_cast<float>(r.pos);
            out[1] = static_cast<float>(r.token);
        };
        Task task = test::q_task();
        task.answer_pattern = "(x)";  // no step states an answer: the trace runs to its end
        RunConfig cfg;
        cfg.sampling.temperature = 0;  // greedy: "1", "\n", "</s>"
        cfg.tap_layers = {-1};
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        RunRow row;
        row.strategy = "one-trace";
        row.task_id = "q";
        const int64_t id = store->begin_run(row);
        auto recorder = store->recorder(id);
        SearchContext ctx(*f.gen, task, cfg, {recorder.get()});
        OneTrace s;
        const RunOutcome out = run_strategy(s, ctx, Params::object());
        QVERIFY2(out.status == "ok", out.error.c_str());
        recorder->flush();
        const ReasoningTree& t = ctx.tree();
        QCOMPARE(t.size(), 3);
        QCOMPARE(t.at(1).text, std::string("1\n"));
        QVERIFY(t.at(2).ended);

        // Step 1: "1" after "q" (p = .5, .3, .2, five tokens at logit -30),
        // "\n" after "1" (p = 1, seven at -30); greedy signals are at T = 1.
        const double lz1 = std::log1p(5 * std::exp(-30.0)), lz2 = std::log1p(7 * std::exp(-30.0));
        const double sc1 =
            -std::log(8.0) - (std::log(0.5) + std::log(0.3) + std::log(0.2) - 150.0) / 8 + lz1;
        const double sc2 = -std::log(8.0) - (-210.0) / 8 + lz2;
        QVERIFY(near(t.at(1).tokens[0].self_certainty, sc1, 1e-4));
        QVERIFY(near(t.at(1).tokens[1].self_certainty, sc2, 1e-4));
        const StepSignals s1 = step_signals(t, 1);
        QVERIFY(near(s1.self_certainty, (sc1 + sc2) / 2, 1e-4));
        // Top-5 confidences: -(ln.5 + ln.3 + ln.2 - 60)/5 and 120/5; one window of both.
        const double c1 = -(std::log(0.5) + std::log(0.3) + std::log(0.2) - 60.0) / 5, c2 = 24.0;
        QVERIFY2(near(s1.group_confidence, (c1 + c2) / 2, 1e-3),
                 std::to_string(s1.group_confidence).c_str());
        QVERIFY(near(s1.mean_logprob, std::log(0.5) / 2, 1e-5));
        QVERIFY(near(s1.min_logprob, std::log(0.5), 1e-5));
        QVERIFY(std::isnan(s1.latent_net));  // the first step state: no change yet
        const StepSignals s2 = step_signals(t, 2);
        QVERIFY2(near(s2.latent_net, std::sqrt(10.0)), std::to_string(s2.latent_net).c_str());
        QVERIFY(near(s2.latent_cumulative, std::sqrt(10.0)));
        QVERIFY(near(s2.latent_aligned, 1.0));

        // Stored and loaded: the same signals (hidden states as float16:
        // 2, 3, 4, 7 are exact).
        const StoredRun stored = store->load(id);
        QCOMPARE(stored.tree.size(), 3);
        const StepSignals l1 = step_signals(stored.tree, 1), l2 = step_signals(stored.tree, 2);
        QCOMPARE(l1.self_certainty, s1.self_certainty);
        QCOMPARE(l1.group_confidence, s1.group_confidence);
        QCOMPARE(l2.latent_net, s2.latent_net);

        // The HTML report's step table and the JSON export carry them.
        const std::string html = run_to_html(stored);
        QVERIFY(html.find("<h2>Step signals</h2>") != std::string::npos);
        QVERIFY(html.find(">self_certainty</th>") != std::string::npos);
        char sc_text[32];
        std::snprintf(sc_text, sizeof sc_text, "<td>%.3f</td>", s1.self_certainty);
        QVERIFY2(html.find(sc_text) != std::string::npos, sc_text);
        char net_text[32];
        std::snprintf(net_text, sizeof net_text, "<td>%.3f</td>", std::sqrt(10.0));  // 3.162
        QVERIFY2(html.find(net_text) != std::string::npos, net_text);
        const nlohmann::json j = run_to_json(stored);
        QVERIFY(near(j["nodes"][2]["signals"]["latent_net"].get<double>(), std::sqrt(10.0)));
        QVERIFY(j["nodes"][1]["signals"]["latent_net"].is_null());  // absent: null
        QVERIFY(near(j["nodes"][1]["tokens"][0]["self_certainty"].get<double>(), sc1, 1e-4));
        const StoredRun back = run_from_json(j);
        QCOMPARE(back.tree.at(1).tokens[0].self_certainty, t.at(1).tokens[0].self_certainty);

        // The node pane's table: every signal, absent ones as a dash.
        const QString pane = views::step_signals_html(stored.tree, 2);
        QVERIFY2(
            pane.contains("latent net") && pane.contains(QString::number(std::sqrt(10.0), 'f', 3)),
            qPrintable(pane));
        QVERIFY(pane.contains("self certainty"));
        QVERIFY(views::step_signals_html(stored.tree, 1).contains("&ndash;"));  // no latent yet
        QVERIFY(views::step_signals_html(stored.tree, 0).isEmpty());            // the prompt
    }
};

QTEST_GUILESS_MAIN(TestStepSignals)
#include "tst_step_signals.moc"
