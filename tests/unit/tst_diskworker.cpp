// DiskWorker, the transfers' file thread: jobs in order off the owner's thread, replies in
// order on it, errors carried back as values, stop flags honoured mid-stream, and shutdown with
// jobs queued and one running (ASan build: nothing used after it is freed).
#include "common/sha256.h"
#include "transfer/diskworker.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSemaphore>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <atomic>
#include <fcntl.h>
#include <memory>
#include <thread>
#include <unistd.h>

using namespace Punchline;

class TestDiskWorker : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void jobsAndRepliesKeepTheirOrder();
    void replyRunsOnTheOwnersThread();
    void waitIdleRunsNoReplyAndDrainRunsThemAll();
    void boundedByBytes();
    void writeErrorIsCarriedBackAndSticks();
    void writeHashesWhatLanded();
    void readOfAShortFileFails();
    void stopSkipsTheRest();
    void destroyedWithJobsInFlight();
    void noThreadUntilUsed();
};

void TestDiskWorker::jobsAndRepliesKeepTheirOrder()
{
    DiskWorker worker("tst-order");
    std::vector<int> ran; // touched by the worker only (jobs run one at a time)
    QList<int> replied;
    for (int i = 0; i < 2000; ++i) {
        worker.post([&ran, &replied, i] {
            ran.push_back(i);
            return [&replied, i] { replied.append(i); };
        });
    }
    QTRY_COMPARE_WITH_TIMEOUT(replied.size(), 2000, 20000);
    QVERIFY(worker.isIdle());
    for (int i = 0; i < 2000; ++i) {
        QCOMPARE(ran.at(size_t(i)), i);
        QCOMPARE(replied.at(i), i);
    }
}

void TestDiskWorker::replyRunsOnTheOwnersThread()
{
    DiskWorker worker("tst-thread");
    QThread *jobThread = nullptr;
    QThread *replyThread = nullptr;
    worker.post([&] {
        jobThread = QThread::currentThread();
        return [&] { replyThread = QThread::currentThread(); };
    });
    QTRY_VERIFY_WITH_TIMEOUT(replyThread != nullptr, 5000);
    QCOMPARE(replyThread, QThread::currentThread());
    QVERIFY(jobThread != QThread::currentThread());
}

void TestDiskWorker::waitIdleRunsNoReplyAndDrainRunsThemAll()
{
    DiskWorker worker("tst-drain");
    std::atomic<int> ran { 0 };
    int replied = 0;
    for (int i = 0; i < 50; ++i) {
        worker.post([&ran, &replied] {
            QThread::usleep(200);
            ++ran;
            return [&replied] { ++replied; };
        });
    }
    worker.waitIdle();
    QCOMPARE(ran.load(), 50);
    QCOMPARE(replied, 0); // not from inside waitIdle: no caller is re-entered
    QVERIFY(!worker.isIdle()); // replies still to deliver
    worker.drain();
    QCOMPARE(replied, 50);
    QVERIFY(worker.isIdle());
    QCoreApplication::processEvents(); // the queued delivery finds nothing left
    QCOMPARE(replied, 50);
}

void TestDiskWorker::boundedByBytes()
{
    DiskWorker worker("tst-bytes");
    QSemaphore gate;
    worker.post([&gate] {
        gate.acquire();
        return DiskWorker::Reply();
    });
    for (int i = 0; i < 10; ++i)
        worker.post([] { return DiskWorker::Reply(); }, 1000);
    QCOMPARE(worker.pendingBytes(), 10000);
    gate.release();
    worker.waitForBytesBelow(0);
    QCOMPARE(worker.pendingBytes(), 0);
}

void TestDiskWorker::writeErrorIsCarriedBackAndSticks()
{
    // /dev/full answers every write with ENOSPC: the receiver's "disk full mid-transfer".
    const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        QSKIP("no /dev/full here");
    DiskWorker worker("tst-error");
    auto file = std::make_shared<DiskFile>(fd);
    file->what = QStringLiteral("x.bin in /downloads");
    QList<Error> errors;
    int writes = 0;
    const QByteArray chunk(4096, 'a');
    for (int i = 0; i < 3; ++i) {
        worker.post([file, chunk, i, &errors, &writes]() -> DiskWorker::Reply {
            if (file->error.isError())
                return {};
            ++writes;
            if (file->write(chunk.constData(), chunk.size(), qint64(i) * chunk.size()))
                return {};
            return [&errors, error = file->error] { errors.append(error); };
        });
    }
    worker.drain();
    QCOMPARE(writes, 1); // the first failure sticks, the rest is skipped
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.first().code, ErrorCode::DiskFull);
    QVERIFY2(errors.first().message.contains(QStringLiteral("x.bin in /downloads")),
        qPrintable(errors.first().message));
    QCOMPARE(file->size, 0);
    QVERIFY(!file->write(chunk.constData(), chunk.size(), 0));
}

void TestDiskWorker::writeHashesWhatLanded()
{
    QTemporaryDir dir;
    const QByteArray path = QFile::encodeName(dir.filePath(QStringLiteral("f")));
    const int fd = ::open(path.constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    QVERIFY(fd >= 0);
    DiskWorker worker("tst-hash");
    auto file = std::make_shared<DiskFile>(fd);
    file->writeBehind = true; // crosses two 8 MiB windows: write-back started and awaited
    QByteArray all;
    for (int i = 0; i < 160; ++i) {
        const QByteArray chunk(128 * 1024, char('a' + i % 26));
        const qint64 offset = all.size();
        all += chunk;
        worker.post(
            [file, chunk, offset] {
                file->write(chunk.constData(), chunk.size(), offset);
                return DiskWorker::Reply();
            },
            chunk.size());
    }
    Error error;
    bool synced = false;
    worker.post([file, &error, &synced] {
        synced = file->syncData(&error);
        return DiskWorker::Reply();
    });
    worker.waitIdle();
    QVERIFY2(synced, qPrintable(error.message));
    QCOMPARE(file->size, all.size());
    QCOMPARE(file->hash.result(), Sha256::hash(all));
    QFile back(QString::fromLocal8Bit(path));
    QVERIFY(back.open(QIODevice::ReadOnly));
    QCOMPARE(back.readAll(), all);
}

void TestDiskWorker::readOfAShortFileFails()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("short"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray(1000, 'x'));
    f.close();
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
    QVERIFY(fd >= 0);
    DiskFile file(fd);
    file.what = path;
    QByteArray out(2000, Qt::Uninitialized);
    QVERIFY(file.read(out.data(), 500, 0));
    QCOMPARE(file.hash.result(), Sha256::hash(QByteArray(500, 'x')));
    QVERIFY(!file.read(out.data(), 1000, 500));
    QCOMPARE(file.error.code, ErrorCode::FileError);
    QVERIFY2(
        file.error.message.contains(QStringLiteral("shorter")), qPrintable(file.error.message));
}

// A transfer canceled mid-stream: the jobs queued for its file are skipped, and the file's
// descriptor is closed when the last of them lets go of it.
void TestDiskWorker::stopSkipsTheRest()
{
    QTemporaryDir dir;
    const QByteArray path = QFile::encodeName(dir.filePath(QStringLiteral("f")));
    const int fd = ::open(path.constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    QVERIFY(fd >= 0);
    DiskWorker worker("tst-stop");
    auto file = std::make_shared<DiskFile>(fd);
    QSemaphore gate;
    worker.post([&gate] {
        gate.acquire();
        return DiskWorker::Reply();
    });
    std::atomic<int> written { 0 };
    const QByteArray chunk(1024, 'z');
    for (int i = 0; i < 100; ++i) {
        worker.post([file, chunk, i, &written] {
            if (!file->stop && file->write(chunk.constData(), chunk.size(), qint64(i) * 1024))
                ++written;
            return DiskWorker::Reply();
        });
    }
    std::weak_ptr<DiskFile> watch = file;
    file->stop = true;
    file.reset();
    gate.release();
    worker.waitIdle();
    QCOMPARE(written.load(), 0);
    QVERIFY(watch.expired()); // closed with the last job
    QCOMPARE(QFileInfo(QString::fromLocal8Bit(path)).size(), 0);
}

// The manager goes (the peer is removed, the app quits) while a chunk is being written and
// more are queued: the destructor waits for the running job only, drops the rest with what
// they hold, and no reply runs afterwards.
void TestDiskWorker::destroyedWithJobsInFlight()
{
    auto worker = std::make_unique<DiskWorker>("tst-teardown");
    QSemaphore started;
    QSemaphore gate;
    auto held = std::make_shared<int>(7);
    std::weak_ptr<int> watch = held;
    std::atomic<int> ran { 0 };
    int replied = 0;
    worker->post([&] {
        started.release();
        gate.acquire();
        ++ran;
        return [&replied] { ++replied; };
    });
    for (int i = 0; i < 100; ++i) {
        worker->post([held, &ran, &replied] {
            ++ran;
            return [&replied] { ++replied; };
        });
    }
    held.reset();
    // The first job runs; it ends while the destructor waits for it.
    QVERIFY(started.tryAcquire(1, 5000));
    std::thread releaser([&gate] {
        QThread::msleep(200);
        gate.release();
    });
    worker.reset();
    releaser.join();
    QCOMPARE(ran.load(), 1);
    QVERIFY(watch.expired()); // the queued jobs and what they held are gone
    QCoreApplication::processEvents();
    QCoreApplication::sendPostedEvents();
    QCOMPARE(replied, 0);
}

void TestDiskWorker::noThreadUntilUsed()
{
    // Threads of this process before and after making (not using) a worker.
    const auto threads = [] {
        return QDir(QStringLiteral("/proc/self/task"))
            .entryList(QDir::Dirs | QDir::NoDotAndDotDot)
            .size();
    };
    const auto before = threads();
    {
        DiskWorker idle("tst-idle");
        QCOMPARE(threads(), before);
        QVERIFY(idle.isIdle());
    }
    QCOMPARE(threads(), before);
}

QTEST_GUILESS_MAIN(TestDiskWorker)
#include "tst_diskworker.moc"
