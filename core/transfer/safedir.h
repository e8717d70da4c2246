#pragma once
// A directory held open by descriptor. Everything the receiver creates below the download folder
// goes through openat/mkdirat/renameat2 relative to such handles with O_NOFOLLOW, so a symlink
// planted anywhere below the folder is never followed (Syncthing CVE-2017-1000420), and the
// final rename never replaces an existing file (renameat2(RENAME_NOREPLACE) on Linux, linkat +
// unlinkat elsewhere: no check-then-rename race either way). POSIX only: a Windows build needs
// its own safedir_win.cpp.

#include "common/types.h"

#include <QString>
#include <QStringList>

namespace Punchline {

class SafeDir
{
public:
    SafeDir() = default;
    SafeDir(SafeDir &&other) noexcept;
    SafeDir &operator=(SafeDir &&other) noexcept;
    SafeDir(const SafeDir &) = delete;
    SafeDir &operator=(const SafeDir &) = delete;
    ~SafeDir();

    // The download folder itself (created if missing; the user may point it through a symlink).
    static SafeDir openRoot(const QString &absolutePath, Error *error);

    bool isValid() const { return m_fd >= 0; }
    int fd() const { return m_fd; }
    QString path() const { return m_path; }

    // Walks (and with create, makes) the given names one at a time; any symlink or non-folder
    // on the way is an error.
    SafeDir openPath(const QStringList &names, bool create, Error *error) const;
    // Makes a new folder "name", or "name (1)", "name (2)"... if taken; returns the name used.
    QString createUniqueDir(const QString &name, Error *error) const;
    // Opens (creating) a regular file for writing; never through a symlink, never a FIFO/device.
    // Returns the descriptor or -1.
    int openForWrite(const QString &name, bool truncate, Error *error) const;
    // A new file without a name in this folder (Linux O_TMPFILE), for writing: nothing can be
    // planted under it, and linkUnique() gives it its name in one step. -1 with error code None
    // where the system or file system cannot (the caller uses openForWrite() instead).
    int openAnonymous(Error *error) const;
    // Gives the anonymous file `fd` the name `wanted`, or "wanted (1)"... when taken, never
    // replacing anything (linkat fails on an existing name). Returns the name used, or a null
    // string with *error.
    QString linkUnique(int fd, const QString &wanted, Error *error) const;
    // Opens an existing regular file for reading, or -1 (missing: error code None).
    int openForRead(const QString &name, Error *error) const;
    // Size of a regular file here, -1 if it does not exist or is not a regular file.
    qint64 fileSize(const QString &name) const;
    // Renames `from` to `wanted`, or "wanted (1)"... when taken, never replacing anything.
    // Returns the name used, or a null string with *error.
    QString renameUnique(const QString &from, const QString &wanted, Error *error) const;
    bool removeFile(const QString &name) const;
    bool removeEmptyDir(const QString &name) const; // fails (harmlessly) when not empty

    // errno -> Error (ENOSPC/EDQUOT become DiskFull).
    static Error errnoError(int err, const QString &what);
    // Clears the status flags (O_NONBLOCK) of a descriptor opened with only access flags,
    // O_CREAT/O_NOFOLLOW/O_CLOEXEC and O_NONBLOCK: one fcntl instead of a get and a set.
    static void clearNonBlocking(int fd);

private:
    static int renameNoReplace(int dirFd, const char *from, const char *to);
    SafeDir(int fd, QString path)
        : m_fd(fd)
        , m_path(std::move(path))
    {
    }
    int m_fd = -1;
    QString m_path;
};

} // namespace Punchline
