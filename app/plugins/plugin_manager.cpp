#include "plugins/plugin_manager.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>

#include "python/script_strategy.h"
#include "reasonscope/error.h"
#include "reasonscope/scorer_plugin.h"
#include "reasonscope/strategy_plugin.h"

namespace rs::app {

PluginManager::PluginManager() = default;
PluginManager::~PluginManager() = default;

QStringList PluginManager::default_dirs() {
    QStringList dirs;
    QFileInfo exe(QFileInfo(QStringLiteral("/proc/self/exe")).canonicalFilePath());
    dirs << exe.dir().absoluteFilePath(QStringLiteral("../lib/reasonscope/plugins"));
    QString home = QDir::homePath();
    QString data = qEnvironmentVariable("XDG_DATA_HOME", home + "/.local/share");
    dirs << data + "/reasonscope/plugins";
    for (const QString& d :
         qEnvironmentVariable("REASONSCOPE_PLUGIN_PATH").split(':', Qt::SkipEmptyParts))
        dirs << d;
    // Python strategies' own folders (they may sit in the ones above too).
    dirs << data + "/reasonscope/strategies";
    for (const QString& d : qEnvironmentVariable("RS_STRATEGY_PATH").split(':', Qt::SkipEmptyParts))
        dirs << d;
    return dirs;
}

void PluginManager::scan(const QStringList& dirs) {
    scan_files(dirs, {"*.so", "*.py"});
}

void PluginManager::scan_files(const QStringList& dirs, const QStringList& patterns) {
    for (const QString& d : dirs) {
        QDir dir(d);
        if (!dir.exists()) continue;
        for (const QString& f : dir.entryList(patterns, QDir::Files, QDir::Name)) {
            const QString path = dir.absoluteFilePath(f);
            if (!f.endsWith(".py"))
                load(path);
            else if (python::is_strategy_script(path.toStdString()))
                load_script(path);
        }
    }
}

void PluginManager::rescan_scripts(const QStringList& dirs) {
    std::erase_if(entries_, [](const Entry& e) { return !e.loader; });
    std::erase_if(errors_, [](const PluginError& e) { return e.path.endsWith(".py"); });
    scan_files(dirs, {"*.py"});
}

void PluginManager::load(const QString& path) {
    auto loader = std::make_unique<QPluginLoader>(path);
    QJsonObject meta = loader->metaData();
    if (meta.isEmpty()) {
        errors_.push_back(
            {path, QStringLiteral("not a Qt plugin (no metadata): ") + loader->errorString()});
        return;
    }
    if (meta.value("IID").toString() == QStringLiteral(RS_SCORER_PLUGIN_IID)) {
        load_scorer(path, std::move(loader), meta);
        return;
    }
    if (meta.value("IID").toString() != QStringLiteral(RS_STRATEGY_PLUGIN_IID)) {
        errors_.push_back({path, "wrong plugin interface '" + meta.value("IID").toString() + "'"});
        return;
    }
    StrategyInfo info;
    try {
        auto j = nlohmann::json::parse(
            QJsonDocument(meta.value("MetaData").toObject()).toJson().toStdString());
        info = strategy_info_from_json(j);
    } catch (const std::exception& e) {
        errors_.push_back({path, QString::fromStdString(e.what())});
        return;
    }
    add_entry(std::move(info), path, std::move(loader));
}

void PluginManager::load_script(const QString& path) {
    StrategyInfo info;
    try {
        info = python::read_script_info(path.toStdString());
    } catch (const std::exception& e) {
        errors_.push_back({path, QString::fromStdString(e.what())});
        return;
    }
    add_entry(std::move(info), path, nullptr);
}

// A strategy's entry, unless another plugin has its id already.
void PluginManager::add_entry(StrategyInfo info, const QString& path,
                              std::unique_ptr<QPluginLoader> loader) {
    if (find(info.id)) {
        errors_.push_back(
            {path, QString::fromStdString("strategy id '" + info.id +
                                          "' is already provided by another plugin")});
        return;
    }
    entries_.push_back({std::move(info), path, std::move(loader)});
}

// A scorer plugin goes into the engine's scorer registry; its library is
// loaded on first use, and the registry's factory keeps the loader alive.
void PluginManager::load_scorer(const QString& path, std::unique_ptr<QPluginLoader> loader,
                                const QJsonObject& meta) {
    ScorerInfo info;
    try {
        info = scorer_info_from_json(nlohmann::json::parse(
            QJsonDocument(meta.value("MetaData").toObject()).toJson().toStdString()));
        info.source = path.toStdString();
        std::shared_ptr<QPluginLoader> shared(std::move(loader));
        register_scorer(info, [shared, path]() -> std::unique_ptr<Scorer> {
            QObject* inst = shared->instance();
            if (!inst)
                throw Error("scorer plugin " + path.toStdString() +
                            " failed to load: " + shared->errorString().toStdString());
            auto* plugin = qobject_cast<ScorerPlugin*>(inst);
            if (!plugin)
                throw Error("plugin " + path.toStdString() +
                            " does not implement the scorer interface");
            try {
                return plugin->create();
            } catch (...) {
                throw Error("scorer plugin " + path.toStdString() +
                            " failed to create its scorer: " + describe_current_exception());
            }
        });
        scorers_.push_back(info);
    } catch (const std::exception& e) {
        errors_.push_back({path, QString::fromStdString(e.what())});
    }
}

const PluginManager::Entry* PluginManager::find(const std::string& id) const {
    for (const auto& e : entries_)
        if (e.info.id == id) return &e;
    return nullptr;
}

std::unique_ptr<Strategy> PluginManager::create(const std::string& id) const {
    const Entry* e = find(id);
    if (!e) {
        std::string all;
        for (const auto& x : entries_) all += (all.empty() ? "" : ", ") + x.info.id;
        std::string why =
            "unknown strategy '" + id + "' (available: " + (all.empty() ? "none found" : all) + ")";
        for (const auto& err : errors_)
            why += "; plugin " + err.path.toStdString() + " failed: " + err.message.toStdString();
        throw Error(why);
    }
    if (!e->loader) {
        // A script: its metadata as the file says now (read_script_info
        // throws naming the file and line), its code loaded when it runs.
        Entry& script = entries_[static_cast<size_t>(e - entries_.data())];
        StrategyInfo now = python::read_script_info(e->path.toStdString());
        if (now.id != id)
            throw Error("strategy script " + e->path.toStdString() + " now has the id '" + now.id +
                        "', not '" + id + "'");
        // (assigned only when it changed: the GUI thread may be reading it)
        if (strategy_info_to_json(now) != strategy_info_to_json(script.info))
            script.info = std::move(now);
        return python::make_script_strategy(e->path.toStdString());
    }
    QObject* inst = e->loader->instance();
    if (!inst)
        throw Error("plugin " + e->path.toStdString() +
                    " failed to load: " + e->loader->errorString().toStdString());
    auto* plugin = qobject_cast<StrategyPlugin*>(inst);
    if (!plugin)
        throw Error("plugin " + e->path.toStdString() +
                    " does not implement the strategy interface");
    try {
        auto s = plugin->create();
        if (!s) throw Error("returned no strategy");
        return s;
    } catch (...) {
        throw Error("plugin " + e->path.toStdString() +
                    " failed to create its strategy: " + describe_current_exception());
    }
}

}  // namespace rs::app
