#pragma once
// DiskWorker: a transfer's file work (pread/pwrite, SHA-256, fdatasync, the final rename) on a
// thread of its own, so the network thread only decrypts and moves buffers and a second core
// hashes and writes. Jobs run one at a time in the order they were posted; what a job returns
// (a reply) runs afterwards on the thread that owns the worker, again in order, from the event
// loop. Nothing else is shared: a job owns what it works on (a DiskFile, a buffer) and hands
// results back by value in its reply.
//
// The owner bounds memory itself (pendingBytes(), waitForBytesBelow()). waitIdle() is for the
// rare points that must see a file's final state (a link going down, a transfer failing): it
// blocks until the worker has nothing left to run and never runs a reply, so no transfer code
// is re-entered from inside it. drain() also runs the replies, for callers at the top level.
//
// Destruction drops the jobs not started (their replies never run), lets the running one end
// and joins the thread: nothing runs or arrives afterwards.

#include "common/sha256.h"
#include "common/types.h"

#include <QObject>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace Punchline {

// A file a worker reads or writes: its descriptor (closed by the destructor, on whichever thread
// lets go last) and the SHA-256 of the bytes that went through it. While jobs for it are
// pending only the worker touches it; the owner sets `stop` to have the remaining ones skipped.
struct DiskFile
{
    explicit DiskFile(int descriptor, Sha256 state = {}, qint64 bytes = 0)
        : fd(descriptor)
        , hash(std::move(state))
        , size(bytes)
    {
    }
    ~DiskFile();
    DiskFile(const DiskFile &) = delete;
    DiskFile &operator=(const DiskFile &) = delete;

    // pwrite all of `data` at `offset` and hash it (EINTR retried). On failure: false, `size`
    // and `hash` cover exactly what landed, `error` says why (ENOSPC: DiskFull) and it sticks.
    bool write(const char *data, qint64 length, qint64 offset);
    // pread exactly `length` bytes at `offset` into `out` and hash them; a short file is an
    // error.
    bool read(char *out, qint64 length, qint64 offset);
    // fdatasync (errors: EIO, ENOSPC on a thin disk...).
    bool syncData(Error *error);
    void close();

    // Asks the kernel to start writing the file's dirty pages now, without waiting (Linux).
    static void startWriteBack(int fd);
    // fsync of a folder: a rename in it is on disk afterwards.
    static bool syncDir(int fd, const QString &path, Error *error);

    // Write-behind, in windows of this size (see write()).
    static constexpr qint64 WriteBehindWindow = qint64(8) << 20;

    int fd = -1;
    Sha256 hash;
    qint64 size = 0; // bytes written (or read) so far, the prefix the hash covers
    Error error; // the first failure; later writes are skipped
    QString what; // the file as error messages name it ("cannot write <what>: ...")
    // Streams the written data to the disk as it comes (each full window's write-back started
    // at once, the one before it waited for and dropped from the page cache), so the final
    // sync has little left to do and dirty pages never pile up to the kernel's throttling
    // limit. Set by the receiver.
    bool writeBehind = false;
    std::atomic<bool> stop { false };
};

class DiskWorker : public QObject
{
    Q_OBJECT
public:
    using Reply = std::function<void()>; // runs on the owner's thread; may be empty
    using Job = std::function<Reply()>; // runs on the worker thread

    // threadName: shown by ps/top/gdb (Linux: at most 15 characters).
    explicit DiskWorker(const char *threadName, QObject *parent = nullptr);
    ~DiskWorker() override;
    DiskWorker(const DiskWorker &) = delete;
    DiskWorker &operator=(const DiskWorker &) = delete;

    // Queues `job`; `bytes` is what it holds in memory (counted until it has run). The thread
    // starts on first use, so a peer that never transfers costs none.
    void post(Job job, qint64 bytes = 0);
    // What a queued job costs beyond the data it holds (its closure, captures and queue entry:
    // ~150 bytes measured). Owners that queue one job per peer-sent frame add it to `bytes`, so
    // their bound holds in memory when a peer floods tiny frames, not only in payload bytes.
    static constexpr qint64 JobOverheadBytes = 256;
    // Jobs not yet run plus replies not yet delivered.
    qsizetype pending() const;
    qint64 pendingBytes() const; // of the jobs not yet run
    bool isIdle() const { return pending() == 0; }
    // Blocks until the jobs not yet run hold at most `bytes`.
    void waitForBytesBelow(qint64 bytes);
    // Blocks until every job posted so far has run. Replies are not run (see above).
    void waitIdle();
    // waitIdle(), then the replies, in order, now.
    void drain();

private:
    void loop();
    void deliver();

    const char *m_name;
    mutable std::mutex m_mutex;
    std::condition_variable m_wake; // worker: a job or stop
    std::condition_variable m_progress; // owner: a job finished
    std::deque<std::pair<Job, qint64>> m_jobs;
    std::deque<Reply> m_replies;
    qint64 m_jobBytes = 0;
    bool m_running = false; // a job is being run
    bool m_stop = false;
    bool m_deliverQueued = false;
    std::thread m_thread;
};

} // namespace Punchline
