// The store commands of the real binary on hostile, broken and locked-down
// stores: output a terminal can show safely, JSON that is always valid,
// read-only stores that can still be read, files that are not ours, and
// Ctrl-C / SIGTERM cancelling a run cleanly.
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/counterfactual.h"
#include "reasonscope/error.h"
#include "reasonscope/run_store.h"
#include "sql_query.h"
#include "test_paths.h"

using namespace rs;

namespace {

struct Result {
    int code;
    QByteArray out, err;
};

// Runs the binary; as_reader: as a user without write access where this test
// runs as root (root ignores file modes), through setpriv.
Result run(const QStringList& args, bool as_reader = false) {
    QProcess p;
    if (as_reader && geteuid() == 0)
        p.start("setpriv", QStringList{"--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                       rs::test::binary("reasonscope")} +
                               args);
    else
        p.start(rs::test::binary("reasonscope"), args);
    p.waitForFinished(120000);
    return {p.exitCode(), p.readAllStandardOutput(), p.readAllStandardError()};
}

StoredRun make_run(const std::string& name, const std::string& trace) {
    StoredRun r;
    r.run.name = name;
    r.run.status = "ok";
    r.run.strategy = "best-of-n";
    r.run.params = "{}";
    r.run.prompt = "Q: 2+3";
    r.run.task_id = "t1";
    r.run.model_name = "model";
    r.run.answer = "5";
    r.tree.add(-1);
    r.tree.at(0).text = r.run.prompt;
    const int k = r.tree.add(0);
    r.tree.at(k).text = trace;
    r.tree.at(k).answer = "5";
    r.run.chosen_node = k;
    return r;
}

int64_t query_int(const QString& db, const std::string& sql) {
    return rs::test::query_int(db.toStdString(), sql);
}

bool has_control_bytes(const QByteArray& b) {
    for (int i = 0; i < b.size(); ++i) {
        const auto c = static_cast<unsigned char>(b[i]);
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) return true;
        if (c == 0xC2 && i + 1 < b.size() && static_cast<unsigned char>(b[i + 1]) >= 0x80 &&
            static_cast<unsigned char>(b[i + 1]) <= 0x9F)
            return true;  // C1 (e.g. U+009B, a one-byte CSI)
    }
    return false;
}

bool parses_as_json(const QByteArray& b) {
    return nlohmann::json::accept(b.toStdString());  // strict: rejects invalid UTF-8
}

const char* kHostile =
    "\x1b]0;pwned\x07\x1b[2J\x1b[31mred \xC2\x9B"
    "1m\xE2\x80\xAE";

}  // namespace

class TestCliStore : public QObject {
    Q_OBJECT
  private slots:
    // Escape sequences in names, task ids, answers and model text never
    // reach the terminal: runs, show and compare print them escaped.
    void humanOutputCarriesNoEscapeSequences() {
        QTemporaryDir dir;
        const QString db = dir.filePath("runs.sqlite");
        {
            auto st = RunStore::open(db.toStdString());
            StoredRun a = make_run(kHostile, std::string("trace ") + kHostile);
            a.run.task_id = kHostile;
            a.run.answer = kHostile;
            a.run.model_name = kHostile;
            a.run.tags = {kHostile};
            st->import_run(a);
            st->import_run(make_run("plain", "trace"));
        }
        for (const QStringList& args :
             {QStringList{"runs", "--db", db}, QStringList{"show", "1", "--db", db},
              QStringList{"compare", "1", "2", "--db", db}}) {
            const Result r = run(args);
            QVERIFY2(r.code == 0, r.err.constData());
            QVERIFY2(!has_control_bytes(r.out), qPrintable(args.join(' ') + ": " + r.out));
            QVERIFY2(r.out.contains("\\x1b"), qPrintable(args.join(' ') + ": " + r.out));
        }
        const Result list = run({"runs", "--db", db});
        QVERIFY(list.out.contains("\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred \\u009b1m\\u202e"));
        // One line per run: a newline in a name does not break the table.
        {
            auto st = RunStore::open(db.toStdString());
            st->rename(2, "two\nlines");
        }
        QCOMPARE(run({"runs", "--db", db}).out.count('\n'), 3);
        // Errors quoting stored text are one printable line too.
        const Result bad = run({"show", "99", "--db", db + "\x1b[2J"});
        QCOMPARE(bad.code, 2);
        QVERIFY(!has_control_bytes(bad.err));
    }

    // Invalid UTF-8 in one run's name, answer or model name: runs --json
    // still prints every run as valid JSON; compare --json of traces that
    // diverge inside a multibyte character too.
    void jsonOutputIsAlwaysValid() {
        QTemporaryDir dir;
        const QString db = dir.filePath("runs.sqlite");
        {
            auto st = RunStore::open(db.toStdString());
            st->import_run(make_run("good", "x"));
            StoredRun bad = make_run("bad \xFF\xFE name", "x = caf\xC3\xA9");
            bad.run.answer = "\xC3";
            bad.run.model_name = "m\xE2\x82";
            st->import_run(bad);
            st->import_run(make_run("other", "x = caf\xC3\xA8"));
        }
        Result r = run({"runs", "--db", db, "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(parses_as_json(r.out), r.out.constData());
        const auto list = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(list.size(), size_t(3));
        QCOMPARE(list[1]["name"].get<std::string>(),
                 std::string("bad \xEF\xBF\xBD\xEF\xBF\xBD name"));
        r = run({"compare", "2", "3", "--db", db, "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(parses_as_json(r.out), r.out.constData());
        const auto c = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(c["divergence"]["a_continues"].get<std::string>(), std::string("\xC3\xA9"));
        r = run({"compare", "2", "3", "--db", db});
        QVERIFY2(r.code == 0, r.err.constData());
        for (const char* fmt : {"html", "md", "json"}) {
            const QString out = dir.filePath(QString("run.") + fmt);
            r = run({"export", "2", "--db", db, "-o", out});
            QVERIFY2(r.code == 0, r.err.constData());
            QFile f(out);
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QByteArray bytes = f.readAll();
            QVERIFY2(QString::fromUtf8(bytes).toUtf8() == bytes, fmt);  // valid UTF-8
        }
    }

    // A store the user cannot write (file mode 0444; then a directory
    // without write permission, where not even the -shm file can be made):
    // runs, show, export and compare work; changing it is a clear error.
    void readOnlyStoreCanBeRead() {
        QTemporaryDir dir;
        QVERIFY(::chmod(dir.path().toUtf8().constData(), 0755) == 0);
        const QString store_dir = dir.filePath("store"), out_dir = dir.filePath("out");
        QVERIFY(QDir().mkpath(store_dir) && QDir().mkpath(out_dir));
        QVERIFY(::chmod(out_dir.toUtf8().constData(), 0777) == 0);
        const QString db = store_dir + "/runs.sqlite";
        {
            auto st = RunStore::open(db.toStdString());
            st->import_run(make_run("first", "a"));
            st->import_run(make_run("second", "b"));
        }
        QVERIFY(::chmod(db.toUtf8().constData(), 0444) == 0);
        for (mode_t dir_mode : {mode_t(0777), mode_t(0555)}) {
            QVERIFY(::chmod(store_dir.toUtf8().constData(), dir_mode) == 0);
            const QString tag = QString::number(dir_mode, 8);
            Result r = run({"runs", "--db", db, "--json"}, true);
            QVERIFY2(r.code == 0, qPrintable(tag + ": " + r.err));
            QCOMPARE(nlohmann::json::parse(r.out.toStdString()).size(), size_t(2));
            r = run({"show", "1", "--db", db}, true);
            QVERIFY2(r.code == 0 && r.out.contains("first"), qPrintable(tag + ": " + r.err));
            const QString md = out_dir + "/run" + tag + ".md";
            r = run({"export", "2", "--db", db, "-o", md}, true);
            QVERIFY2(r.code == 0 && QFile::exists(md), qPrintable(tag + ": " + r.err));
            r = run({"compare", "1", "2", "--db", db, "--json"}, true);
            QVERIFY2(r.code == 0 && parses_as_json(r.out), qPrintable(tag + ": " + r.err));
            r = run({"show", "1", "--db", db, "--rename", "x"}, true);
            QCOMPARE(r.code, 2);
            QVERIFY2(r.err.contains("runs.sqlite") && r.err.contains("readonly"),
                     r.err.constData());
        }
        QVERIFY(::chmod(store_dir.toUtf8().constData(), 0755) == 0);
    }

    // `runs --db` on an SQLite file of someone else's: a clear error, and
    // the file is left without our tables.
    void unrelatedDatabaseIsAClearError() {
        QTemporaryDir dir;
        const QString db = dir.filePath("app.db");
        sqlite3* c = nullptr;
        QCOMPARE(sqlite3_open(db.toUtf8().constData(), &c), SQLITE_OK);
        QCOMPARE(sqlite3_exec(c, "CREATE TABLE users (id INTEGER, name TEXT)", nullptr, nullptr,
                              nullptr),
                 SQLITE_OK);
        sqlite3_close(c);
        for (const QStringList& args :
             {QStringList{"runs", "--db", db}, QStringList{"import", "x.json", "--db", db}}) {
            const Result r = run(args);
            QCOMPARE(r.code, 2);
            QVERIFY2(
                r.err.contains(db.toUtf8() + " is a SQLite database but not a Reasonscope store") ||
                    args[0] == "import",
                r.err.constData());
        }
        QCOMPARE(query_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name <> 'users'"),
                 int64_t(0));
    }

    // Ctrl-C, then SIGTERM, during `reasonscope run` on the bundled model:
    // the run is stored "cancelled" with every row it produced (runs.tokens
    // equals the token rows), and the command exits 130 / 143.
    void signalsCancelARunCleanly_data() {
        QTest::addColumn<int>("sig");
        QTest::newRow("SIGINT") << int(SIGINT);
        QTest::newRow("SIGTERM") << int(SIGTERM);
    }
    void signalsCancelARunCleanly() {
        QFETCH(int, sig);
        const QString model = QStringLiteral(RS_SOURCE_DIR) + "/resources/models/reasoner.gguf";
        if (!QFileInfo::exists(model)) QSKIP("the bundled model is missing");
        QTemporaryDir dir;
        const QString db = dir.filePath("runs.sqlite");
        QProcess p;
        p.start(rs::test::binary("reasonscope"),
                {"run", "--model", model, "--task", "hard:hard-000", "--strategy",
                 "self-consistency", "--set", "n=64", "--db", db, "--threads", "1"});
        QVERIFY(p.waitForStarted());
        // Wait until the run is storing tokens, then signal.
        QElapsedTimer t;
        t.start();
        while (query_int(db, "SELECT COUNT(*) FROM tokens") <= 0 && t.elapsed() < 60000 &&
               p.state() == QProcess::Running)
            QTest::qWait(20);
        QVERIFY2(p.state() == QProcess::Running, "the run ended before it could be signalled");
        QVERIFY(::kill(static_cast<pid_t>(p.processId()), sig) == 0);
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 128 + sig);
        const QByteArray err = p.readAllStandardError();
        QVERIFY2(err.contains("cancelled"), err.constData());
        QCOMPARE(query_int(db, "SELECT COUNT(*) FROM runs WHERE status = 'cancelled'"), int64_t(1));
        const int64_t tokens = query_int(db, "SELECT tokens FROM runs");
        QVERIFY(tokens > 0);
        QCOMPARE(query_int(db, "SELECT COUNT(*) FROM tokens"), tokens);
        QCOMPARE(query_int(db,
                           "SELECT COUNT(*) FROM runs WHERE finished_at IS NULL OR "
                           "finished_at = '' OR pid IS NOT NULL"),
                 int64_t(0));
    }

    // `reasonscope branch`: a counterfactual of a stored run's token, on the
    // run's own model, stored linked to it (schema 8); grafted onto the
    // parent's tree it is a sibling of the departure node sharing the tokens
    // before the departure, with the forced token marked; a bad departure is
    // one clear error naming the alternatives, and nothing is stored.
    void branchIsStoredLinkedAndGrafts() {
        const QString model = QStringLiteral(RS_SOURCE_DIR) + "/resources/models/reasoner.gguf";
        if (!QFileInfo::exists(model)) QSKIP("the bundled model is missing");
        QTemporaryDir dir;
        const QString db = dir.filePath("runs.sqlite");
        auto r = run({"run", "--model", model, "--task", "hard:hard-003", "--strategy",
                      "beam-search", "--db", db, "--threads", "1"});
        QVERIFY2(r.code == 0, r.err.constData());
        StoredRun parent = RunStore::open(db.toStdString())->load(1);
        // The chosen trace's second step, its second token, and an alternative.
        const std::vector<int> path = parent.tree.path(parent.run.chosen_node);
        QVERIFY(path.size() >= 3);
        const int node = path[2];
        const TokenRecord& tok = parent.tree.at(node).tokens.at(1);
        int alt = -1;
        float alt_logprob = 0;
        std::string alt_piece;
        for (size_t k = 0; k < tok.top.size() && alt < 0; ++k)
            if (tok.top[k].first != tok.id) {
                alt = tok.top[k].first;
                alt_logprob = tok.top[k].second;
                alt_piece = tok.top_pieces.at(k);
            }
        QVERIFY(alt >= 0);
        const QStringList base = {"branch",  "--run", "1",    "--node", QString::number(node),
                                  "--token", "1",     "--db", db,       "--threads",
                                  "1"};

        // No --with: one line naming the alternatives; a token that is not
        // one; a node the run lacks. Nothing stored.
        r = run(base);
        QCOMPARE(r.code, 2);
        QCOMPARE(r.err.count('\n'), 1);
        QVERIFY2(r.err.contains("choose the token") && r.err.contains(QByteArray::number(alt)),
                 r.err.constData());
        r = run(base + QStringList{"--with", QString::number(tok.id)});
        QVERIFY2(r.code == 2 && r.err.contains("not a recorded alternative"), r.err.constData());
        r = run({"branch", "--run", "1", "--node", "9999", "--with", "1", "--db", db});
        QVERIFY2(r.code == 2 && r.err.contains("no node 9999"), r.err.constData());
        QCOMPARE(RunStore::open(db.toStdString())->list().size(), size_t(1));

        r = run(base + QStringList{"--with", QString::number(alt), "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const auto j = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(j["forced_piece"].get<std::string>(), alt_piece);
        QCOMPARE(j["sampling"].get<std::string>(), std::string("greedy"));
        auto store = RunStore::open(db.toStdString());
        const StoredRun branch = store->load(j["run_id"].get<int64_t>());
        QCOMPARE(branch.run.parent_run, int64_t(1));
        QCOMPARE(branch.run.parent_node, node);
        QCOMPARE(branch.run.parent_token, 1);
        QCOMPARE(branch.run.forced_token, alt);
        QCOMPARE(branch.run.strategy, std::string("chain-of-thought"));
        QCOMPARE(branch.run.model_hash, parent.run.model_hash);
        // Its prompt is the parent's trace up to the departure, then the alternative.
        std::string prefix;
        for (size_t k = 1; k < path.size() && path[k] != node; ++k)
            prefix += parent.tree.at(path[k]).text;
        prefix += parent.tree.at(node).tokens[0].piece;
        QCOMPARE(branch.run.prompt, parent.run.prompt + prefix + alt_piece);
        // Every branch node has its wall time.
        for (const Node& n : branch.tree.nodes()) QVERIFY(n.ended_at >= n.started_at);

        const app::GraftedRun g = app::graft_counterfactual(parent, branch);
        QCOMPARE(g.run.tree.size(), parent.tree.size() + branch.tree.size() - 1);
        QCOMPARE(g.run.run.id, parent.run.id);
        const Node& first = g.run.tree.at(g.first);
        QCOMPARE(first.parent, parent.tree.at(node).parent);  // a sibling of the departure node
        QCOMPARE(first.tokens.at(0).id, parent.tree.at(node).tokens[0].id);
        QCOMPARE(first.tokens.at(1).id, alt);
        QVERIFY(first.tokens[1].forced && !first.tokens[0].forced);
        QCOMPARE(first.tokens[1].logprob, alt_logprob);  // the replaced position's distribution
        QCOMPARE(first.tokens[1].entropy, tok.entropy);
        QCOMPARE(first.text, parent.tree.at(node).tokens[0].piece + alt_piece +
                                 branch.tree.at(branch.tree.at(0).children.at(0)).text);
        QCOMPARE(first.scores.at(app::kCounterfactualRunScore), double(branch.run.id));
        // The branch's chosen trace ends at its answer.
        QCOMPARE(g.run.tree.at(g.chosen).answer, branch.run.answer);
        // The parent's own nodes are untouched.
        for (int k = 0; k < parent.tree.size(); ++k)
            QCOMPARE(g.run.tree.at(k).text, parent.tree.at(k).text);
        // A run that is not its branch is refused.
        StoredRun other = parent;
        other.run.id = 99;
        QVERIFY_THROWS_EXCEPTION(Error, app::graft_counterfactual(other, branch));

        // Sampling as the run did: chain of thought gets the run's
        // temperature (beam search's) and seed.
        r = run(base + QStringList{"--with", QString::number(alt), "--sample-like-run", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const StoredRun sampled =
            store->load(nlohmann::json::parse(r.out.toStdString())["run_id"].get<int64_t>());
        const auto pp = nlohmann::json::parse(parent.run.params);
        QCOMPARE(nlohmann::json::parse(sampled.run.params)["temperature"].get<double>(),
                 pp["temperature"].get<double>());
        QCOMPARE(sampled.run.seed, parent.run.seed);
    }
};

QTEST_GUILESS_MAIN(TestCliStore)
#include "tst_cli_store.moc"
