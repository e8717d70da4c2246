// The group commit of received files with small files written without a name (issue 15,
// targets 3 and 4 together): the order of the system calls that make a file "done" and how
// many folder syncs a folder of small files costs. This test binary defines fsync, fdatasync,
// linkat and renameat2 itself (they record what is called, then call the C library's), so it
// sees exactly what the disk thread does.
#include "common/sha256.h"
#include "transfer/transfermanager.h"
#include "transfer/transferprotocol.h"

#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <mutex>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace Punchline;

namespace {

constexpr int Timeout = 60000;

struct Call
{
    enum Kind { DataSync, FileSync, FolderSync, Link, Rename, Complete };
    Kind kind;
    int fd; // DataSync/FileSync/FolderSync: the descriptor; Link: the anonymous file's
    int dirFd; // Link/Rename: the folder the name is made in
};

std::mutex g_mutex;
std::vector<Call> g_calls;
bool g_recording = false;

void record(Call call)
{
    std::lock_guard lock(g_mutex);
    if (g_recording)
        g_calls.push_back(call);
}

template <typename F> F next(const char *name)
{
    return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

bool isFolder(int fd)
{
    struct stat st = {};
    return ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

QByteArray randomBytes(qint64 size, quint32 seed)
{
    QByteArray data(size, Qt::Uninitialized);
    QRandomGenerator rng(seed);
    for (qint64 i = 0; i < size; ++i)
        data[i] = char(rng.bounded(256));
    return data;
}

} // namespace

extern "C" int fsync(int fd)
{
    static const auto real = next<int (*)(int)>("fsync");
    record({ isFolder(fd) ? Call::FolderSync : Call::FileSync, fd, -1 });
    return real(fd);
}

extern "C" int fdatasync(int fd)
{
    static const auto real = next<int (*)(int)>("fdatasync");
    record({ Call::DataSync, fd, -1 });
    return real(fd);
}

extern "C" int linkat(int fromFd, const char *from, int toFd, const char *to, int flags) __THROW
{
    static const auto real = next<int (*)(int, const char *, int, const char *, int)>("linkat");
    const int rc = real(fromFd, from, toFd, to, flags);
    static const char proc[] = "/proc/self/fd/";
    if (rc != 0 || toFd == AT_FDCWD)
        return rc; // ours always name files relative to a folder's descriptor (not QSaveFile's)
    if (::strncmp(from, proc, sizeof proc - 1) == 0)
        record({ Call::Link, ::atoi(from + sizeof proc - 1), toFd });
    else
        record({ Call::Rename, -1, toFd }); // renameat2's fallback
    return rc;
}

extern "C" int renameat2(
    int fromFd, const char *from, int toFd, const char *to, unsigned int flags) __THROW
{
    static const auto real
        = next<int (*)(int, const char *, int, const char *, unsigned int)>("renameat2");
    const int rc = real(fromFd, from, toFd, to, flags);
    if (rc == 0 && toFd != AT_FDCWD)
        record({ Call::Rename, -1, toFd });
    return rc;
}

class TestTransferCommit : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void smallFilesAreSyncedLinkedAndTheirFolderSyncedOncePerBatch();
};

// 200 files of 3000 bytes in two folders arrive at once (a fast sender). Each is written
// without a name, its data synced (fdatasync) before it is linked to its name, and its folder
// synced after the link, all before Complete goes out; the files of one folder share its
// handle, so a batch syncs each folder once instead of once per file.
void TestTransferCommit::smallFilesAreSyncedLinkedAndTheirFolderSyncedOncePerBatch()
{
    constexpr int Files = 200;
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString dl = tmp.filePath(QStringLiteral("dl"));
    QDir().mkpath(dl);
    bool anonymous = false;
#if defined(__linux__) && defined(O_TMPFILE)
    const int probe = ::open(QFile::encodeName(dl).constData(), O_TMPFILE | O_WRONLY, 0600);
    anonymous = probe >= 0;
    if (probe >= 0)
        ::close(probe);
#endif

    TransferManager manager(dl, tmp.filePath(QStringLiteral("state")), AcceptPolicy::All);
    bool complete = false;
    bool accepted = false;
    manager.setSendControl([&](quint16 type, const QByteArray &) {
        if (type == TransferProtocol::Accept)
            accepted = true;
        if (type == TransferProtocol::Complete) {
            complete = true;
            record({ Call::Complete, -1, -1 });
        }
    });
    manager.onLinkUp();
    const QByteArray id = QByteArray::fromHex("0f1e2d3c4b5a69788796a5b4c3d2e1f0");
    QList<OfferFile> files;
    QList<QByteArray> contents;
    for (int i = 0; i < Files; ++i) {
        files.append({ QStringLiteral("folder/%1/f%2")
                           .arg(i < Files / 2 ? QLatin1Char('a') : QLatin1Char('b'))
                           .arg(i),
            3000, 0 });
        contents.append(randomBytes(3000, quint32(i)));
    }
    for (const QByteArray &part : TransferProtocol::encodeOffer(id, files, qint64(Files) * 3000))
        manager.handleFrame(TransferProtocol::Offer, part);
    QTRY_VERIFY_WITH_TIMEOUT(accepted, Timeout);

    {
        std::lock_guard lock(g_mutex);
        g_recording = true;
    }
    for (int i = 0; i < Files; ++i) {
        manager.handleFrame(TransferProtocol::Data,
            TransferProtocol::encodeData(id, quint32(i), 0, contents.at(i)));
        manager.handleFrame(TransferProtocol::FileEnd,
            TransferProtocol::encodeFileEnd(id, i, Sha256::hash(contents.at(i))));
    }
    QTRY_VERIFY_WITH_TIMEOUT(complete, Timeout);
    std::vector<Call> calls;
    {
        std::lock_guard lock(g_mutex);
        g_recording = false;
        calls.swap(g_calls);
    }
    for (int i = 0; i < Files; ++i) {
        QFile f(dl + QLatin1Char('/') + files.at(i).path);
        QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(files.at(i).path));
        QCOMPARE(f.readAll(), contents.at(i));
    }

    int dataSyncs = 0;
    int names = 0;
    int folderSyncs = 0;
    qsizetype completeAt = -1;
    qsizetype lastFolderSync = -1;
    for (qsizetype i = 0; i < qsizetype(calls.size()); ++i) {
        const Call &c = calls.at(size_t(i));
        switch (c.kind) {
        case Call::DataSync:
            ++dataSyncs;
            break;
        case Call::FolderSync:
            ++folderSyncs;
            lastFolderSync = i;
            break;
        case Call::Link:
        case Call::Rename: {
            ++names;
            QCOMPARE(c.kind, anonymous ? Call::Link : Call::Rename);
            if (c.kind == Call::Link) {
                // The last call on its descriptor before the link is its data sync.
                qsizetype before = i - 1;
                while (before >= 0 && calls.at(size_t(before)).fd != c.fd)
                    --before;
                QVERIFY2(before >= 0 && calls.at(size_t(before)).kind == Call::DataSync,
                    "a file was linked before its data was synced");
            }
            // Its folder is synced after it got its name, before Complete.
            bool synced = false;
            for (size_t j = size_t(i) + 1; j < calls.size() && !synced; ++j)
                synced = calls.at(j).kind == Call::FolderSync && calls.at(j).fd == c.dirFd;
            QVERIFY2(synced, "a folder was not synced after a name was made in it");
            break;
        }
        case Call::Complete:
            completeAt = i;
            break;
        case Call::FileSync:
            break;
        }
    }
    qInfo() << "data syncs" << dataSyncs << "names" << names << "folder syncs" << folderSyncs
            << (anonymous ? "(anonymous files)" : "(partial files renamed)");
    QVERIFY(dataSyncs >= Files); // the record saved at the end may sync too
    QCOMPARE(names, Files);
    QVERIFY(completeAt > lastFolderSync);
    // Two folders, batched: a handful of folder syncs, not one per file.
    QVERIFY2(folderSyncs >= 2 && folderSyncs <= Files / 8,
        qPrintable(QStringLiteral("%1 folder syncs for %2 files").arg(folderSyncs).arg(Files)));
}

QTEST_GUILESS_MAIN(TestTransferCommit)
#include "tst_transfercommit.moc"
