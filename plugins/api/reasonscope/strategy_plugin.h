// The Qt plugin interface every strategy plugin implements. A plugin is a
// shared library with JSON metadata (docs/plugin-guide.md). The macro at the
// end writes the Qt boilerplate:
//
//   RS_STRATEGY_PLUGIN(MyStrategyPlugin, MyStrategy, "my_strategy.json")
//   #include "my_strategy.moc"
//
// which is the same as
//
//   class MyStrategyPlugin : public QObject, public rs::StrategyPlugin {
//       Q_OBJECT
//       Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE "my_strategy.json")
//       Q_INTERFACES(rs::StrategyPlugin)
//   public:
//       std::unique_ptr<rs::Strategy> create() const override;
//   };
//
// Build one with find_package(Reasonscope) and reasonscope_add_plugin()
// (ReasonscopePlugin.cmake), which also tells CMake's AUTOMOC to look
// inside the macro.
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

// The plugin class for strategy class StrategyClass (default-constructible),
// with its metadata from the JSON file beside the source.
#define RS_STRATEGY_PLUGIN(PluginClass, StrategyClass, metadata_json)    \
    class PluginClass : public QObject, public rs::StrategyPlugin {      \
        Q_OBJECT                                                         \
        Q_PLUGIN_METADATA(IID RS_STRATEGY_PLUGIN_IID FILE metadata_json) \
        Q_INTERFACES(rs::StrategyPlugin)                                 \
      public:                                                            \
        std::unique_ptr<rs::Strategy> create() const override {          \
            return std::make_unique<StrategyClass>();                    \
        }                                                                \
    };
