// Finds and loads strategy and scorer plugins (Qt plugins with JSON metadata) from:
// the install's plugin folder (<exe>/../lib/reasonscope/plugins), the user's
// data folder (~/.local/share/reasonscope/plugins) and every folder in
// REASONSCOPE_PLUGIN_PATH (colon-separated). Strategies written as Python
// scripts (*.py, app/python/) are listed from those folders too, and from
// ~/.local/share/reasonscope/strategies and every folder in RS_STRATEGY_PATH;
// a script's metadata is read again when it runs, so edits need no restart.
// A plugin or script that fails to load is reported with its path and the
// reason (for a script, the file and line); the others still load.
#pragma once

#include <QJsonObject>
#include <QPluginLoader>
#include <QString>
#include <QStringList>
#include <memory>
#include <string>
#include <vector>

#include "reasonscope/search.h"
#include "reasonscope/strategy.h"

namespace rs::app {

struct PluginError {
    QString path;
    QString message;
};

class PluginManager {
  public:
    PluginManager();
    ~PluginManager();
    static QStringList default_dirs();
    void scan(const QStringList& dirs = default_dirs());
    // Lists the Python scripts again: new ones appear, removed ones go,
    // broken ones are reported (C++ plugins stay as loaded). Not while a run
    // may create a strategy from this manager.
    void rescan_scripts(const QStringList& dirs = default_dirs());

    struct Entry {
        StrategyInfo info;
        QString path;
        std::unique_ptr<QPluginLoader> loader;  // null for a Python script
    };
    const std::vector<Entry>& strategies() const { return entries_; }
    const std::vector<PluginError>& errors() const { return errors_; }
    const Entry* find(const std::string& id) const;
    // Throws rs::Error naming the plugin's path when it cannot be created.
    std::unique_ptr<Strategy> create(const std::string& id) const;

    // Scorer plugins found by scan() (already registered in the engine's
    // scorer registry; see rs::scorers() for all, built-ins included).
    const std::vector<ScorerInfo>& scorer_plugins() const { return scorers_; }

  private:
    void scan_files(const QStringList& dirs, const QStringList& patterns);
    void load(const QString& path);
    void load_script(const QString& path);
    void add_entry(StrategyInfo info, const QString& path, std::unique_ptr<QPluginLoader> loader);
    void load_scorer(const QString& path, std::unique_ptr<QPluginLoader> loader,
                     const QJsonObject& meta);
    mutable std::vector<Entry> entries_;  // (a script's info is refreshed by create())
    std::vector<ScorerInfo> scorers_;
    std::vector<PluginError> errors_;
};

}  // namespace rs::app
