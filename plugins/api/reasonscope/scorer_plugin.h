// The Qt plugin interface of a scorer plugin: a shared library with JSON
// metadata {id, name, description, reference, options: [...]} (see
// docs/plugin-guide.md). The plugin manager registers it in the scorer
// registry (reasonscope/search.h) when it scans, so strategies find it by id.
//
//   RS_SCORER_PLUGIN(MyScorerPlugin, MyScorer, "my_scorer.json")
//   #include "my_scorer.moc"
//
// is the same as
//
//   class MyScorerPlugin : public QObject, public rs::ScorerPlugin {
//       Q_OBJECT
//       Q_PLUGIN_METADATA(IID RS_SCORER_PLUGIN_IID FILE "my_scorer.json")
//       Q_INTERFACES(rs::ScorerPlugin)
//   public:
//       std::unique_ptr<rs::Scorer> create() const override;
//   };
#pragma once

#include <QtPlugin>
#include <memory>

#include "reasonscope/search.h"

namespace rs {

class ScorerPlugin {
  public:
    virtual ~ScorerPlugin() = default;
    virtual std::unique_ptr<Scorer> create() const = 0;
};

}  // namespace rs

#define RS_SCORER_PLUGIN_IID "org.reasonscope.ScorerPlugin/1"
Q_DECLARE_INTERFACE(rs::ScorerPlugin, RS_SCORER_PLUGIN_IID)

// The plugin class for scorer class ScorerClass (default-constructible), as
// RS_STRATEGY_PLUGIN (strategy_plugin.h) does for strategies.
#define RS_SCORER_PLUGIN(PluginClass, ScorerClass, metadata_json)      \
    class PluginClass : public QObject, public rs::ScorerPlugin {      \
        Q_OBJECT                                                       \
        Q_PLUGIN_METADATA(IID RS_SCORER_PLUGIN_IID FILE metadata_json) \
        Q_INTERFACES(rs::ScorerPlugin)                                 \
      public:                                                          \
        std::unique_ptr<rs::Scorer> create() const override {          \
            return std::make_unique<ScorerClass>();                    \
        }                                                              \
    };
