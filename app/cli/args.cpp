#include "cli/args.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <thread>

namespace rs::cli {

namespace {
// An option as it is written: -n, --max-tokens.
std::string dashed(const std::string& name) {
    return (name.size() == 1 ? "-" : "--") + name;
}
}  // namespace

Args& Args::option(const std::string& name, const std::string& help, const std::string& dflt) {
    opts_.push_back({name, help, dflt, false, false});
    return *this;
}
Args& Args::flag(const std::string& name, const std::string& help) {
    opts_.push_back({name, help, "", true, false});
    return *this;
}
Args& Args::multi(const std::string& name, const std::string& help) {
    opts_.push_back({name, help, "", false, true});
    return *this;
}
Args& Args::positional(const std::string& name, const std::string& help, bool required) {
    pos_.push_back({name, help, required});
    return *this;
}

std::string Args::help() const {
    std::ostringstream s;
    s << "usage: reasonscope " << command_ << " " << synopsis_ << "\n";
    for (const auto& p : pos_) s << "  " << p.name << "\n      " << p.help << "\n";
    for (const auto& o : opts_) {
        s << "  " << dashed(o.name) << (o.is_flag ? "" : " VALUE") << "\n      " << o.help;
        if (!o.dflt.empty()) s << " (default " << o.dflt << ")";
        s << "\n";
    }
    s << "  --help\n      show this help\n";
    return s.str();
}

bool Args::parse(const std::vector<std::string>& argv) {
    size_t npos = 0;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a == "--help" || a == "-h") {
            std::fputs(help().c_str(), stdout);
            return false;
        }
        const bool long_opt = a.size() > 2 && a.compare(0, 2, "--") == 0;
        const bool short_opt = a.size() == 2 && a[0] == '-' && a[1] != '-';  // -n VALUE
        if (long_opt || short_opt) {
            std::string name = a.substr(long_opt ? 2 : 1), value;
            bool inline_value = false;
            if (auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
                inline_value = true;
            }
            const Opt* opt = nullptr;
            for (const auto& o : opts_)
                if (o.name == name) opt = &o;
            if (!opt)
                throw UsageError{command_ + ": unknown option " + (long_opt ? "--" : "-") + name +
                                 " (see --help)"};
            if (opt->is_flag) {
                flags_[name] = true;
                continue;
            }
            if (!inline_value) {
                if (i + 1 >= argv.size())
                    throw UsageError{command_ + ": " + dashed(name) + " needs a value"};
                value = argv[++i];
            }
            if (opt->is_multi)
                multis_[name].push_back(value);
            else
                values_[name] = value;
            continue;
        }
        if (npos >= pos_.size()) throw UsageError{command_ + ": unexpected argument '" + a + "'"};
        values_[pos_[npos++].name] = a;
    }
    for (size_t k = npos; k < pos_.size(); ++k)
        if (pos_[k].required)
            throw UsageError{command_ + ": missing " + pos_[k].name + " (see --help)"};
    return true;
}

bool Args::has(const std::string& name) const {
    return values_.count(name) > 0;
}

std::string Args::get(const std::string& name) const {
    if (auto it = values_.find(name); it != values_.end()) return it->second;
    for (const auto& o : opts_)
        if (o.name == name) return o.dflt;
    return {};
}

const std::vector<std::string>& Args::all(const std::string& name) const {
    static const std::vector<std::string> empty;
    auto it = multis_.find(name);
    return it == multis_.end() ? empty : it->second;
}

int Args::get_int(const std::string& name, long lo, long hi) const {
    std::string v = get(name);
    char* end = nullptr;
    long x = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || x < lo || x > hi)
        throw UsageError{command_ + ": " + dashed(name) + " must be an integer in [" +
                         std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + v + "'"};
    return static_cast<int>(x);
}

std::vector<std::string> Args::get_list(const std::string& name) const {
    std::vector<std::string> out;
    const std::string v = get(name);
    for (size_t b = 0; b <= v.size();) {
        size_t e = v.find(',', b);
        if (e == std::string::npos) e = v.size();
        if (e > b) out.push_back(v.substr(b, e - b));
        b = e + 1;
    }
    return out;
}

std::vector<int> Args::get_int_list(const std::string& name, long lo, long hi) const {
    std::vector<int> out;
    for (const std::string& item : get_list(name)) {
        char* end = nullptr;
        const long x = std::strtol(item.c_str(), &end, 10);
        if (*end != '\0' || x < lo || x > hi)
            throw UsageError{command_ + ": " + dashed(name) +
                             " wants comma-separated integers in [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "], got '" + get(name) + "'"};
        out.push_back(static_cast<int>(x));
    }
    return out;
}

int Args::get_threads() const {
    const int t = get_int("threads", 0, 1 << 20);
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    if (t <= 2 * cores) return t;
    std::fprintf(stderr, "%s: --threads %d is far above the %d cores; using %d\n", command_.c_str(),
                 t, cores, cores);
    return cores;
}

double Args::get_double(const std::string& name, double lo, double hi) const {
    std::string v = get(name);
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(x >= lo && x <= hi)) {
        std::ostringstream s;
        s << command_ << ": " << dashed(name) << " must be a number in [" << lo << ", " << hi
          << "], got '" << v << "'";
        throw UsageError{s.str()};
    }
    return x;
}

}  // namespace rs::cli
