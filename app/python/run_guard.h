// The watchdog of one script run: a pure-Python loop never comes back to the
// engine, so the engine's own budget checks never see it. While the script
// runs Python code (not while a ctx call runs the engine), a thread watches
// the run's time budget, its cancel flag and whether the budget was seen
// spent; once one of them has held for kGrace with the script still in
// Python, it raises `Interrupted` in the script's thread
// (PyThreadState_SetAsyncExc, which works on any thread, unlike pending
// calls) and again every kRefire while the script goes on. The script
// strategy turns that into the run's end: `cancelled`, or an error naming
// the line the script was stuck at.
#pragma once

#include <Python.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace rs {
class SearchContext;
}

namespace rs::python {

class RunGuard {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds kGrace{500}, kRefire{200}, kTick{50};

    // With the GIL held, on the thread that runs the script. `interrupted`:
    // the exception type to raise there.
    RunGuard(const SearchContext& ctx, PyObject* interrupted);
    // With the GIL held: no exception is raised in this thread after it.
    ~RunGuard();
    RunGuard(const RunGuard&) = delete;
    RunGuard& operator=(const RunGuard&) = delete;

    // Around every ctx call that runs the engine (GIL held at both).
    void leave_python() { in_python_ = false; }
    void enter_python(bool budget_spent);

    // Why the watchdog interrupted the script ("" if it did not).
    std::string reason() const;
    bool interrupted_for_cancel() const { return for_cancel_; }

  private:
    void watch();

    const SearchContext& ctx_;
    PyObject* interrupted_;
    unsigned long thread_id_;
    double max_seconds_ = 0;
    Clock::time_point deadline_;
    std::atomic<bool> in_python_{true}, budget_spent_{false}, running_{true}, for_cancel_{false};
    std::atomic<Clock::rep> python_since_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    bool quit_ = false;
    std::string reason_;
    std::thread thread_;
};

}  // namespace rs::python
