// The backend registry: each backend registers itself (a static in its own
// file), "auto" takes the available one with the highest priority.
#include <algorithm>
#include <mutex>

#include "reasonscope/backend.h"
#include "reasonscope/error.h"

namespace rs {
namespace {

std::mutex& registry_mutex() {
    static std::mutex mu;
    return mu;
}
std::vector<BackendInfo>& registry() {
    static std::vector<BackendInfo> r;
    return r;
}

}  // namespace

void Backend::unsupported(const char* op) const {
    throw Error("backend '" + name() + "' does not implement the '" + op +
                "' op this model's architecture needs");
}

void register_backend(BackendInfo info) {
    std::lock_guard<std::mutex> lk(registry_mutex());
    auto& r = registry();
    r.erase(std::remove_if(r.begin(), r.end(),
                           [&](const BackendInfo& b) { return b.name == info.name; }),
            r.end());
    r.push_back(std::move(info));
    std::stable_sort(r.begin(), r.end(), [](const BackendInfo& a, const BackendInfo& b) {
        return a.priority > b.priority;
    });
}

std::vector<BackendInfo> backends() {
    std::lock_guard<std::mutex> lk(registry_mutex());
    return registry();
}

std::unique_ptr<Backend> make_backend(const std::string& name, const Model& model,
                                      const BackendOptions& opt, std::string* reason) {
    const std::vector<BackendInfo> all = backends();
    std::string names;
    for (const BackendInfo& b : all) names += b.name + ", ";
    if (name == "auto") {
        std::string passed;
        for (const BackendInfo& b : all) {
            std::string why;
            if (!b.available(why)) {
                passed += "; " + b.name + ": " + why;
                continue;
            }
            // A backend that cannot take this model (a weight type it does not
            // compute, too little device memory) passes it on to the next.
            try {
                auto made = b.make(model, opt);
                if (reason) *reason = "auto: " + b.name + " is the first available" + passed;
                return made;
            } catch (const Error& e) {
                passed += "; " + b.name + ": " + e.what();
            }
        }
        throw Error("no backend is available" + passed);
    }
    for (const BackendInfo& b : all) {
        if (b.name != name) continue;
        std::string why;
        if (!b.available(why)) throw Error("backend '" + name + "' is not available: " + why);
        if (reason) *reason = "asked for " + name;
        return b.make(model, opt);
    }
    throw Error("unknown backend '" + name + "' (known: " + names + "auto)");
}

}  // namespace rs
