// Finds and loads strategy plugins (Qt plugins with JSON metadata) from:
// the install's plugin folder (<exe>/../lib/reasonscope/plugins), the user's
// data folder (~/.local/share/reasonscope/plugins) and every folder in
// REASONSCOPE_PLUGIN_PATH (colon-separated). A plugin that fails to load is
// reported with its path and the reason; the others still load.
#pragma once

#include <QPluginLoader>
#include <QString>
#include <QStringList>
#include <memory>
#include <string>
#include <vector>

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

    struct Entry {
        StrategyInfo info;
        QString path;
        std::unique_ptr<QPluginLoader> loader;
    };
    const std::vector<Entry>& strategies() const { return entries_; }
    const std::vector<PluginError>& errors() const { return errors_; }
    const Entry* find(const std::string& id) const;
    // Throws rs::Error naming the plugin's path when it cannot be created.
    std::unique_ptr<Strategy> create(const std::string& id) const;

  private:
    void load(const QString& path);
    std::vector<Entry> entries_;
    std::vector<PluginError> errors_;
};

}  // namespace rs::app
