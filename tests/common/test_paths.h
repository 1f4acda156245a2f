// Where tests find the shared reference data and the built binaries.
#pragma once

#include <QDir>
#include <QFileInfo>
#include <QString>
#include <QtTest>

namespace rs::test {

inline QString reference_dir() {
    return QStringLiteral(RS_REFERENCE_DIR);
}
inline QString reference(const QString& rel) {
    return reference_dir() + "/" + rel;
}
inline bool have_reference() {
    return QFileInfo::exists(reference_dir() + "/README.md");
}
inline QString binary(const QString& name) {
    return QStringLiteral(RS_BINARY_DIR) + "/bin/" + name;
}

}  // namespace rs::test

// Skips the current test when the shared reference folder is absent (a
// user's fresh clone has no ../shared).
#define RS_REQUIRE_REFERENCE()                                                        \
    do {                                                                              \
        if (!rs::test::have_reference())                                              \
            QSKIP("../shared/reference is absent; reference-data tests are skipped"); \
    } while (0)
