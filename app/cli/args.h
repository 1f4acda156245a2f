// A small command-line parser for the subcommands: --name value, --flag,
// positionals; unknown options are errors. Every subcommand has --help.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rs::cli {

// Thrown for bad usage; main prints it as one line and exits with code 2.
struct UsageError {
    std::string message;
};

class Args {
  public:
    Args(std::string command, std::string synopsis)
        : command_(std::move(command)), synopsis_(std::move(synopsis)) {}
    Args& option(const std::string& name, const std::string& help, const std::string& dflt = "");
    Args& flag(const std::string& name, const std::string& help);
    Args& multi(const std::string& name, const std::string& help);  // repeatable --name v
    Args& positional(const std::string& name, const std::string& help, bool required = true);
    // Returns false when --help was given (help already printed).
    bool parse(const std::vector<std::string>& argv);

    bool has(const std::string& name) const;
    std::string get(const std::string& name) const;  // option value, default, or positional
    const std::vector<std::string>& all(const std::string& name) const;
    // A comma-separated option's items (empty ones dropped), and the same
    // as integers in [lo, hi] (UsageError naming the option otherwise).
    std::vector<std::string> get_list(const std::string& name) const;
    std::vector<int> get_int_list(const std::string& name, long lo, long hi) const;
    int get_int(const std::string& name, long lo, long hi) const;
    // --threads: 0 (all cores) or a count; one far above the cores (more than
    // twice) is clamped to them, with a warning on stderr.
    int get_threads() const;
    double get_double(const std::string& name, double lo, double hi) const;
    bool flag_set(const std::string& name) const { return flags_.count(name) > 0; }
    std::string help() const;

  private:
    struct Opt {
        std::string name, help, dflt;
        bool is_flag = false, is_multi = false;
    };
    struct Pos {
        std::string name, help;
        bool required;
    };
    std::string command_, synopsis_;
    std::vector<Opt> opts_;
    std::vector<Pos> pos_;
    std::map<std::string, std::string> values_;
    std::map<std::string, std::vector<std::string>> multis_;
    std::map<std::string, bool> flags_;
};

}  // namespace rs::cli
