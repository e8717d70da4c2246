#include "diskworker.h"

#include "safedir.h"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>
#if defined(__linux__)
#include <pthread.h>
#endif

namespace Punchline {

DiskFile::~DiskFile()
{
    close();
}

void DiskFile::close()
{
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

bool DiskFile::write(const char *data, qint64 length, qint64 offset)
{
    if (error.isError())
        return false;
    qint64 done = 0;
    while (done < length) {
        const ssize_t n = ::pwrite(fd, data + done, size_t(length - done), off_t(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            error = SafeDir::errnoError(
                n < 0 ? errno : ENOSPC, QStringLiteral("cannot write %1").arg(what));
            break;
        }
        done += n;
    }
    hash.addData(data, done); // what did land stays usable for a resume
    size = offset + done;
#if defined(__linux__)
    if (writeBehind && !error.isError() && offset / WriteBehindWindow != size / WriteBehindWindow) {
        const qint64 window = size / WriteBehindWindow - 1; // the one just filled
        ::sync_file_range(
            fd, off_t(window * WriteBehindWindow), off_t(WriteBehindWindow), SYNC_FILE_RANGE_WRITE);
        if (window > 0) {
            const off_t before = off_t((window - 1) * WriteBehindWindow);
            ::sync_file_range(fd, before, off_t(WriteBehindWindow),
                SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
            ::posix_fadvise(fd, before, off_t(WriteBehindWindow), POSIX_FADV_DONTNEED);
        }
    }
#endif
    return !error.isError();
}

bool DiskFile::read(char *out, qint64 length, qint64 offset)
{
    if (error.isError())
        return false;
    qint64 done = 0;
    while (done < length) {
        const ssize_t n = ::pread(fd, out + done, size_t(length - done), off_t(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            error = n < 0 ? SafeDir::errnoError(errno, QStringLiteral("cannot read %1").arg(what))
                          : Error { ErrorCode::FileError,
                                QStringLiteral("%1 became shorter while it was sent.").arg(what) };
            return false;
        }
        done += n;
    }
    hash.addData(out, done);
    size = offset + done;
    return true;
}

bool DiskFile::syncData(Error *err)
{
    int rc;
    do {
#if defined(__APPLE__)
        rc = ::fsync(fd); // no fdatasync; F_FULLFSYNC would be stronger still
#else
        rc = ::fdatasync(fd);
#endif
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        error = SafeDir::errnoError(errno, QStringLiteral("cannot write %1").arg(what));
        *err = error;
        return false;
    }
    return true;
}

void DiskFile::startWriteBack(int fd)
{
#if defined(__linux__)
    ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    Q_UNUSED(fd);
#endif
}

bool DiskFile::syncDir(int fd, const QString &path, Error *error)
{
    int rc;
    do {
        rc = ::fsync(fd);
    } while (rc != 0 && errno == EINTR);
    // Some file systems cannot sync a folder (EINVAL); their renames are as durable as they get.
    if (rc != 0 && errno != EINVAL) {
        *error = SafeDir::errnoError(errno, QStringLiteral("cannot sync the folder %1").arg(path));
        return false;
    }
    return true;
}

DiskWorker::DiskWorker(const char *threadName, QObject *parent)
    : QObject(parent)
    , m_name(threadName)
{
}

DiskWorker::~DiskWorker()
{
    std::unique_lock lock(m_mutex);
    m_stop = true;
    m_jobs.clear(); // what they hold (buffers, files) goes with them
    m_jobBytes = 0;
    m_replies.clear();
    lock.unlock();
    m_wake.notify_all();
    if (m_thread.joinable())
        m_thread.join();
    // Replies still queued are dropped; a deliver() already posted to this object is removed by
    // ~QObject.
}

void DiskWorker::post(Job job, qint64 bytes)
{
    {
        std::lock_guard lock(m_mutex);
        m_jobs.emplace_back(std::move(job), bytes);
        m_jobBytes += bytes;
        if (!m_thread.joinable())
            m_thread = std::thread([this] { loop(); });
    }
    m_wake.notify_one();
}

qsizetype DiskWorker::pending() const
{
    std::lock_guard lock(m_mutex);
    return qsizetype(m_jobs.size() + m_replies.size()) + (m_running ? 1 : 0);
}

qint64 DiskWorker::pendingBytes() const
{
    std::lock_guard lock(m_mutex);
    return m_jobBytes;
}

void DiskWorker::waitForBytesBelow(qint64 bytes)
{
    std::unique_lock lock(m_mutex);
    m_progress.wait(lock, [&] { return m_jobBytes <= bytes || m_stop; });
}

void DiskWorker::waitIdle()
{
    std::unique_lock lock(m_mutex);
    m_progress.wait(lock, [&] { return (m_jobs.empty() && !m_running) || m_stop; });
}

void DiskWorker::drain()
{
    waitIdle();
    deliver();
}

void DiskWorker::loop()
{
#if defined(__linux__)
    pthread_setname_np(pthread_self(), m_name);
#endif
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_wake.wait(lock, [&] { return m_stop || !m_jobs.empty(); });
        if (m_stop)
            return;
        auto [job, bytes] = std::move(m_jobs.front());
        m_jobs.pop_front();
        m_running = true;
        lock.unlock();
        Reply reply = job();
        job = nullptr; // let go of the job's buffers and files here, not under the lock
        lock.lock();
        m_running = false;
        m_jobBytes -= bytes;
        if (reply && !m_stop) {
            m_replies.push_back(std::move(reply));
            if (!m_deliverQueued) {
                m_deliverQueued = true;
                // `this` outlives the call: the destructor joins this thread first.
                QMetaObject::invokeMethod(this, &DiskWorker::deliver, Qt::QueuedConnection);
            }
        }
        lock.unlock();
        m_progress.notify_all();
        lock.lock();
    }
}

// One reply at a time, each taken under the lock and run without it: a reply may post jobs,
// wait, or drain() (which delivers the rest in order from inside it).
void DiskWorker::deliver()
{
    for (;;) {
        Reply reply;
        {
            std::lock_guard lock(m_mutex);
            if (m_replies.empty()) {
                m_deliverQueued = false;
                return;
            }
            reply = std::move(m_replies.front());
            m_replies.pop_front();
        }
        reply();
    }
}

} // namespace Punchline
