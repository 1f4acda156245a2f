#include "python/run_guard.h"

#include <algorithm>
#include <cstdio>

#include "reasonscope/search.h"

namespace rs::python {

RunGuard::RunGuard(const SearchContext& ctx, PyObject* interrupted)
    : ctx_(ctx), interrupted_(interrupted), thread_id_(PyThread_get_thread_ident()) {
    const Clock::time_point now = Clock::now();
    python_since_ = now.time_since_epoch().count();
    // The run's clock started with the search context, not with this call.
    max_seconds_ = ctx.config().max_seconds;
    const double elapsed = ctx.metrics().wall_seconds;
    if (max_seconds_ > 0)
        deadline_ = now + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(max_seconds_ - elapsed));
    thread_ = std::thread([this] { watch(); });
}

RunGuard::~RunGuard() {
    running_ = false;  // under the GIL, which the watchdog re-checks it under
    PyThreadState_SetAsyncExc(thread_id_, nullptr);  // drop one not yet delivered
    {
        std::lock_guard<std::mutex> l(m_);
        quit_ = true;
    }
    cv_.notify_all();
    // The watchdog may be waiting for the GIL: let it have it to finish.
    PyThreadState* saved = PyEval_SaveThread();
    thread_.join();
    PyEval_RestoreThread(saved);
}

void RunGuard::enter_python(bool budget_spent) {
    if (budget_spent) budget_spent_ = true;
    python_since_ = Clock::now().time_since_epoch().count();
    in_python_ = true;
}

std::string RunGuard::reason() const {
    std::lock_guard<std::mutex> l(m_);
    return reason_;
}

void RunGuard::watch() {
    Clock::time_point stop_since{}, last_fire{};
    bool stopping = false;
    for (;;) {
        {
            std::unique_lock<std::mutex> l(m_);
            if (cv_.wait_for(l, kTick, [this] { return quit_; })) return;
        }
        const Clock::time_point now = Clock::now();
        std::string why;
        bool cancel = false;
        if (ctx_.cancel_requested()) {
            why = "the run was cancelled";
            cancel = true;
        } else if (max_seconds_ > 0 && now >= deadline_) {
            char buf[96];
            std::snprintf(buf, sizeof buf, "the run's time budget (%g s) was spent", max_seconds_);
            why = buf;
        } else if (budget_spent_) {
            why = "the run's budget was spent";
        }
        if (why.empty()) {
            stopping = false;
            continue;
        }
        if (!stopping) stop_since = now;
        stopping = true;
        if (!in_python_) continue;
        const Clock::time_point since =
            std::max(stop_since, Clock::time_point(Clock::duration(python_since_.load())));
        if (now - since < kGrace || now - last_fire < kRefire) continue;
        PyGILState_STATE g = PyGILState_Ensure();
        if (running_ && in_python_) {
            {
                std::lock_guard<std::mutex> l(m_);
                reason_ = why;
            }
            for_cancel_ = cancel;
            PyThreadState_SetAsyncExc(thread_id_, interrupted_);
            last_fire = now;
        }
        PyGILState_Release(g);
    }
}

}  // namespace rs::python
