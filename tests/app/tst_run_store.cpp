// Stored runs equal what they produced, for every strategy plugin on the
// bundled model: runs.tokens (the search's count of generated tokens) equals
// the tokens table's rows of the run, end-of-sequence tokens included (each
// is the last token of its `ended` node, with an empty piece). And a run
// whose rows the store cannot write comes back from the run service as
// "incomplete" with the reason, as its stored row says.
#include <sqlite3.h>

#include <QTemporaryDir>
#include <QtTest>
#include <atomic>

#include "core/run_service.h"
#include "core/session_options.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"
#include "sql_query.h"

using namespace rs;

namespace {

const char* kModel = RS_SOURCE_DIR "/resources/models/reasoner.gguf";

using rs::test::query_int;

// A full disk for connections opened while it is set (SQLite's
// max_page_count through a process-wide auto-extension).
std::atomic<int> g_max_pages{0};
int limit_pages(sqlite3* db, char**, const sqlite3_api_routines*) {
    const std::string sql = "PRAGMA max_page_count = " + std::to_string(g_max_pages.load());
    sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    return SQLITE_OK;
}
void (*const kLimitPages)(void) = reinterpret_cast<void (*)(void)>(limit_pages);

}  // namespace

class TestRunStore : public QObject {
    Q_OBJECT
    std::unique_ptr<Model> model_;
    std::unique_ptr<LocalGenerator> gen_;
    app::PluginManager plugins_;

  private slots:
    void initTestCase() {
        if (!QFileInfo::exists(kModel)) QSKIP("the bundled model is missing");
        model_ = Model::load(kModel);
        gen_ = std::make_unique<LocalGenerator>(*model_, app::search_session_options(1));
        plugins_.scan();
    }

    void storedTokensEqualRunTokens_data() {
        QTest::addColumn<QString>("strategy");
        for (const char* s : {"chain-of-thought", "best-of-n", "self-consistency", "beam-search",
                              "mcts", "particle-filtering", "entropy-branching"})
            QTest::newRow(s) << s;
    }

    void storedTokensEqualRunTokens() {
        QFETCH(QString, strategy);
        QVERIFY2(plugins_.find(strategy.toStdString()), "strategy plugin not found");
        QTemporaryDir dir;
        const std::string db = dir.filePath("runs.sqlite").toStdString();
        auto store = RunStore::open(db);
        app::RunRequest req;
        // A prompt the bundled model often ends with end-of-sequence: every
        // strategy meets it within the budget.
        req.task = Task{"x", "x", "", ""};
        req.strategy = strategy.toStdString();
        req.config.max_tokens = 1500;
        app::RunOptions opt;
        opt.store = store.get();
        const app::RunResult res = app::run_and_record(*model_, *gen_, plugins_, req, opt);
        QVERIFY2(res.outcome.status == "ok" || res.outcome.status == "budget",
                 res.outcome.error.c_str());
        const std::string id = std::to_string(res.run_id);
        const int64_t rows = query_int(db, "SELECT COUNT(*) FROM tokens WHERE run_id = " + id);
        const int64_t counted = query_int(db, "SELECT tokens FROM runs WHERE id = " + id);
        QCOMPARE(counted, res.outcome.metrics.tokens_generated);
        QCOMPARE(rows, counted);
        // End-of-sequence was met (so the comparison covers it) and stored.
        const StoredRun r = store->load(res.run_id);
        int ended = 0;
        for (const Node& n : r.tree.nodes()) {
            if (!n.ended) continue;
            ++ended;
            QVERIFY(!n.tokens.empty());
            QVERIFY(gen_->tokenizer().is_eog(n.tokens.back().id));
            QCOMPARE(n.tokens.back().piece, std::string());
        }
        QVERIFY2(ended > 0, "no node reached end-of-sequence");
    }

    // The store's disk is full once the run has begun: the run service
    // reports the run incomplete with the reason (so `reasonscope run` exits
    // non-zero and the app shows it), and so does the stored row.
    void fullDiskRunIsIncomplete() {
        QTemporaryDir dir;
        const std::string db = dir.filePath("runs.sqlite").toStdString();
        auto store = RunStore::open(db);
        g_max_pages = static_cast<int>(query_int(db, "PRAGMA page_count")) + 1;
        app::RunRequest req;
        req.task = Task{"x", "x", "", ""};
        req.strategy = "self-consistency";
        req.config.max_tokens = 1500;
        app::RunOptions opt;
        opt.store = store.get();
        QCOMPARE(sqlite3_auto_extension(kLimitPages), SQLITE_OK);  // the recorder's connection
        app::RunResult res;
        try {
            res = app::run_and_record(*model_, *gen_, plugins_, req, opt);
        } catch (...) {
            sqlite3_cancel_auto_extension(kLimitPages);
            throw;
        }
        sqlite3_cancel_auto_extension(kLimitPages);
        QCOMPARE(res.outcome.status, std::string("incomplete"));
        QVERIFY2(res.outcome.error.find("full") != std::string::npos, res.outcome.error.c_str());
        const auto row = store->get(res.run_id);
        QVERIFY(row);
        QCOMPARE(row->status, std::string("incomplete"));
        QCOMPARE(row->status_reason, res.outcome.error);
        QCOMPARE(row->tokens, res.outcome.metrics.tokens_generated);
        const std::string id = std::to_string(res.run_id);
        QVERIFY(query_int(db, "SELECT COUNT(*) FROM tokens WHERE run_id = " + id) < row->tokens);
    }
};

QTEST_GUILESS_MAIN(TestRunStore)
#include "tst_run_store.moc"
