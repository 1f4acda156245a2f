// Files a user names are read and replaced as regular files only: a FIFO
// would block the reader forever, /dev/zero never ends, and renaming a
// finished temporary file over a device node or a directory would replace
// it (docs/reliability.md). Header-only: the engine, storage and the app
// share it.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "reasonscope/error.h"

namespace rs {

// Opens `path` for reading without blocking (a FIFO opens at once), checks
// that it is a regular file of at most max_bytes and returns the descriptor
// (the caller closes it) and its size. Throws rs::Error naming `what`.
inline int open_regular_file(const std::string& path, uint64_t max_bytes, const std::string& what,
                             uint64_t* size = nullptr) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open " + what + ": " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file (" + what + ")");
    }
    const auto n = static_cast<uint64_t>(st.st_size);
    if (n > max_bytes) {
        ::close(fd);
        throw Error(path + ": " + what + " of " + std::to_string(n) + " bytes is larger than " +
                    std::to_string(max_bytes));
    }
    if (size) *size = n;
    return fd;
}

// The whole of a regular file of at most max_bytes.
inline std::string read_regular_file(const std::string& path, uint64_t max_bytes,
                                     const std::string& what) {
    uint64_t size = 0;
    const int fd = open_regular_file(path, max_bytes, what, &size);
    std::string out(static_cast<size_t>(size), '\0');
    size_t got = 0;
    while (got < out.size()) {
        const ssize_t r = ::read(fd, out.data() + got, out.size() - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            const int e = errno;
            ::close(fd);
            throw Error(path + ": cannot read " + what + ": " + std::strerror(e));
        }
        if (r == 0) break;  // it shrank meanwhile
        got += static_cast<size_t>(r);
    }
    ::close(fd);
    out.resize(got);
    return out;
}

// An atomic writer renames its temporary file over `path` only when the
// path is absent or a regular file; anything else (a device such as
// /dev/full, a FIFO, a directory) throws rs::Error naming `what`.
inline void check_replaceable(const std::string& path, const std::string& what) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return;  // absent (or unreachable: the write will say)
    if (!S_ISREG(st.st_mode))
        throw Error(path + ": not a regular file; will not replace it with the " + what);
}

}  // namespace rs
