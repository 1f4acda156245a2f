// `reasonscope serve` as a child process on a free port of 127.0.0.1, for
// tests that need a real server: started with a model, stopped (SIGTERM,
// then SIGKILL) when it goes out of scope.
#pragma once

#include <QElapsedTimer>
#include <QProcess>
#include <QRegularExpression>
#include <string>

#include "test_paths.h"

namespace rs::test {

struct ServeProcess {
    QProcess proc;
    int port = 0;
    // Starts the server and waits for the port it prints; false if it did
    // not come up within 15 s.
    bool start(const QString& model) {
        proc.setProcessChannelMode(QProcess::SeparateChannels);
        proc.start(binary("reasonscope"),
                   {"serve", "--model", model, "--port", "0", "--threads", "1"});
        if (!proc.waitForStarted(10000)) return false;
        QByteArray out;
        const QRegularExpression re("listening on http://127\\.0\\.0\\.1:(\\d+)");
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 15000 && proc.state() == QProcess::Running) {
            proc.waitForReadyRead(100);
            out += proc.readAllStandardOutput();
            const auto m = re.match(QString::fromUtf8(out));
            if (m.hasMatch()) {
                port = m.captured(1).toInt();
                return true;
            }
        }
        return false;
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
    QString qurl() const { return QString::fromStdString(url()); }
    ~ServeProcess() {
        if (proc.state() == QProcess::Running) {
            proc.terminate();
            if (!proc.waitForFinished(10000)) proc.kill();
        }
    }
};

}  // namespace rs::test
