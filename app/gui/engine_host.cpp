#include "gui/engine_host.h"

#include <filesystem>

#include "reasonscope/error.h"

namespace rs::gui {

EngineHost::EngineHost(const app::PluginManager* plugins, QString db_path)
    : plugins_(plugins), db_path_(std::move(db_path)) {}
EngineHost::~EngineHost() = default;

void EngineHost::load_model(const QString& path, int threads, bool kv_f16, bool deterministic,
                            const QString& backend) {
    try {
        gen_.reset();
        model_ = Model::load(path.toStdString());
        SessionOptions so = cli::search_session_options(threads);
        so.kv_type = kv_f16 ? KvType::F16 : KvType::F32;
        so.deterministic = deterministic;
        so.backend = backend.toStdString();
        gen_ = std::make_unique<LocalGenerator>(*model_, so);
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
        emit modelLoaded(s);
    } catch (const std::exception& e) {
        model_.reset();
        emit failed(QString::fromStdString(e.what()));
    }
}

void EngineHost::start_run(const cli::RunRequest& req) {
    if (!gen_) {
        emit failed("no model loaded");
        return;
    }
    running_ = true;
    cancel_ = false;
    pause_ = false;
    int64_t id = 0;
    try {
        if (!store_) store_ = RunStore::open(db_path_.toStdString());
        cli::PreparedRun p = cli::prepare_run(*plugins_, req);
        RunRow row = cli::describe_run(*model_, *gen_, req, p);
        id = store_->begin_run(row);
        row.id = id;
        emit runStarted(row);
        auto rec = store_->recorder(id);
        SearchContext ctx(*gen_, req.task, p.config, {rec.get(), &events_});
        ctx.set_control(&cancel_, &pause_);
        RunOutcome out = run_strategy(*p.strategy, ctx, p.params);
        rec->flush();
        store_->finish_run(id, cli::finished_row(out, ctx));
        running_ = false;
        emit runFinished(id, QString::fromStdString(out.status),
                         QString::fromStdString(out.answer));
        if (out.status == "error")
            emit failed(QString::fromStdString("the strategy failed: " + out.error));
    } catch (const std::exception& e) {
        running_ = false;
        emit failed(QString::fromStdString(e.what()));
        if (id) emit runFinished(id, "error", {});
    }
}

}  // namespace rs::gui
