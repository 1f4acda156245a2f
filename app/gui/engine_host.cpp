#include "gui/engine_host.h"

#include <filesystem>

#include "core/session_options.h"
#include "reasonscope/error.h"
#include "remote/remote_generator.h"

namespace rs::gui {

EngineHost::EngineHost(const app::PluginManager* plugins, QString db_path)
    : plugins_(plugins), db_path_(std::move(db_path)) {}
EngineHost::~EngineHost() = default;

void EngineHost::load_model(const QString& path, int threads, bool kv_f16, bool deterministic,
                            const QString& backend) {
    try {
        // The new model and its generator are made beside the loaded ones,
        // which stay usable if this load fails.
        std::unique_ptr<Model> model = Model::load(path.toStdString());
        SessionOptions so = app::search_session_options(threads);
        so.kv_type = kv_f16 ? KvType::F16 : KvType::F32;
        so.deterministic = deterministic;
        so.backend = backend.toStdString();
        auto gen = std::make_unique<LocalGenerator>(*model, so);
        gen_ = std::move(gen);  // the old generator goes before the model it uses
        model_ = std::move(model);
        const ModelConfig& c = model_->config();
        ModelSummary s;
        s.path = path;
        s.name = QString::fromStdString(model_->gguf().get_string(
            "general.name", std::filesystem::path(path.toStdString()).stem().string()));
        s.arch = QString::fromStdString(c.arch);
        s.backend = QString::fromStdString(gen_->backend_name());
        s.backend_reason = QString::fromStdString(gen_->backend_reason());
        s.kv = kv_type_name(so.kv_type);
        s.deterministic = deterministic;
        s.n_vocab = c.n_vocab;
        s.layers = c.n_layers;
        s.dim = c.dim;
        s.ctx = c.ctx;
        double params = 0;
        for (const auto& t : model_->gguf().tensors())
            params += static_cast<double>(t.n_elements());
        s.params_m = params / 1e6;
        s.chat_template = model_->gguf().has("tokenizer.chat_template");
        s.caps = gen_->caps();
        s.hash = QString::fromStdString(app::model_fingerprint(path.toStdString()));
        emit modelLoaded(s);
    } catch (const std::exception& e) {
        emit modelLoadFailed(path, QString::fromStdString(e.what()), gen_ != nullptr);
    }
}

void EngineHost::probe_server(const ServerSettings& settings, bool use) {
    try {
        if (settings.url.trimmed().isEmpty()) throw Error("no server URL given");
        if (settings.gguf.trimmed().isEmpty())
            throw Error("no GGUF given for the server's tokenizer and chat template");
        remote::RemoteOptions o;
        o.url = settings.url.trimmed().toStdString();
        o.kind = remote::parse_kind(settings.kind.toStdString());
        o.model = settings.model.trimmed().toStdString();
        o.api_key = settings.api_key.toStdString();  // kept by the generator only
        // Only the tokenizer and the chat template are read.
        std::unique_ptr<Model> model = Model::load_vocab(settings.gguf.trimmed().toStdString());
        auto gen = std::make_unique<remote::RemoteGenerator>(model->tokenizer(),
                                                             model->config().ctx, std::move(o));
        const remote::ServerInfo& info = gen->server();
        ServerSummary p;
        p.kind = remote::kind_name(info.kind);
        p.url = QString::fromStdString(info.url);
        p.model = QString::fromStdString(info.model);
        p.version = QString::fromStdString(info.version);
        p.tokenizer_check = QString::fromStdString(info.tokenizer_check);
        p.n_ctx = gen->n_ctx();
        p.top_k = info.top_k;
        p.can_score = gen->caps().continuation_logprob;
        if (!use) {
            emit serverProbed(p, false);
            return;
        }
        ModelSummary s;
        s.path = settings.gguf.trimmed();
        s.name = p.model;
        s.arch = QString::fromStdString(model->config().arch);
        s.backend = QString::fromStdString(gen->backend_name());
        s.backend_reason = QString::fromStdString(gen->backend_reason());
        s.n_vocab = model->config().n_vocab;
        s.ctx = gen->n_ctx();
        s.chat_template = model->gguf().has("tokenizer.chat_template");
        s.caps = gen->caps();
        s.remote = true;
        s.hash = QString::fromStdString(app::model_fingerprint(s.path.toStdString()));
        gen_ = std::move(gen);  // the old generator goes before the model it uses
        model_ = std::move(model);
        emit serverProbed(p, true);
        emit modelLoaded(s);
    } catch (const std::exception& e) {
        emit serverFailed(QString::fromStdString(e.what()), use);
    }
}

RunStore& EngineHost::open_store() {
    if (!store_) {
        store_ = RunStore::open(db_path_.toStdString());
        WriteOptions w = store_->write_options();
        w.on_status = [this](int64_t, const RecorderStatus& s) {
            emit databaseWaiting(s.waiting,
                                 QString::fromStdString(s.waiting ? s.last_error : s.lost));
        };
        store_->set_write_options(std::move(w));
    }
    return *store_;
}

void EngineHost::start_run(const app::RunRequest& req) {
    if (!gen_) {
        emit failed("no model loaded");
        return;
    }
    running_ = true;
    cancel_ = false;
    pause_ = false;
    int64_t id = 0;
    try {
        app::RunOptions opt;
        opt.store = &open_store();
        opt.observers = {&events_};
        opt.cancel = &cancel_;
        opt.pause = &pause_;
        opt.on_stored = [this, &id](const RunRow& row) {
            id = row.id;
            emit runStarted(row);
        };
        const app::RunResult res = app::run_and_record(*model_, *gen_, *plugins_, req, opt);
        running_ = false;
        emit runFinished(id, QString::fromStdString(res.outcome.status),
                         QString::fromStdString(res.outcome.answer));
        if (res.outcome.status == "error")
            emit failed(QString::fromStdString("the strategy failed: " + res.outcome.error));
        else if (res.outcome.status == "incomplete")
            emit failed(
                QString::fromStdString("run " + std::to_string(id) +
                                       " is incomplete in the run store: " + res.outcome.error));
    } catch (const std::exception& e) {
        // A stored run is already marked "error" by the run service.
        running_ = false;
        emit failed(QString::fromStdString(e.what()));
        if (id) emit runFinished(id, "error", {});
    }
}

void EngineHost::run_sweep(const app::SweepSettings& settings) {
    if (!gen_) {
        emit sweepFailed("no model loaded", {});
        return;
    }
    running_ = true;
    cancel_ = false;
    pause_ = false;
    try {
        const app::SweepPlan plan = app::plan_sweep(*plugins_, settings);
        app::SweepOptions opt;
        opt.store = &open_store();
        opt.cancel = &cancel_;
        opt.pause = &pause_;
        opt.on_progress = [this](const app::SweepProgress& p) { emit sweepProgress(p); };
        opt.on_point = [this](const app::SweepPoint& p) { emit sweepPoint(p); };
        opt.signal_aurocs = true;  // the window's table of signal AUROCs
        const app::SweepResult res = app::run_sweep(*model_, *gen_, *plugins_, plan, opt);
        running_ = false;
        if (res.error.empty())
            emit sweepFinished(res);
        else
            emit sweepFailed(QString::fromStdString(res.error), res);
    } catch (const std::exception& e) {
        running_ = false;
        emit sweepFailed(QString::fromStdString(e.what()), {});
    }
}

}  // namespace rs::gui
