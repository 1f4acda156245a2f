// The Qt plugin interface of a scorer plugin: a shared library with JSON
// metadata {id, name, description, reference, options: [...]} (see
// plugins/README.md). The plugin manager registers it in the scorer registry
// (reasonscope/search.h) when it scans, so strategies find it by id.
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
