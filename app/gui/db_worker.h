// The window's access to the run store: a QObject living on its own thread
// with its own SQLite connection, so the UI thread never waits on the
// database. post() runs a function on that thread and delivers its result (or
// the error's message) back on the caller's thread as a queued call; results
// arrive in request order. busyChanged tells the window when to show work in
// progress.
#pragma once

#include <QObject>
#include <QPointer>
#include <QString>
#include <QThread>
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "reasonscope/run_store.h"

namespace rs::gui {

class DbWorker : public QObject {
    Q_OBJECT
  public:
    explicit DbWorker(std::string db_path);
    ~DbWorker() override;

    // fn runs on the worker thread with the store (opened on first use);
    // done(result) / failed(message) run on `context`'s thread, and not at all
    // if `context` is gone by then.
    template <class R>
    void post(QObject* context, std::function<R(RunStore&)> fn, std::function<void(R)> done,
              std::function<void(const QString&)> failed) {
        if (pending_.fetch_add(1) == 0) emit busyChanged(true);
        QPointer<QObject> ctx(context);
        QMetaObject::invokeMethod(
            this,
            [this, ctx, fn = std::move(fn), done = std::move(done), failed = std::move(failed)] {
                std::shared_ptr<R> result;
                QString error;
                try {
                    result = std::make_shared<R>(fn(store()));
                } catch (const std::exception& e) {
                    error = QString::fromUtf8(e.what());
                }
                finish(ctx, [result, error, done, failed] {
                    if (result)
                        done(std::move(*result));
                    else
                        failed(error);
                });
            },
            Qt::QueuedConnection);
    }
    bool busy() const { return pending_.load() > 0; }

  signals:
    void busyChanged(bool busy);

  private:
    RunStore& store();
    void finish(const QPointer<QObject>& ctx, std::function<void()> deliver);

    QThread thread_;
    std::string path_;
    std::unique_ptr<RunStore> store_;  // used on thread_ only
    std::atomic<int> pending_{0};
};

}  // namespace rs::gui
