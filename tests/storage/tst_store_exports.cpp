// Exports of stored runs whose text is hostile or broken: Markdown that
// stays Markdown (no HTML, no broken fences or tables), CSV without formula
// injection, HTML and JSON that are valid UTF-8, comparisons that cut on
// character boundaries. Runs go through a real store (import, load) first.
#include <QTemporaryDir>
#include <QtTest>
#include <map>
#include <string>

#include "reasonscope/error.h"
#include "reasonscope/run_export.h"
#include "reasonscope/run_store.h"
#include "reasonscope/text_safety.h"

using namespace rs;

namespace {

// A run with the given fields and a chosen trace (one step) of `trace`.
StoredRun make_run(const std::string& name, const std::string& trace) {
    StoredRun r;
    r.run.name = name;
    r.run.status = "ok";
    r.run.strategy = "best-of-n";
    r.run.params = R"({"n":2})";
    r.run.prompt = "Q: 2+3";
    r.run.model_name = "model";
    r.tree.add(-1);
    r.tree.at(0).text = r.run.prompt;
    const int k = r.tree.add(0);
    Node& n = r.tree.at(k);
    n.text = trace;
    n.answer = "5";
    n.status = NodeStatus::Terminal;
    TokenRecord t;
    t.id = 7;
    t.piece = trace;
    t.logprob = -0.5f;
    t.entropy = 1.0f;
    t.varentropy = 0.25f;
    t.top = {{7, -0.5f}, {8, -1.5f}};
    t.top_pieces = {trace, "=SUM(A1:A9)"};
    n.tokens.push_back(t);
    r.run.chosen_node = k;
    return r;
}

// The run as a store gives it back.
StoredRun stored(const StoredRun& r) {
    static QTemporaryDir dir;
    static auto st = RunStore::open(dir.filePath("exports.sqlite").toStdString());
    return st->load(st->import_run(r));
}

// The lines of s that start with `prefix`.
std::vector<std::string> lines_starting(const std::string& s, const std::string& prefix) {
    std::vector<std::string> out;
    size_t b = 0;
    while (b < s.size()) {
        size_t e = s.find('\n', b);
        if (e == std::string::npos) e = s.size();
        if (s.compare(b, prefix.size(), prefix) == 0) out.push_back(s.substr(b, e - b));
        b = e + 1;
    }
    return out;
}

// Unescaped | in a Markdown table row (cell separators).
int pipes(const std::string& row) {
    int n = 0;
    for (size_t i = 0; i < row.size(); ++i) n += row[i] == '|' && (i == 0 || row[i - 1] != '\\');
    return n;
}

}  // namespace

class TestStoreExports : public QObject {
    Q_OBJECT
  private slots:
    void utf8Helpers() {
        QVERIFY(text::is_valid_utf8("h\xC3\xA9llo \xF0\x9F\x98\x80"));
        for (const char* bad :
             {"\xC3", "\xA9", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF", "a\xE2\x82"})
            QVERIFY2(!text::is_valid_utf8(bad), bad);
        QCOMPARE(text::valid_utf8("a\xFF"
                                  "b"),
                 std::string("a\xEF\xBF\xBD"
                             "b"));
        QCOMPARE(text::valid_utf8("a\xE2\x82"), std::string("a\xEF\xBF\xBD"));  // truncated: one
        const std::string e = "x\xC3\xA9y";                                     // xéy
        QCOMPARE(text::utf8_floor(e, 2), size_t(1));
        QCOMPARE(text::utf8_floor(e, 3), size_t(3));
        QCOMPARE(text::utf8_floor(e, 99), e.size());
        QCOMPARE(text::printable("a\x1b[31mb\tc\nd"), std::string("a\\x1b[31mb\\x09c\\x0ad"));
        QCOMPARE(text::printable("a\tb\nc", true), std::string("a\tb\nc"));
        QCOMPARE(text::printable("\xC2\x9B"
                                 "2J \xE2\x80\xAE"),
                 std::string("\\u009b2J \\u202e"));
    }

    // <script>, <img onerror> and | in a run's name, model name, task id and
    // answers; a prompt holding a code fence.
    void markdownEscapesEverything() {
        StoredRun r = make_run("<script>alert(1)</script> | x", "step ```\n``` <b>bold</b>\n");
        r.run.model_name = "<img src=x onerror=alert(1)>";
        r.run.task_id = "t|1";
        r.run.answer = "a|b<i>";
        r.run.correct = 0;
        r.run.expected = "**6**";
        r.run.prompt = "Q: 2+3\n```\n# not a heading\n<script>x</script>\n````";
        r.tree.at(0).text = r.run.prompt;
        r.tree.at(1).answer = "5 | [link](javascript:alert(1))";
        const std::string md = run_to_markdown(stored(r));
        // Raw HTML only inside the prompt's code block (where it is text).
        QVERIFY2(md.find("<script>") == md.find("<script>x</script>"), md.c_str());
        QVERIFY(md.find("<img") == std::string::npos);
        QVERIFY(md.find("[link](") == std::string::npos);
        QVERIFY(md.find("\\[link\\](javascript") != std::string::npos);
        QVERIFY(md.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
        QVERIFY(md.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
        // Every table row still has its three separators.
        for (const std::string& row : lines_starting(md, "| "))
            QVERIFY2(pipes(row) == 3, row.c_str());
        QVERIFY(!lines_starting(md, "| answer | a\\|b&lt;i&gt; (wrong, expected \\*\\*6\\*\\*)")
                     .empty());
        // The prompt's fence is longer than its longest backtick run (4), and
        // the prompt comes back verbatim between the fences.
        const std::string fence = "`````\n";
        const size_t open = md.find("## Prompt\n\n" + fence);
        QVERIFY2(open != std::string::npos, md.c_str());
        const size_t body = open + std::string("## Prompt\n\n").size() + fence.size();
        const size_t close = md.find("\n" + fence, body);
        QVERIFY(close != std::string::npos);
        QCOMPARE(md.substr(body, close - body), r.run.prompt);
        QVERIFY(lines_starting(md, "# not a heading").size() == 1);  // inside the fence only
        // The chosen trace's fence beats its ``` too.
        QVERIFY(md.find("## Chosen trace\n\n````\nstep ```\n``` <b>bold</b>\n````\n") !=
                std::string::npos);
    }

    // A thinking model's run: the thinking apart from the answer, the
    // rendered chat prompt and the prompt settings.
    void markdownSeparatesThinking() {
        StoredRun r = make_run("think", "");
        Node& n = r.tree.at(1);
        n.text.clear();
        const auto add = [&](const std::string& piece, bool thinking, bool forced) {
            TokenRecord t;
            t.piece = piece;
            t.thinking = thinking;
            t.forced = forced;
            n.tokens.push_back(t);
            n.text += piece;
        };
        add("<think>", true, false);
        add("2+3 is 5", true, false);
        add("</think>", true, true);
        add("Answer: 5", false, false);
        r.run.prompt_rendered = "<|im_start|>user\nQ: 2+3<|im_end|>\n<|im_start|>assistant\n";
        r.run.prompt_settings = R"({"chat":true})";
        r.run.server = R"({"kind":"vllm","url":"http://gpu:8000"})";
        const std::string md = run_to_markdown(stored(r));
        QVERIFY2(md.find("## Chosen trace: thinking (3 tokens, 1 put there by the thinking "
                         "budget)\n\n```\n<think>2+3 is 5</think>\n```\n") != std::string::npos,
                 md.c_str());
        QVERIFY(md.find("## Chosen trace: answer\n\n```\nAnswer: 5\n```\n") != std::string::npos);
        QVERIFY(md.find("## Prompt as rendered by the chat template\n\n```\n<|im_start|>user") !=
                std::string::npos);
        QVERIFY(!lines_starting(md, "| prompt settings | ").empty());
        QVERIFY(!lines_starting(md, "| server | ").empty());
        for (const std::string& row : lines_starting(md, "| "))
            QVERIFY2(pipes(row) == 3, row.c_str());
    }

    void markdownAndHtmlOfInvalidUtf8AreValid() {
        StoredRun r = make_run("name \xFF\xFE", "trace \xC3");
        r.run.model_name = "m\xE2\x82";
        r.run.answer = "\xC0\xAF";
        r.run.prompt = "\xED\xA0\x80 prompt";
        r.tree.at(0).text = r.run.prompt;
        const StoredRun s = stored(r);
        const std::string md = run_to_markdown(s), html = run_to_html(s);
        QVERIFY(text::is_valid_utf8(md));
        QVERIFY(text::is_valid_utf8(html));
        QVERIFY(html.find("name \xEF\xBF\xBD\xEF\xBF\xBD") != std::string::npos);
        // The JSON export (what `export --format json` writes) is valid too.
        const std::string j =
            run_to_json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        QVERIFY(text::is_valid_utf8(j));
        QCOMPARE(nlohmann::json::parse(j)["run"]["name"].get<std::string>(),
                 std::string("name \xEF\xBF\xBD\xEF\xBF\xBD"));
    }

    void markdownAndHtmlCarryNoControlCharacters() {
        StoredRun r = make_run("\x1b]0;pwned\x07\x1b[2J", "trace\x1b[31m red\n");
        const StoredRun s = stored(r);
        const std::string md = run_to_markdown(s);
        QVERIFY(md.find('\x1b') == std::string::npos);
        QVERIFY(md.find('\x07') == std::string::npos);
        QVERIFY2(md.find("\\x1b\\]0;pwned\\x07\\x1b\\[2J") != std::string::npos, md.c_str());
        QVERIFY(md.find("trace\\x1b[31m red\n") != std::string::npos);  // in the fence, \n kept
    }

    // Text cells starting = + - @ tab CR get a leading quote; numbers (also
    // in text columns, e.g. an answer "-3.5") are untouched.
    void csvNeutralisesFormulas() {
        StoredRun r = make_run("n", "=HYPERLINK(\"http://x\")");
        Node& n = r.tree.at(1);
        n.answer = "-3.5";
        const int k2 = r.tree.add(0);
        r.tree.at(k2).text = "@SUM(1+1)";
        r.tree.at(k2).answer = "+cmd|' /C calc'!A0";
        const int k3 = r.tree.add(0);
        r.tree.at(k3).text = "\t=1+2";
        r.tree.at(k3).answer = "-2e5";
        const StoredRun s = stored(r);
        const std::string nodes = run_nodes_csv(s), tokens = run_tokens_csv(s);
        QVERIFY2(nodes.find(",\"'=HYPERLINK(\"\"http://x\"\")\"\n") != std::string::npos,
                 nodes.c_str());
        QVERIFY(nodes.find(",\"-3.5\",") != std::string::npos);
        QVERIFY(nodes.find(",\"-2e5\",") != std::string::npos);
        QVERIFY(nodes.find(",\"'@SUM(1+1)\"\n") != std::string::npos);
        QVERIFY(nodes.find(",\"'+cmd|' /C calc'!A0\",") != std::string::npos);
        QVERIFY(nodes.find(",\"'\t=1+2\"\n") != std::string::npos);
        QVERIFY(tokens.find(",\"'=HYPERLINK(") != std::string::npos);
        // The numeric columns stay numbers: logprob -0.5 and top "7:-0.5000;...".
        QVERIFY2(
            tokens.find(
                "1,0,7,\"'=HYPERLINK(\"\"http://x\"\")\",-0.5,1,0.25,\"7:-0.5000;8:-1.5000\"") !=
                std::string::npos,
            tokens.c_str());
        // No field outside quotes starts with a formula character.
        for (const std::string& csv : {nodes, tokens}) {
            bool quoted = false;
            for (size_t i = 0; i < csv.size(); ++i) {
                const bool start = !quoted && (i == 0 || csv[i - 1] == ',' || csv[i - 1] == '\n');
                if (start && i + 1 < csv.size() && csv[i] == '"')
                    QVERIFY2(std::string("=+@\t\r").find(csv[i + 1]) == std::string::npos,
                             csv.substr(i, 20).c_str());
                if (csv[i] == '"') quoted = !quoted;
            }
        }
    }

    // Two traces that diverge inside a multibyte character (é = C3 A9 and
    // è = C3 A8 share their first byte): the comparison cuts before the
    // character, and its JSON dumps (it used to throw: invalid UTF-8).
    void compareCutsOnCharacterBoundaries() {
        const StoredRun a = stored(make_run("a", "x = caf\xC3\xA9 " + std::string(100, 'z')));
        const StoredRun b = stored(make_run("b", "x = caf\xC3\xA8"));
        const nlohmann::json c = compare_runs(a, b);
        QCOMPARE(c["divergence"]["shared_prefix_chars"].get<size_t>(), size_t(7));
        QCOMPARE(c["divergence"]["a_continues"].get<std::string>().substr(0, 3),
                 std::string("\xC3\xA9 "));
        QCOMPARE(c["divergence"]["b_continues"].get<std::string>(), std::string("\xC3\xA8"));
        const std::string dumped = c.dump();  // strict: throws on invalid UTF-8
        QVERIFY(text::is_valid_utf8(dumped));
        // The excerpt (80 bytes at most) ends on a character boundary too.
        const StoredRun d = stored(make_run("d", std::string(79, 'q') + "\xE2\x82\xAC"));
        const StoredRun e = stored(make_run("e", "w"));
        const nlohmann::json c2 = compare_runs(d, e);
        QCOMPARE(c2["divergence"]["a_continues"].get<std::string>(), std::string(79, 'q'));
        QVERIFY(text::is_valid_utf8(compare_to_text(c2)));
        // Names with invalid UTF-8 and escape sequences: the text form is
        // printable, and the JSON with the replace handler is valid.
        StoredRun fr = make_run("bad \xFF\x1b[2J", "x");
        fr.run.model_name = "m\xFF\x1b[2J";
        fr.run.answer = "\x1b]0;t\x07";
        const StoredRun f = stored(fr);
        const nlohmann::json c3 = compare_runs(f, f);
        const std::string t = compare_to_text(c3);
        QVERIFY(text::is_valid_utf8(t));
        QVERIFY(t.find('\x1b') == std::string::npos);
    }

    // A reasoning model's run (issue #16): the HTML report wraps the thinking
    // span of the trace in a styled element with a legend, marks the tokens
    // the thinking budget forced, rings the thinking node in the tree, and
    // shows the prompt as the chat template rendered it. A run without
    // thinking has none of it.
    void htmlReportMarksThinking() {
        StoredRun r = make_run("think", "x");
        r.run.prompt_rendered = "<|im_start|>user\nQ: 2+3<|im_end|>\n<|im_start|>assistant\n";
        r.run.prompt_settings = R"({"chat":true})";
        Node& n = r.tree.at(r.run.chosen_node);
        n.tokens.clear();
        const auto tok = [](const std::string& piece, bool thinking, bool forced) {
            TokenRecord t;
            t.piece = piece;
            t.entropy = 0.5f;
            t.thinking = thinking;
            t.forced = forced;
            return t;
        };
        n.tokens = {tok("<think>", true, false), tok("add", true, false), tok("Wait", true, true),
                    tok("</think>", true, false), tok("5", false, false)};
        n.text = "<think>addWait</think>5";
        const std::string html = run_to_html(stored(r));
        QVERIFY2(html.find("<span class=\"think\" title=\"thinking\"><span class=\"tok\"") !=
                     std::string::npos,
                 html.c_str());
        QVERIFY(html.find("class=\"legend\"") != std::string::npos);
        QVERIFY(html.find("<span class=\"tok forced\"") != std::string::npos);
        QVERIFY(html.find("forced by the thinking budget") != std::string::npos);
        QVERIFY(html.find("class=\"think-ring\"") != std::string::npos);  // partly: a half ring
        // The span closes before the answer, which is not thinking.
        const size_t close = html.find("&lt;/think&gt;</span></span>");
        QVERIFY(close != std::string::npos);
        QVERIFY(html.find(">5</span>", close) != std::string::npos);
        QVERIFY(html.find("Prompt as rendered by the chat template") != std::string::npos);
        QVERIFY(html.find("&lt;|im_start|&gt;user") != std::string::npos);

        const std::string plain = run_to_html(stored(make_run("plain", "x")));
        QVERIFY(plain.find("class=\"think") == std::string::npos);
        QVERIFY(plain.find("class=\"legend\"") == std::string::npos);
        QVERIFY(plain.find("Prompt as rendered") == std::string::npos);
    }

    // Two byte-identical chosen traces (issue #20): the comparison says they
    // are identical, with no divergence step and no empty a:/b: lines.
    void compareIdenticalTracesSaysIdentical() {
        const StoredRun a = stored(make_run("a", "step 1\nstep 2\nstep 3\nanswer 42\n"));
        const StoredRun b = stored(make_run("b", "step 1\nstep 2\nstep 3\nanswer 42\n"));
        const nlohmann::json c = compare_runs(a, b);
        QCOMPARE(c["divergence"]["identical"].get<bool>(), true);
        QVERIFY(c["divergence"]["diverge_at_step"].is_null());
        const std::string t = compare_to_text(c);
        QVERIFY2(t.find("chosen traces are identical") != std::string::npos, t.c_str());
        QVERIFY2(t.find("diverge") == std::string::npos, t.c_str());
        QVERIFY2(t.find("  a: ") == std::string::npos, t.c_str());
        // Different traces still name the step where they part.
        const StoredRun d = stored(make_run("d", "step 1\nstep 2\nstep X\n"));
        const std::string t2 = compare_to_text(compare_runs(a, d));
        QVERIFY2(t2.find("diverge at step 2") != std::string::npos, t2.c_str());
        QVERIFY2(t2.find("  a: 3") != std::string::npos, t2.c_str());
    }

    // Token by token, as the app's compare view aligns them: the index of
    // the first token that differs and both tokens; a trace that ended
    // there reads "(ends)"; identical traces name none.
    void compareNamesTheFirstDifferingToken() {
        const auto run = [](const std::string& name, const std::vector<std::string>& pieces) {
            static const std::map<std::string, TokenId> ids = {
                {"2", 1}, {" +", 2}, {" 3", 3}, {" =", 4}, {" 5", 5}, {" 6", 6}, {".", 7}};
            StoredRun r = make_run(name, "");
            Node& n = r.tree.at(1);
            n.tokens.clear();
            for (const std::string& p : pieces) {
                TokenRecord t;
                t.id = ids.at(p);
                t.piece = p;
                n.tokens.push_back(t);
                n.text += p;
            }
            return stored(r);
        };
        const StoredRun a = run("a", {"2", " +", " 3", " =", " 5", "."});
        const StoredRun b = run("b", {"2", " +", " 3", " =", " 6", "."});
        const StoredRun c = run("c", {"2", " +", " 3", " ="});
        const nlohmann::json ab = compare_runs(a, b)["divergence"];
        QCOMPARE(ab["diverge_at_token"].get<size_t>(), size_t(4));
        QCOMPARE(ab["shared_prefix_tokens"].get<size_t>(), size_t(4));
        QCOMPARE(ab["a_token"].get<std::string>(), std::string(" 5"));
        QCOMPARE(ab["b_token"].get<std::string>(), std::string(" 6"));
        QCOMPARE(ab["aligned_tokens"].get<size_t>(), size_t(5));  // the "." after
        const std::string t = compare_to_text(compare_runs(a, b));
        QVERIFY2(t.find("first differing token: 4, a \" 5\", b \" 6\"\n") != std::string::npos,
                 t.c_str());
        const nlohmann::json ac = compare_runs(a, c)["divergence"];
        QVERIFY(ac["b_token"].is_null());
        const std::string t2 = compare_to_text(compare_runs(a, c));
        QVERIFY2(t2.find("first differing token: 4, a \" 5\", b (ends)") != std::string::npos,
                 t2.c_str());
        const nlohmann::json aa = compare_runs(a, run("a2", {"2", " +", " 3", " =", " 5", "."}));
        QVERIFY(aa["divergence"]["diverge_at_token"].is_null());
        QVERIFY(compare_to_text(aa).find("first differing") == std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestStoreExports)
#include "tst_store_exports.moc"
