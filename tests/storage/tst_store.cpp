// The run store: migrations, round trips, exports, bad and locked files,
// and the crash test (SIGKILL a storing run at random moments).
#include <sqlite3.h>

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <random>

#include "reasonscope/error.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_export.h"
#include "reasonscope/run_store.h"
#include "reasonscope/search.h"
#include "test_paths.h"

using namespace rs;

namespace {

// A small real run on the reference model, recorded into `st`.
int64_t record_run(RunStore& st, const std::string& prompt, int children = 3) {
    auto model = Model::load(rs::test::reference("models/stories260K.gguf").toStdString());
    LocalGenerator s(*model, {});
    RunRow row;
    row.strategy = "test";
    row.prompt = prompt;
    row.params = R"({"n":3})";
    int64_t id = st.begin_run(row);
    auto rec = st.recorder(id);
    RunConfig cfg;
    cfg.max_step_tokens = 10;
    SearchContext ctx(s, Task{"t", prompt, "", ""}, cfg, {rec.get()});
    auto kids = ctx.expand(ctx.root(), children);
    auto scorer = make_scorer("logprob");
    for (int k : kids) ctx.score(k, *scorer);
    ctx.prune(kids[0]);
    ctx.choose_answer("", kids.back());
    ctx.finish("ok");
    rec->flush();
    return id;
}

}  // namespace

class TestStore : public QObject {
    Q_OBJECT
  private slots:
    void migratesFromEmpty() {
        QTemporaryDir d;
        auto st = RunStore::open(d.filePath("a.sqlite").toStdString());
        QCOMPARE(st->schema_version(), RunStore::latest_schema_version());
        QVERIFY(st->integrity_ok());
        st.reset();
        // Reopening an up-to-date store applies nothing and keeps the data.
        auto again = RunStore::open(d.filePath("a.sqlite").toStdString());
        QCOMPARE(again->schema_version(), RunStore::latest_schema_version());
    }

    // A version-1 store (made with the first migration alone, as an older
    // build left it) is upgraded in place: its runs stay, the new column is
    // empty for them and filled for new runs.
    void upgradesVersionOneStore() {
        QTemporaryDir d;
        const std::string p = d.filePath("v1.sqlite").toStdString();
        QFile sql(RS_SOURCE_DIR "/storage/schema/0001_initial.sql");
        QVERIFY(sql.open(QIODevice::ReadOnly));
        sqlite3* db;
        QCOMPARE(sqlite3_open(p.c_str(), &db), SQLITE_OK);
        QCOMPARE(sqlite3_exec(db, sql.readAll().constData(), nullptr, nullptr, nullptr), SQLITE_OK);
        QCOMPARE(sqlite3_exec(db,
                              "PRAGMA user_version = 1; INSERT INTO runs (created_at, status, "
                              "backend, strategy, params, prompt) VALUES ('2026-11-01T00:00:00Z', "
                              "'ok', 'cpu (avx2)', 'best-of-n', '{}', 'Q: 1+1')",
                              nullptr, nullptr, nullptr),
                 SQLITE_OK);
        sqlite3_close(db);
        auto store = RunStore::open(p);
        QCOMPARE(store->schema_version(), RunStore::latest_schema_version());
        QVERIFY(RunStore::latest_schema_version() >= 2);
        auto runs = store->list();
        QCOMPARE(runs.size(), size_t(1));
        QCOMPARE(runs[0].backend, std::string("cpu (avx2)"));
        QCOMPARE(runs[0].backend_reason, std::string());
        RunRow r;
        r.status = "ok";
        r.strategy = "best-of-n";
        r.params = "{}";
        r.prompt = "Q: 2+2";
        r.backend = "cpu (avx512)";
        r.backend_reason = "asked for cpu";
        const int64_t id = store->begin_run(r);
        QCOMPARE(store->load(id).run.backend_reason, std::string("asked for cpu"));
    }

    void newerSchemaIsRefused() {
        QTemporaryDir d;
        std::string p = d.filePath("n.sqlite").toStdString();
        RunStore::open(p).reset();
        sqlite3* db;
        sqlite3_open(p.c_str(), &db);
        sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr);
        sqlite3_close(db);
        try {
            RunStore::open(p);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("newer"));
        }
    }

    void notADatabase() {
        QTemporaryDir d;
        QFile f(d.filePath("junk.sqlite"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray(4096, 'x'));
        f.close();
        try {
            RunStore::open(f.fileName().toStdString());
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("junk.sqlite") && QString(e.what()).contains("not"),
                     e.what());
        }
    }

    void lockedDatabaseIsAClearError() {
        QTemporaryDir d;
        std::string p = d.filePath("l.sqlite").toStdString();
        auto st = RunStore::open(p);
        sqlite3* other;
        sqlite3_open(p.c_str(), &other);
        QCOMPARE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
        RunRow row;
        row.strategy = "x";
        row.prompt = "p";
        try {
            st->begin_run(row);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("locked"), e.what());
        }
        sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close(other);
        QVERIFY(st->begin_run(row) > 0);  // usable again, nothing lost
    }

    void recordLoadExportImport() {
        RS_REQUIRE_REFERENCE();
        QTemporaryDir d;
        auto st = RunStore::open(d.filePath("r.sqlite").toStdString());
        int64_t id = record_run(*st, "Once upon a time <script>alert(1)</script>");
        StoredRun r = st->load(id);
        QCOMPARE(r.run.status, std::string("ok"));
        QCOMPARE(r.tree.size(), 4);
        QCOMPARE(r.tree.at(1).status, NodeStatus::Pruned);
        QVERIFY(!r.tree.at(3).tokens.empty());
        QVERIFY(r.tree.at(3).scores.count("logprob"));
        QVERIFY(!r.tree.at(3).tokens[0].top_pieces.empty());
        QCOMPARE(r.run.chosen_node, 3);
        // JSON round trip.
        int64_t id2 = st->import_run(run_from_json(run_to_json(r)));
        StoredRun r2 = st->load(id2);
        QCOMPARE(run_to_json(r2)["nodes"], run_to_json(r)["nodes"]);
        // HTML escapes model and prompt text.
        std::string html = run_to_html(r);
        QVERIFY(html.find("<script>") == std::string::npos);
        QVERIFY(html.find("&lt;script&gt;") != std::string::npos);
        QVERIFY(html.find("<svg") != std::string::npos);
        QVERIFY(run_tokens_csv(r).find("node_id,idx,token_id") == 0);
        auto cmp = compare_runs(r, r2);
        QCOMPARE(cmp["a"]["nodes"], cmp["b"]["nodes"]);
        QCOMPARE(cmp["divergence"]["same_prompt"].get<bool>(), true);
        // Tags, rename, filter, delete.
        st->add_tag(id, "keep");
        st->rename(id, "first");
        RunFilter f;
        f.tag = "keep";
        QCOMPARE(st->list(f).size(), size_t(1));
        st->remove(id2);
        QCOMPARE(st->list().size(), size_t(1));
    }

    // SIGKILL a run that is storing, 20 times at random moments: the file
    // stays intact, the killed run is marked incomplete, earlier runs keep
    // every row.
    void crashTest() {
        RS_REQUIRE_REFERENCE();
        QTemporaryDir d;
        const QString db = d.filePath("crash.sqlite");
        {
            auto st = RunStore::open(db.toStdString());
            record_run(*st, "Once upon a time");
        }
        auto count_rows = [&](int64_t id) {
            sqlite3* c;
            sqlite3_open(db.toUtf8().constData(), &c);
            sqlite3_stmt* s;
            sqlite3_prepare_v2(c,
                               "SELECT (SELECT COUNT(*) FROM tokens WHERE run_id=?1) + (SELECT "
                               "COUNT(*) FROM nodes WHERE run_id=?1)",
                               -1, &s, nullptr);
            sqlite3_bind_int64(s, 1, id);
            sqlite3_step(s);
            int64_t n = sqlite3_column_int64(s, 0);
            sqlite3_finalize(s);
            sqlite3_close(c);
            return n;
        };
        const int64_t first_rows = count_rows(1);
        QVERIFY(first_rows > 10);
        std::mt19937 rng(1234);
        int killed_mid_run = 0;
        for (int i = 0; i < 20; ++i) {
            QProcess p;
            p.start(rs::test::binary("reasonscope"),
                    {"run", "--model", rs::test::reference("models/stories260K.gguf"), "--prompt",
                     "Once upon a time", "--strategy", "self-consistency", "--set", "n=32", "--set",
                     "max_depth=12", "--db", db, "--threads", "1", "--seed", QString::number(i)});
            QVERIFY(p.waitForStarted());
            QTest::qWait(static_cast<int>(150 + rng() % 700));
            bool was_running = p.state() == QProcess::Running;
            p.kill();  // SIGKILL
            p.waitForFinished();
            auto st = RunStore::open(db.toStdString());  // marks dead runs incomplete
            QVERIFY(st->integrity_ok());
            QCOMPARE(count_rows(1), first_rows);
            auto runs = st->list();
            QVERIFY(!runs.empty());
            const RunRow& last = runs.front();
            if (was_running && last.status != "ok") {
                QCOMPARE(last.status, std::string("incomplete"));
                ++killed_mid_run;
            }
            StoredRun r = st->load(last.id);  // what was flushed loads cleanly
            QVERIFY(r.tree.size() >= 0);
        }
        QVERIFY(killed_mid_run >= 10);
    }
};

QTEST_GUILESS_MAIN(TestStore)
#include "tst_store.moc"
