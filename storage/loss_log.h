// What a store's recorders could not write, per run: finish_run() reads it,
// so a run whose rows were given up is never finished "ok" even when the
// recorder could not mark the run itself (the lock or the full disk that
// stopped its rows stops that update too).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace rs::storage {

struct LossLog {
    struct Loss {
        int64_t rows = 0;         // token, score, latent and metric rows given up (for good)
        int64_t tokens = 0;       // of which tokens
        int64_t nodes = 0;        // node rows not written yet (the next commit rewrites them)
        std::string first, last;  // the first and the latest error
        int64_t missing() const { return rows + nodes; }
    };

    // The recorder's current account of the run (missing() == 0: nothing lost).
    void set(int64_t run, const Loss& l) {
        std::lock_guard<std::mutex> lk(mu);
        if (l.missing() == 0)
            runs.erase(run);
        else
            runs[run] = l;
    }
    // Empty when nothing of the run is missing.
    std::string reason(int64_t run) const {
        std::lock_guard<std::mutex> lk(mu);
        auto it = runs.find(run);
        return it == runs.end() ? std::string() : describe(it->second);
    }
    static std::string describe(const Loss& l) {
        std::string s = std::to_string(l.missing()) + " rows (" + std::to_string(l.tokens) +
                        " tokens) could not be written: " + l.first;
        if (l.last != l.first) s += "; last error: " + l.last;
        return s;
    }

    mutable std::mutex mu;
    std::map<int64_t, Loss> runs;
};

}  // namespace rs::storage
