#include "gui/db_worker.h"

#include "reasonscope/error.h"

namespace rs::gui {

DbWorker::DbWorker(std::string db_path) : path_(std::move(db_path)) {
    thread_.setObjectName("run store");
    moveToThread(&thread_);
    thread_.start();
}

DbWorker::~DbWorker() {
    // Let queued requests finish (their results are dropped if the window is
    // gone), then close the connection on the worker thread.
    QThread* owner = QThread::currentThread();
    QMetaObject::invokeMethod(
        this,
        [this, owner] {
            store_.reset();
            moveToThread(owner);  // so this object ends on the thread deleting it
        },
        Qt::BlockingQueuedConnection);
    thread_.quit();
    thread_.wait();
}

RunStore& DbWorker::store() {
    if (!store_) {
        try {
            store_ = RunStore::open(path_);
        } catch (const Error& e) {
            // A store the user cannot write is still browsed (renaming,
            // tagging and deleting then say it is read-only).
            try {
                store_ = RunStore::open_read_only(path_);
            } catch (const Error&) {
                throw e;
            }
        }
    }
    return *store_;
}

void DbWorker::finish(const QPointer<QObject>& ctx, std::function<void()> deliver) {
    QObject* target = ctx.data();
    auto done = [this, deliver = std::move(deliver)] {
        deliver();
        if (pending_.fetch_sub(1) == 1) emit busyChanged(false);
    };
    if (target)
        QMetaObject::invokeMethod(target, std::move(done), Qt::QueuedConnection);
    else if (pending_.fetch_sub(1) == 1)
        emit busyChanged(false);
}

}  // namespace rs::gui
