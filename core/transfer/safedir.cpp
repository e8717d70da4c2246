#include "safedir.h"

#include "pathsafety.h"

#include <QDir>
#include <QFile>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace Punchline {

namespace {

constexpr int MaxNumbered = 9999;

QByteArray encoded(const QString &name)
{
    return QFile::encodeName(name);
}

} // namespace

SafeDir::SafeDir(SafeDir &&other) noexcept
    : m_fd(std::exchange(other.m_fd, -1))
    , m_path(std::move(other.m_path))
{
}

SafeDir &SafeDir::operator=(SafeDir &&other) noexcept
{
    std::swap(m_fd, other.m_fd);
    std::swap(m_path, other.m_path);
    return *this;
}

SafeDir::~SafeDir()
{
    if (m_fd >= 0)
        ::close(m_fd);
}

Error SafeDir::errnoError(int err, const QString &what)
{
    if (err == ENOSPC || err == EDQUOT)
        return { ErrorCode::DiskFull, QStringLiteral("The disk is full (%1).").arg(what) };
    return { ErrorCode::FileError,
        QStringLiteral("%1: %2.").arg(what, QString::fromLocal8Bit(strerror(err))) };
}

SafeDir SafeDir::openRoot(const QString &absolutePath, Error *error)
{
    if (absolutePath.isEmpty() || !QDir::isAbsolutePath(absolutePath)) {
        *error = { ErrorCode::FileError, QStringLiteral("No download folder is set.") };
        return {};
    }
    QDir().mkpath(absolutePath);
    const int fd = ::open(encoded(absolutePath).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        *error = errnoError(
            errno, QStringLiteral("cannot open the download folder %1").arg(absolutePath));
        return {};
    }
    return SafeDir(fd, QDir::cleanPath(absolutePath));
}

SafeDir SafeDir::openPath(const QStringList &names, bool create, Error *error) const
{
    const int first = ::fcntl(m_fd, F_DUPFD_CLOEXEC, 0);
    if (first < 0) {
        *error = errnoError(errno, QStringLiteral("cannot open %1").arg(m_path));
        return {};
    }
    SafeDir current(first, m_path);
    for (const QString &name : names) {
        const QByteArray n = encoded(name);
        const QString where = current.m_path + QLatin1Char('/') + name;
        if (create && ::mkdirat(current.m_fd, n.constData(), 0755) != 0 && errno != EEXIST) {
            *error = errnoError(errno, QStringLiteral("cannot create the folder %1").arg(where));
            return {};
        }
        const int fd = ::openat(
            current.m_fd, n.constData(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            const int err = errno;
            if (err == ELOOP || err == ENOTDIR)
                *error = { ErrorCode::FileError,
                    QStringLiteral("%1 is a symbolic link or not a folder; refusing to write "
                                   "through it.")
                        .arg(where) };
            else if (err == ENOENT && !create)
                *error = { ErrorCode::None, QString() };
            else
                *error = errnoError(err, QStringLiteral("cannot open the folder %1").arg(where));
            return {};
        }
        current = SafeDir(fd, where);
    }
    return current;
}

QString SafeDir::createUniqueDir(const QString &name, Error *error) const
{
    for (int n = 0; n <= MaxNumbered; ++n) {
        const QString candidate = n == 0 ? name : PathSafety::numberedName(name, n);
        if (::mkdirat(m_fd, encoded(candidate).constData(), 0755) == 0)
            return candidate;
        if (errno != EEXIST) {
            *error = errnoError(
                errno, QStringLiteral("cannot create the folder %1/%2").arg(m_path, candidate));
            return {};
        }
    }
    *error = { ErrorCode::FileError,
        QStringLiteral("Too many folders named like %1 in %2.").arg(name, m_path) };
    return {};
}

int SafeDir::openForWrite(const QString &name, bool truncate, Error *error) const
{
    const QString where = m_path + QLatin1Char('/') + name;
    // O_NONBLOCK: opening a FIFO planted under our name must fail, not hang (cleared below).
    // Never O_TRUNC here: a hard link planted under our name would have its other name's file
    // truncated before the link count below could refuse it.
    const int fd = ::openat(m_fd, encoded(name).constData(),
        O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd < 0) {
        const int err = errno;
        if (err == ELOOP)
            *error = { ErrorCode::FileError,
                QStringLiteral("%1 is a symbolic link; refusing to write through it.").arg(where) };
        else
            *error = errnoError(err, QStringLiteral("cannot write %1").arg(where));
        return -1;
    }
    struct stat st = {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        ::close(fd);
        *error = { ErrorCode::FileError,
            QStringLiteral("%1 is not a plain file; refusing to write it.").arg(where) };
        return -1;
    }
    // A new file (the common case: one per file received) is empty already.
    if (truncate && st.st_size != 0 && ::ftruncate(fd, 0) != 0) {
        const int err = errno;
        ::close(fd);
        *error = errnoError(err, QStringLiteral("cannot write %1").arg(where));
        return -1;
    }
    clearNonBlocking(fd);
    return fd;
}

int SafeDir::openForRead(const QString &name, Error *error) const
{
    const int fd
        = ::openat(m_fd, encoded(name).constData(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *error = errno == ENOENT
            ? Error {}
            : errnoError(errno, QStringLiteral("cannot read %1/%2").arg(m_path, name));
        return -1;
    }
    struct stat st = {};
    // A hard link would let whoever planted it learn (through our resume hash) about a file
    // it cannot read.
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        ::close(fd);
        *error = { ErrorCode::FileError,
            QStringLiteral("%1/%2 is not a plain file.").arg(m_path, name) };
        return -1;
    }
    clearNonBlocking(fd);
    return fd;
}

qint64 SafeDir::fileSize(const QString &name) const
{
    struct stat st = {};
    if (::fstatat(m_fd, encoded(name).constData(), &st, AT_SYMLINK_NOFOLLOW) != 0
        || !S_ISREG(st.st_mode))
        return -1;
    return st.st_size;
}

// Our descriptors are opened O_NONBLOCK (a FIFO must not hang the open) and checked to be
// regular files; the flag goes again. One fcntl: we know what the status flags hold (O_APPEND,
// O_DIRECT etc. are never set here), so there is nothing to read first.
void SafeDir::clearNonBlocking(int fd)
{
    ::fcntl(fd, F_SETFL, 0);
}

// Renames without replacing: 0, or an errno (EEXIST when `to` is taken).
int SafeDir::renameNoReplace(int dirFd, const char *from, const char *to)
{
#if defined(__linux__) && defined(RENAME_NOREPLACE)
    if (::renameat2(dirFd, from, dirFd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
        // File systems without RENAME_NOREPLACE: fall through to the portable way.
#endif
    // A hard link fails on an existing name, so nothing is ever replaced; then the old name
    // goes. (macOS has renameatx_np(RENAME_EXCL); linkat is POSIX and enough here.)
    if (::linkat(dirFd, from, dirFd, to, 0) != 0)
        return errno;
    ::unlinkat(dirFd, from, 0);
    return 0;
}

QString SafeDir::renameUnique(const QString &from, const QString &wanted, Error *error) const
{
    const QByteArray source = encoded(from);
    for (int n = 0; n <= MaxNumbered; ++n) {
        const QString candidate = n == 0 ? wanted : PathSafety::numberedName(wanted, n);
        const int err = renameNoReplace(m_fd, source.constData(), encoded(candidate).constData());
        if (err == 0)
            return candidate;
        if (err != EEXIST) {
            *error = errnoError(err, QStringLiteral("cannot rename %1/%2").arg(m_path, from));
            return {};
        }
    }
    *error = { ErrorCode::FileError,
        QStringLiteral("Too many files named like %1 in %2.").arg(wanted, m_path) };
    return {};
}

int SafeDir::openAnonymous(Error *error) const
{
    *error = {};
#if defined(__linux__) && defined(O_TMPFILE)
    // linkUnique() names the file through /proc/self/fd (linkat with AT_EMPTY_PATH needs
    // CAP_DAC_READ_SEARCH): without /proc the named way is used.
    static const bool procFd = ::access("/proc/self/fd", X_OK) == 0;
    if (!procFd)
        return -1;
    const int fd = ::openat(m_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0)
        return fd;
    const int err = errno;
    if (err == EOPNOTSUPP || err == EISDIR || err == EINVAL || err == ENOENT)
        return -1; // not here: the caller names a partial file instead
    *error = errnoError(err, QStringLiteral("cannot write in %1").arg(m_path));
#endif
    return -1;
}

QString SafeDir::linkUnique(int fd, const QString &wanted, Error *error) const
{
    const QByteArray source = "/proc/self/fd/" + QByteArray::number(fd);
    for (int n = 0; n <= MaxNumbered; ++n) {
        const QString candidate = n == 0 ? wanted : PathSafety::numberedName(wanted, n);
        if (::linkat(AT_FDCWD, source.constData(), m_fd, encoded(candidate).constData(),
                AT_SYMLINK_FOLLOW)
            == 0)
            return candidate;
        if (errno != EEXIST) {
            *error = errnoError(errno, QStringLiteral("cannot name %1/%2").arg(m_path, candidate));
            return {};
        }
    }
    *error = { ErrorCode::FileError,
        QStringLiteral("Too many files named like %1 in %2.").arg(wanted, m_path) };
    return {};
}

bool SafeDir::removeFile(const QString &name) const
{
    return ::unlinkat(m_fd, encoded(name).constData(), 0) == 0;
}

bool SafeDir::removeEmptyDir(const QString &name) const
{
    return ::unlinkat(m_fd, encoded(name).constData(), AT_REMOVEDIR) == 0;
}

} // namespace Punchline
