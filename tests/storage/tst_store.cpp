// The run store: migrations, round trips, exports, bad and locked files,
// the crash test (SIGKILL a storing run at random moments), and no silent
// loss: a writer that meets a lock waits it out or marks the run incomplete,
// a full disk marks it incomplete, non-finite numbers are stored.
#include <pthread.h>
#include <sqlite3.h>

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <thread>

#include "reasonscope/error.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_export.h"
#include "reasonscope/run_store.h"
#include "reasonscope/search.h"
#include "sql_query.h"
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

// One number from SQL on a connection of our own.
using rs::test::query_int;

int64_t stored_tokens(const std::string& db, int64_t run) {
    return query_int(db, "SELECT COUNT(*) FROM tokens WHERE run_id = " + std::to_string(run));
}

// Synthetic events through a real recorder: `nodes` steps of `per` tokens
// (one event each, alternatives included), a score per step. Returns the
// tokens produced.
int64_t feed(RunRecorder& rec, int first, int nodes, int per, std::chrono::milliseconds gap = {}) {
    int64_t n = 0;
    for (int k = first; k < first + nodes; ++k) {
        rec.on_event(NodeAdded{k, 0, ""});
        for (int i = 0; i < per; ++i) {
            TokenRecord t;
            t.id = (k * 31 + i) % 200;
            t.piece = "ab";
            t.logprob = -0.5f;
            t.entropy = 1.25f;
            t.varentropy = 0.5f;
            t.top = {{1, -0.5f}, {2, -1.5f}, {3, -2.5f}};
            t.top_pieces = {"a", "b", "c"};
            rec.on_event(TokensAppended{k, {t}});
            ++n;
        }
        rec.on_event(NodeScored{k, "prm", 0.25 * k});
        if (gap.count() > 0) std::this_thread::sleep_for(gap);
    }
    return n;
}

RunRow test_row() {
    RunRow row;
    row.strategy = "test";
    row.prompt = "p";
    return row;
}

RunFinished finished(int64_t tokens, int nodes) {
    RunFinished f;
    f.status = "ok";
    f.metrics.tokens_generated = tokens;
    f.metrics.nodes = nodes;
    return f;
}

RunRow final_row(int64_t tokens, int nodes) {
    RunRow r;
    r.status = "ok";
    r.tokens = tokens;
    r.node_count = nodes;
    return r;
}

// Another connection holding the write lock (a SQL tool's BEGIN EXCLUSIVE).
struct LockHolder {
    sqlite3* db = nullptr;
    explicit LockHolder(const std::string& path) {
        sqlite3_open(path.c_str(), &db);
        if (sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) != SQLITE_OK)
            qFatal("cannot take the lock: %s", sqlite3_errmsg(db));
    }
    void release() {
        if (!db) return;
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close(db);
        db = nullptr;
    }
    ~LockHolder() { release(); }
};

bool wait_until(const std::function<bool()>& f, int ms) {
    for (int t = 0; t < ms; t += 10) {
        if (f()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return f();
}

// A full disk without a mount: every connection opened while it is set gets
// PRAGMA max_page_count (an SQLite auto-extension, process-wide), so writes
// needing a new page fail with SQLITE_FULL.
std::atomic<int> g_max_pages{0};
int limit_pages(sqlite3* db, char**, const sqlite3_api_routines*) {
    const std::string sql = "PRAGMA max_page_count = " + std::to_string(g_max_pages.load());
    sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    return SQLITE_OK;
}
// Runs f on a thread with a 256 KiB stack (the main thread's 8 MiB would
// hide a recursion hundreds of thousands deep).
void on_small_stack(const std::function<void()>& f) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    pthread_t th;
    auto body = [](void* p) -> void* {
        (*static_cast<const std::function<void()>*>(p))();
        return nullptr;
    };
    QCOMPARE(pthread_create(&th, &attr, body, const_cast<std::function<void()>*>(&f)), 0);
    pthread_join(th, nullptr);
    pthread_attr_destroy(&attr);
}

// void (*)(void) is the type sqlite3_auto_extension() takes (and matches any).
void (*const kLimitPages)(void) = reinterpret_cast<void (*)(void)>(limit_pages);

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

    // A version-2 store with rows (as the previous build left it) is upgraded
    // to version 3: the rebuilt tokens, scores and nodes tables keep every
    // row and value, and take NaN afterwards.
    void upgradesVersionTwoStoreKeepingRows() {
        QTemporaryDir d;
        const std::string p = d.filePath("v2.sqlite").toStdString();
        sqlite3* db;
        QCOMPARE(sqlite3_open(p.c_str(), &db), SQLITE_OK);
        for (const char* f : {"0001_initial.sql", "0002_backend_reason.sql"}) {
            QFile sql(QString(RS_SOURCE_DIR "/storage/schema/") + f);
            QVERIFY(sql.open(QIODevice::ReadOnly));
            QCOMPARE(sqlite3_exec(db, sql.readAll().constData(), nullptr, nullptr, nullptr),
                     SQLITE_OK);
        }
        QCOMPARE(sqlite3_exec(db,
                              "PRAGMA user_version = 2; INSERT INTO runs (id, created_at, status, "
                              "strategy, params, prompt, tokens) VALUES (1, "
                              "'2026-11-01T00:00:00Z', 'ok', 'best-of-n', '{}', 'Q: 1+1', 2);"
                              "INSERT INTO nodes (run_id, node_id, parent_id, depth, status, "
                              "text, visits, value_sum) VALUES (1, 0, NULL, 0, 'expanded', "
                              "'Q: 1+1', 3, 1.5), (1, 1, 0, 1, 'terminal', 'ab', 2, 0.75);"
                              "INSERT INTO tokens (run_id, node_id, idx, token_id, piece, "
                              "logprob, entropy, varentropy, top, top_pieces) VALUES "
                              "(1, 1, 0, 7, 'a', -0.25, 1.5, 0.125, NULL, '[]'), "
                              "(1, 1, 1, 8, 'b', -0.5, 2.5, 0.25, NULL, '[]');"
                              "INSERT INTO scores VALUES (1, 1, 'prm', 0.875);",
                              nullptr, nullptr, nullptr),
                 SQLITE_OK);
        sqlite3_close(db);
        auto store = RunStore::open(p);
        QCOMPARE(store->schema_version(), RunStore::latest_schema_version());
        QVERIFY(RunStore::latest_schema_version() >= 3);
        QVERIFY(store->integrity_ok());
        StoredRun r = store->load(1);
        QCOMPARE(r.run.status, std::string("ok"));
        QCOMPARE(r.run.status_reason, std::string());
        QCOMPARE(r.tree.size(), 2);
        QCOMPARE(r.tree.at(0).visits, 3);
        QCOMPARE(r.tree.at(0).value_sum, 1.5);
        QCOMPARE(r.tree.at(1).value_sum, 0.75);
        QCOMPARE(r.tree.at(1).tokens.size(), size_t(2));
        QCOMPARE(r.tree.at(1).tokens[1].logprob, -0.5f);
        QCOMPARE(r.tree.at(1).tokens[1].entropy, 2.5f);
        QCOMPARE(r.tree.at(1).tokens[0].varentropy, 0.125f);
        QCOMPARE(r.tree.at(1).scores.at("prm"), 0.875);
        // Columns added since (version 8) read as not known.
        QVERIFY(std::isnan(r.tree.at(1).started_at) && std::isnan(r.tree.at(1).ended_at));
        QCOMPARE(r.run.parent_run, int64_t(0));
        QVERIFY(!run_to_json(r)["run"].contains("counterfactual_of"));
        // The foreign keys still hold: deleting the run deletes its rows.
        store->remove(1);
        QCOMPARE(query_int(p, "SELECT COUNT(*) FROM tokens"), int64_t(0));
        QCOMPARE(query_int(p, "SELECT COUNT(*) FROM nodes"), int64_t(0));
        QCOMPARE(query_int(p, "SELECT COUNT(*) FROM scores"), int64_t(0));
    }

    // NaN and infinite token signals, alternatives, scores and value_sum
    // (a model with NaN metadata, a scorer returning NaN) are all stored:
    // NaN as NULL, loaded back as NaN; +-inf as themselves. (Before version
    // 3 a NaN failed its batch's NOT NULL constraint: 0 tokens stored.)
    void nonFiniteValuesAreStored() {
        QTemporaryDir d;
        const std::string p = d.filePath("nan.sqlite").toStdString();
        auto st = RunStore::open(p);
        const int64_t id = st->begin_run(test_row());
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        const int n_tokens = 300;
        {
            auto rec = st->recorder(id);
            rec->on_event(NodeAdded{0, -1, "p"});
            rec->on_event(NodeAdded{1, 0, ""});
            for (int i = 0; i < n_tokens; ++i) {
                TokenRecord t;
                t.id = i;
                t.piece = "x";
                t.logprob = i % 3 == 0 ? nan : -1.0f;
                t.entropy = i % 3 == 1 ? inf : 2.0f;
                t.varentropy = i % 3 == 2 ? -inf : nan;
                t.top = {{5, nan}, {6, -inf}};
                t.top_pieces = {"a", "b"};
                rec->on_event(TokensAppended{1, {t}});
            }
            rec->on_event(NodeScored{1, "prm", std::nan("")});
            rec->on_event(NodeScored{1, "self-eval", HUGE_VAL});
            rec->on_event(NodeStats{1, 2, std::nan("")});
            rec->on_event(NodeStats{0, 2, -HUGE_VAL});
            rec->on_event(finished(n_tokens, 2));
            QVERIFY(rec->flush());
            QVERIFY(rec->lost().empty());
        }
        const RunRow fin = st->finish_run(id, final_row(n_tokens, 2));
        QCOMPARE(fin.status, std::string("ok"));
        QCOMPARE(stored_tokens(p, id), int64_t(n_tokens));
        StoredRun r = st->load(id);
        const Node& n = r.tree.at(1);
        QCOMPARE(n.tokens.size(), size_t(n_tokens));
        for (int i = 0; i < n_tokens; ++i) {
            const TokenRecord& t = n.tokens[static_cast<size_t>(i)];
            QCOMPARE(t.id, i);
            QVERIFY(i % 3 == 0 ? std::isnan(t.logprob) : t.logprob == -1.0f);
            QVERIFY(i % 3 == 1 ? t.entropy == inf : t.entropy == 2.0f);
            QVERIFY(i % 3 == 2 ? t.varentropy == -inf : std::isnan(t.varentropy));
            QCOMPARE(t.top.size(), size_t(2));
            QVERIFY(std::isnan(t.top[0].second));
            QCOMPARE(t.top[1].second, -inf);
        }
        QVERIFY(std::isnan(n.scores.at("prm")));
        QCOMPARE(n.scores.at("self-eval"), HUGE_VAL);
        QVERIFY(std::isnan(n.value_sum));
        QCOMPARE(r.tree.at(0).value_sum, -HUGE_VAL);
        // JSON has no NaN or infinity: they are written as null and read
        // back as NaN, so an export with them still imports.
        StoredRun back = run_from_json(nlohmann::json::parse(run_to_json(r).dump()));
        QVERIFY(std::isnan(back.tree.at(1).tokens[0].logprob));
        QVERIFY(std::isnan(back.tree.at(1).scores.at("prm")));
        QVERIFY(std::isnan(back.tree.at(1).value_sum));
        QCOMPARE(back.tree.at(1).tokens[2].entropy, 2.0f);
        const int64_t id2 = st->import_run(back);
        QCOMPARE(stored_tokens(p, id2), int64_t(n_tokens));
    }

    // Another connection holds the write lock for 4 s (longer than SQLite's
    // busy timeout of 3 s, which used to drop the batch) while the run goes
    // on: the writer shows it is waiting, waits, and then writes every row;
    // the run is ok.
    void writerWaitsOutALock() {
        QTemporaryDir d;
        const std::string p = d.filePath("lock.sqlite").toStdString();
        auto st = RunStore::open(p);
        std::atomic<int> waits{0}, resumes{0};
        WriteOptions w;
        w.max_wait = std::chrono::seconds(60);
        w.first_sleep = std::chrono::milliseconds(5);
        w.max_sleep = std::chrono::milliseconds(200);
        w.on_status = [&](int64_t, const RecorderStatus& s) { ++(s.waiting ? waits : resumes); };
        st->set_write_options(w);
        const int64_t id = st->begin_run(test_row());
        auto rec = st->recorder(id);
        rec->on_event(NodeAdded{0, -1, "p"});
        int64_t produced = feed(*rec, 1, 2, 40);
        QVERIFY(rec->flush());
        {
            LockHolder lock(p);
            produced += feed(*rec, 3, 20, 50, std::chrono::milliseconds(20));
            QVERIFY2(wait_until([&] { return rec->waiting(); }, 3000), "the writer never waited");
            QVERIFY(rec->status().last_error.find("locked") != std::string::npos);
            std::this_thread::sleep_for(std::chrono::milliseconds(4000) -
                                        std::chrono::milliseconds(20 * 20));
            produced += feed(*rec, 23, 5, 50);
        }  // released
        rec->on_event(finished(produced, 28));
        QVERIFY(rec->flush());
        QVERIFY(!rec->waiting());
        QCOMPARE(rec->lost(), std::string());
        QVERIFY(waits.load() >= 1);
        QVERIFY(resumes.load() >= 1);
        const RunRow fin = st->finish_run(id, final_row(produced, 28));
        QCOMPARE(fin.status, std::string("ok"));
        QCOMPARE(fin.status_reason, std::string());
        QCOMPARE(stored_tokens(p, id), produced);
        QCOMPARE(fin.tokens, produced);
        QCOMPARE(query_int(p, "SELECT COUNT(*) FROM nodes WHERE run_id = 1"), int64_t(28));
        QCOMPARE(query_int(p, "SELECT COUNT(*) FROM scores WHERE run_id = 1"), int64_t(27));
    }

    // The lock is held past the writer's bound (short here; two minutes by
    // default): the rows waiting are given up, the run says so (incomplete,
    // with the reason stored), and rows it can write again afterwards are
    // written.
    void lockPastTheBoundMakesTheRunIncomplete() {
        QTemporaryDir d;
        const std::string p = d.filePath("lock2.sqlite").toStdString();
        auto st = RunStore::open(p);
        WriteOptions w;
        w.max_wait = std::chrono::milliseconds(300);
        w.first_sleep = std::chrono::milliseconds(5);
        w.max_sleep = std::chrono::milliseconds(50);
        st->set_write_options(w);
        const int64_t id = st->begin_run(test_row());
        auto rec = st->recorder(id);
        rec->on_event(NodeAdded{0, -1, "p"});
        int64_t before = feed(*rec, 1, 2, 40);
        QVERIFY(rec->flush());
        int64_t during = 0;
        {
            LockHolder lock(p);
            during = feed(*rec, 3, 4, 50);
            QVERIFY(!rec->flush());  // returns once the rows are given up
            QVERIFY2(rec->lost().find("locked") != std::string::npos, rec->lost().c_str());
            // Tokens, scores, and the 4 steps' node rows (not written yet).
            QCOMPARE(rec->status().rows_lost, during + 4 + 4);
        }
        const int64_t after = feed(*rec, 7, 3, 50);
        rec->on_event(finished(before + during + after, 10));
        QVERIFY(!rec->flush());                         // still false: something was lost
        QCOMPARE(rec->status().rows_lost, during + 4);  // the node rows are written now
        QCOMPARE(stored_tokens(p, id), before + after);
        // The reason is in the row already, before the run is finished.
        QVERIFY(!st->get(id)->status_reason.empty());
        const RunRow fin = st->finish_run(id, final_row(before + during + after, 10));
        QCOMPARE(fin.status, std::string("incomplete"));
        QVERIFY2(fin.status_reason.find("locked") != std::string::npos, fin.status_reason.c_str());
        QVERIFY2(fin.status_reason.find(std::to_string(during) + " tokens") != std::string::npos,
                 fin.status_reason.c_str());
        QCOMPARE(st->get(id)->status, std::string("incomplete"));
        QCOMPARE(st->list(RunFilter{"", "", "", "incomplete", 0}).size(), size_t(1));
        QCOMPARE(st->load(id).tree.size(), 10);  // node rows are rewritten: the tree is whole
    }

    // Only node rows (status changes) meet the lock past the bound: they are
    // rewritten whole by the next commit, so nothing is missing in the end.
    void nodeRowsGivenUpAreRewritten() {
        QTemporaryDir d;
        const std::string p = d.filePath("nodes.sqlite").toStdString();
        auto st = RunStore::open(p);
        WriteOptions w;
        w.max_wait = std::chrono::milliseconds(200);
        w.first_sleep = std::chrono::milliseconds(5);
        st->set_write_options(w);
        const int64_t id = st->begin_run(test_row());
        auto rec = st->recorder(id);
        rec->on_event(NodeAdded{0, -1, "p"});
        const int64_t produced = feed(*rec, 1, 3, 10);
        QVERIFY(rec->flush());
        {
            LockHolder lock(p);
            rec->on_event(NodeStatusChanged{2, NodeStatus::Pruned});
            QVERIFY(!rec->flush());
            QCOMPARE(rec->status().rows_lost, int64_t(1));
        }
        rec->on_event(finished(produced, 4));
        QVERIFY(rec->flush());
        QCOMPARE(rec->lost(), std::string());
        const RunRow fin = st->finish_run(id, final_row(produced, 4));
        QCOMPARE(fin.status, std::string("ok"));
        QCOMPARE(fin.status_reason, std::string());
        QCOMPARE(st->load(id).tree.at(2).status, NodeStatus::Pruned);
    }

    // The disk fills up (SQLite's max_page_count, no mount needed) under a
    // run that has just started: nothing more can be written, and the run
    // says it is incomplete with the reason instead of "ok".
    void fullDiskMakesTheRunIncomplete() {
        QTemporaryDir d;
        const std::string p = d.filePath("full.sqlite").toStdString();
        auto st = RunStore::open(p);
        const int64_t id = st->begin_run(test_row());
        g_max_pages = static_cast<int>(query_int(p, "PRAGMA page_count"));
        QVERIFY(g_max_pages > 0);
        QCOMPARE(sqlite3_auto_extension(kLimitPages), SQLITE_OK);
        auto rec = st->recorder(id);  // its connection sees a full database
        sqlite3_cancel_auto_extension(kLimitPages);
        rec->on_event(NodeAdded{0, -1, "p"});
        const int64_t produced = feed(*rec, 1, 20, 100);
        rec->on_event(finished(produced, 21));
        QVERIFY(!rec->flush());
        QVERIFY2(rec->lost().find("full") != std::string::npos, rec->lost().c_str());
        QVERIFY(stored_tokens(p, id) < produced);
        const RunRow fin = st->finish_run(id, final_row(produced, 21));
        QCOMPARE(fin.status, std::string("incomplete"));
        QVERIFY2(fin.status_reason.find("full") != std::string::npos, fin.status_reason.c_str());
        QVERIFY(st->integrity_ok());
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

    // Locked past the bound (short here): starting a run is a clear error.
    void lockedDatabaseIsAClearError() {
        QTemporaryDir d;
        std::string p = d.filePath("l.sqlite").toStdString();
        auto st = RunStore::open(p);
        WriteOptions w;
        w.max_wait = std::chrono::milliseconds(200);
        st->set_write_options(w);
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

    // Starting and finishing a run wait out a lock held longer than SQLite's
    // busy timeout (3 s, after which both used to fail), saying so.
    void beginAndFinishWaitOutALock() {
        QTemporaryDir d;
        const std::string p = d.filePath("bf.sqlite").toStdString();
        auto st = RunStore::open(p);
        std::atomic<int> waits{0}, resumes{0};
        WriteOptions w;
        w.max_wait = std::chrono::seconds(60);
        w.on_status = [&](int64_t, const RecorderStatus& s) { ++(s.waiting ? waits : resumes); };
        st->set_write_options(w);
        // Holds the lock for `ms` from now, from another thread.
        struct Hold {
            std::thread t;
            Hold(const std::string& path, int ms) {
                auto lock = std::make_shared<LockHolder>(path);
                t = std::thread([lock, ms] {
                    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                    lock->release();
                });
            }
            ~Hold() { t.join(); }
        };
        int64_t id = 0;
        {
            Hold h(p, 3500);
            id = st->begin_run(test_row());
        }
        QVERIFY(id > 0);
        QCOMPARE(waits.load(), 1);
        QCOMPARE(resumes.load(), 1);
        RunRow fin;
        {
            Hold h(p, 3500);
            fin = st->finish_run(id, final_row(0, 1));
        }
        QCOMPARE(fin.status, std::string("ok"));
        QVERIFY(!fin.finished_at.empty());
        QCOMPARE(waits.load(), 2);
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

    // A counterfactual branch keeps its departure (schema 8) through the store
    // and names it in the JSON export; node wall times round-trip, NaN
    // (not known) as NULL / null.
    void counterfactualLineageAndNodeTimes() {
        QTemporaryDir d;
        const std::string p = d.filePath("r.sqlite").toStdString();
        auto st = RunStore::open(p);
        RunRow row;
        row.strategy = "chain-of-thought";
        row.prompt = "Q: 2+2";
        row.parent_run = 41;
        row.parent_node = 3;
        row.parent_token = 5;
        row.forced_token = 17;
        const int64_t id = st->begin_run(row);
        {
            auto rec = st->recorder(id);
            rec->on_event(NodeAdded{0, -1, "Q: 2+2", 0.0});
            rec->on_event(NodeAdded{1, 0, "", 0.25});
            TokenRecord t;
            t.id = 4;
            t.piece = "4";
            rec->on_event(TokensAppended{1, {t}, 0.75});
            rec->on_event(NodeAdded{2, 0, ""});  // no time: not known
            rec->flush();
        }
        RunRow fin;
        fin.status = "ok";
        st->finish_run(id, fin);
        StoredRun r = st->load(id);
        QCOMPARE(r.run.parent_run, int64_t(41));
        QCOMPARE(r.run.parent_node, 3);
        QCOMPARE(r.run.parent_token, 5);
        QCOMPARE(r.run.forced_token, 17);
        QCOMPARE(query_int(p, "SELECT COUNT(*) FROM runs WHERE parent_run = 41"), int64_t(1));
        QCOMPARE(r.tree.at(0).started_at, 0.0);
        QCOMPARE(r.tree.at(1).started_at, 0.25);
        QCOMPARE(r.tree.at(1).ended_at, 0.75);
        QCOMPARE(r.tree.at(1).wall_seconds(), 0.5);
        QVERIFY(std::isnan(r.tree.at(2).started_at) && std::isnan(r.tree.at(2).wall_seconds()));
        QCOMPARE(query_int(p, "SELECT COUNT(*) FROM nodes WHERE started_at IS NULL"), int64_t(1));
        const nlohmann::json j = nlohmann::json::parse(run_to_json(r).dump());
        QCOMPARE(j["run"]["counterfactual_of"]["run"].get<int64_t>(), int64_t(41));
        QCOMPARE(j["run"]["counterfactual_of"]["token"].get<int>(), 5);
        QCOMPARE(j["run"]["counterfactual_of"]["forced_token"].get<int>(), 17);
        QCOMPARE(j["nodes"][1]["ended_at"].get<double>(), 0.75);
        QVERIFY(j["nodes"][2]["started_at"].is_null());
        StoredRun back = run_from_json(nlohmann::json::parse(j.dump()));
        QCOMPARE(back.tree.at(1).started_at, 0.25);
        QVERIFY(std::isnan(back.tree.at(2).ended_at));
        // Ids of another store mean nothing here: an import is not a branch.
        QCOMPARE(st->load(st->import_run(back)).run.parent_run, int64_t(0));
    }

    // A stored or imported tree may be a chain of any depth, and its
    // parameters any JSON: every export, the comparison and the JSON round
    // trip walk it without recursion (here on a 256 KiB stack, where the
    // recursive HTML layout overflowed at a depth of 20,000), and nesting
    // past the JSON bound is a clear error.
    void deepTreesExportWithoutRecursion() {
        StoredRun r;
        r.run.strategy = "chain";
        r.run.prompt = "p";
        r.run.params = "{}";
        r.tree.add(-1);
        for (int i = 1; i < 20000; ++i) {
            const int id = r.tree.add(i - 1);
            r.tree.at(id).text = "x\n";
            TokenRecord t;
            t.piece = "x";
            r.tree.at(id).tokens.push_back(t);
        }
        r.tree.at(19999).answer = "7";
        std::string html, md, error;
        size_t imported = 0;
        nlohmann::json cmp;
        on_small_stack([&] {
            html = run_to_html(r);
            md = run_to_markdown(r);
            const StoredRun back = run_from_json(run_to_json(r));
            imported = static_cast<size_t>(back.tree.size());
            cmp = compare_runs(r, back);
            r.run.params = std::string(100000, '[') + std::string(100000, ']');
            try {
                run_to_json(r);
            } catch (const Error& e) {
                error = e.what();
            }
        });
        QVERIFY(html.find("<svg") != std::string::npos);
        QVERIFY(md.find("depth 19999") != std::string::npos);
        QCOMPARE(imported, size_t(20000));
        QCOMPARE(cmp["divergence"]["identical"].get<bool>(), true);
        QVERIFY2(error.find("JSON nested deeper than 512 levels") != std::string::npos,
                 error.c_str());
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
                QVERIFY2(last.status_reason.find("ended before finishing") != std::string::npos,
                         last.status_reason.c_str());
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
