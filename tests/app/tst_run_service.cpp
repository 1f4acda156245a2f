// The run service (app/core/run_service.h) on the bundled model: a run is
// stored with its description, name and tags and finished with its outcome;
// a bad request stores nothing; and a stored run never stays "running": a
// strategy failing mid-run, a search that cannot be set up, a cancelled run
// all end with their row finished.
#include <QTemporaryDir>
#include <QtTest>

#include "core/run_service.h"
#include "core/session_options.h"
#include "reasonscope/error.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"

using namespace rs;

namespace {

const char* kModel = RS_SOURCE_DIR "/resources/models/reasoner.gguf";

class Count final : public RunObserver {
  public:
    int events = 0, finished = 0;
    void on_event(const RunEvent& e) override {
        ++events;
        finished += std::holds_alternative<RunFinished>(e);
    }
};

}  // namespace

class TestRunService : public QObject {
    Q_OBJECT
    std::unique_ptr<Model> model_;
    std::unique_ptr<LocalGenerator> gen_;
    app::PluginManager plugins_;

    static app::RunRequest request(const std::string& strategy,
                                   std::vector<std::pair<std::string, std::string>> sets = {}) {
        app::RunRequest req;
        req.task = Task{"easy-001", "Q: 13+7*4\n", "41", ""};
        req.suite = "easy";
        req.strategy = strategy;
        req.sets = std::move(sets);
        req.config.max_tokens = 1500;
        return req;
    }

  private slots:
    void initTestCase() {
        if (!QFileInfo::exists(kModel)) QSKIP("the bundled model is missing");
        model_ = Model::load(kModel);
        gen_ = std::make_unique<LocalGenerator>(*model_, app::search_session_options(1));
        plugins_.scan();
    }

    void counterfactualContinuesARenderedPrompt() {
        // A stored chat run's rendered prompt, used as it is, the trace
        // continued after it: the run's prompt is both, and it is stored.
        app::RunRequest req = request("chain-of-thought");
        req.prompt.rendered = "Q: 13+7*4\n";
        req.prompt.continuation = "7*4=28: 13+28\n";
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        app::RunOptions opt;
        opt.store = store.get();
        const app::RunResult res = app::run_and_record(*model_, *gen_, plugins_, req, opt);
        QCOMPARE(res.prompt.rendered, std::string("Q: 13+7*4\n7*4=28: 13+28\n"));
        QVERIFY(res.prompt.chat);
        QCOMPARE(store->get(res.run_id)->prompt_rendered, res.prompt.rendered);
        // The model goes on from the continuation: 13+28 is computed next.
        QVERIFY2(res.tree().at(1).text.rfind("13+28=41", 0) == 0, res.tree().at(1).text.c_str());
        QCOMPARE(res.outcome.answer, std::string("41"));
    }

    void storedRunIsDescribedAndFinished() {
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        Count count;
        app::RunOptions opt;
        opt.store = store.get();
        opt.name = "service";
        opt.tags = {"a", "b"};
        opt.observers = {&count};
        int64_t started = 0;
        opt.on_stored = [&](const RunRow& row) {
            started = row.id;
            QCOMPARE(store->get(row.id)->status, std::string("running"));
        };
        const app::RunResult res =
            app::run_and_record(*model_, *gen_, plugins_, request("chain-of-thought"), opt);
        QVERIFY(res.run_id > 0);
        QCOMPARE(started, res.run_id);
        QCOMPARE(res.outcome.status, std::string("ok"));
        QVERIFY(count.events > 0);
        QCOMPARE(count.finished, 1);
        const auto row = store->get(res.run_id);
        QVERIFY(row);
        QCOMPARE(row->status, std::string("ok"));
        QCOMPARE(row->name, std::string("service"));
        QCOMPARE(row->tags, (std::vector<std::string>{"a", "b"}));
        QCOMPARE(row->strategy, std::string("chain-of-thought"));
        QCOMPARE(row->backend, gen_->backend_name());
        QCOMPARE(row->backend_reason, gen_->backend_reason());
        QCOMPARE(row->answer, res.outcome.answer);
        QCOMPARE(row->node_count, int64_t(res.tree().size()));
        QCOMPARE(row->chosen_node, res.chosen_node());
        QVERIFY(!row->finished_at.empty());
        QCOMPARE(store->load(res.run_id).tree.size(), res.tree().size());
    }

    void withoutAStoreNothingIsStored() {
        const app::RunResult res =
            app::run_and_record(*model_, *gen_, plugins_, request("chain-of-thought"));
        QCOMPARE(res.run_id, int64_t(0));
        QCOMPARE(res.outcome.status, std::string("ok"));
        QVERIFY(res.tree().size() >= 2);
    }

    // A bad request fails before anything is stored.
    void badRequestStoresNothing() {
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        app::RunOptions opt;
        opt.store = store.get();
        QVERIFY_THROWS_EXCEPTION(
            Error, app::run_and_record(*model_, *gen_, plugins_, request("no-such"), opt));
        app::RunRequest bad = request("best-of-n", {{"scorer", "prm-model"}});
        bad.config.scorer_options["modell"] = "x";
        QVERIFY_THROWS_EXCEPTION(Error, app::run_and_record(*model_, *gen_, plugins_, bad, opt));
        QVERIFY(store->list().empty());
    }

    // The strategy fails mid-run (its scorer cannot open its model): the
    // outcome and the stored row say "error" with the reason.
    void strategyErrorFinishesTheRow() {
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        app::RunRequest req = request("best-of-n", {{"n", "2"}, {"scorer", "prm-model"}});
        req.config.scorer_options["model"] = "/nonexistent.gguf";
        app::RunOptions opt;
        opt.store = store.get();
        const app::RunResult res = app::run_and_record(*model_, *gen_, plugins_, req, opt);
        QCOMPARE(res.outcome.status, std::string("error"));
        QVERIFY2(res.outcome.error.find("/nonexistent.gguf") != std::string::npos,
                 res.outcome.error.c_str());
        const auto row = store->get(res.run_id);
        QVERIFY(row);
        QCOMPARE(row->status, std::string("error"));
        QCOMPARE(row->error, res.outcome.error);
        QVERIFY(!row->finished_at.empty());
        QVERIFY(row->node_count >= 2);  // the tree grew before the scorer failed
    }

    // The search cannot be set up once the run is stored (a tap layer the
    // model lacks): the error reaches the caller and the row is "error".
    void setupFailureFinishesTheRow() {
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        app::RunRequest req = request("chain-of-thought");
        req.config.tap_layers = {99};
        app::RunOptions opt;
        opt.store = store.get();
        int64_t id = 0;
        opt.on_stored = [&](const RunRow& row) { id = row.id; };
        QString what;
        try {
            app::run_and_record(*model_, *gen_, plugins_, req, opt);
        } catch (const Error& e) {
            what = e.what();
        }
        QVERIFY2(what.contains("tap layer 99"), qPrintable(what));
        QVERIFY(id > 0);
        const auto runs = store->list();
        QCOMPARE(runs.size(), size_t(1));
        QCOMPARE(runs[0].id, id);
        QCOMPARE(runs[0].status, std::string("error"));
        QCOMPARE(QString::fromStdString(runs[0].error), what);
        QVERIFY(!runs[0].finished_at.empty());
    }

    void cancelledRunIsFinished() {
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        std::atomic<bool> cancel{true}, pause{false};
        app::RunOptions opt;
        opt.store = store.get();
        opt.cancel = &cancel;
        opt.pause = &pause;
        const app::RunResult res =
            app::run_and_record(*model_, *gen_, plugins_, request("best-of-n", {{"n", "2"}}), opt);
        QCOMPARE(res.outcome.status, std::string("cancelled"));
        QCOMPARE(store->get(res.run_id)->status, std::string("cancelled"));
    }
};

QTEST_GUILESS_MAIN(TestRunService)
#include "tst_run_service.moc"
