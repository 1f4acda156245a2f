// A declared parameter of a strategy or option of a scorer: the metadata
// plugins ship as JSON, from which the UI builds forms and the CLI checks
// name=value settings.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rs {

struct ParamSpec {
    std::string name;
    std::string type;  // int, float, bool, string, choice, scorer (a registered scorer id)
    std::string help;
    nlohmann::json dflt, min, max;
    std::vector<std::string> choices;  // for "choice"
    // The parameter applies only while each named parameter has one of the
    // listed values ("applies_when": {"mode": ["online"]}); the app greys it
    // out otherwise. Empty: always.
    std::map<std::string, std::vector<std::string>> applies_when;
};

// Parses one parameter object {name, type, default, min?, max?, choices?,
// help?, applies_when?}; throws rs::Error naming what is wrong.
ParamSpec param_spec_from_json(const nlohmann::json& p);

}  // namespace rs
