// The Qt plugin interface every strategy plugin implements. A plugin is a
// shared library with JSON metadata (see plugins/README.md):
//
//   class MyPlugin : public QObject, public rs::StrategyPlugin {
//       Q_OBJECT
//       Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "my_strategy.json")
//       Q_INTERFACES(rs::StrategyPlugin)
//   public:
//       std::unique_ptr<rs::Strategy> create() const override;
//   };
#pragma once

#include <QtPlugin>
#include <memory>

#include "reasonscope/strategy.h"

namespace rs {

class StrategyPlugin {
  public:
    virtual ~StrategyPlugin() = default;
    virtual std::unique_ptr<Strategy> create() const = 0;
};

}  // namespace rs

#define RS_STRATEGY_PLUGIN_IID "org.reasonscope.StrategyPlugin/1"
Q_DECLARE_INTERFACE(rs::StrategyPlugin, RS_STRATEGY_PLUGIN_IID)
