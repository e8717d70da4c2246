// Two TransferManagers back to back in one process (LoopbackPump: control frames in order, bulk
// frames pulled while the "link" has room), on real files with real OpenSSL hashing. Also a
// hand-made hostile peer, a reconnect, a receiver restart, a sender restart and a full disk.
#include "common/sha256.h"
#include "support/loopbackpump.h"
#include "transfer/pathsafety.h"
#include "transfer/safedir.h"
#include "transfer/transferbudget.h"
#include "transfer/transfermanager.h"
#include "transfer/transferprotocol.h"

#include <QDirIterator>
#include <QProcess>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

using namespace Punchline;

namespace {

constexpr int Timeout = 60000;
constexpr int ShortTimeout = 5000; // hand-made frames: answers come from the next event-loop turn

QByteArray randomBytes(qint64 size, quint32 seed)
{
    QByteArray data(size, Qt::Uninitialized);
    QRandomGenerator rng(seed);
    qint64 i = 0;
    for (; i + 4 <= size; i += 4) {
        const quint32 v = rng.generate();
        memcpy(data.data() + i, &v, 4);
    }
    for (; i < size; ++i)
        data[i] = char(rng.bounded(256));
    return data;
}

void writeFile(const QString &path, const QByteArray &data)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    QFile f(path);
    QVERIFY2(f.open(QIODevice::WriteOnly), qPrintable(path));
    QCOMPARE(f.write(data), data.size());
}

QByteArray readFile(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return QByteArray("<missing>");
    return f.readAll();
}

// Every entry below dir, relative, sorted (files and folders; symlinks not followed).
QStringList listTree(const QString &dir)
{
    QStringList out;
    QDirIterator it(dir, QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot,
        QDirIterator::Subdirectories);
    while (it.hasNext())
        out.append(QDir(dir).relativeFilePath(it.next()));
    out.sort();
    return out;
}

QStringList partials(const QString &dir)
{
    QStringList out;
    for (const QString &p : listTree(dir)) {
        if (p.endsWith(PathSafety::partialSuffix()))
            out.append(p);
    }
    return out;
}

// One end: a manager and everything it reported.
class Side : public QObject
{
public:
    Side(const QString &downloadDir, const QString &stateDir, AcceptPolicy policy)
        : manager(new TransferManager(downloadDir, stateDir, policy))
    {
        connect(manager.get(), &TransferManager::transferUpdated, this,
            [this](const TransferInfo &info) {
                updates.append(info);
                last.insert(info.id, info);
            });
    }
    // Unknown ids have no state (a default TransferInfo would say "offered").
    TransferState state(const QString &id) const
    {
        return last.contains(id) ? last.value(id).state : static_cast<TransferState>(-1);
    }
    TransferInfo info(const QString &id) const { return last.value(id); }
    int count(const QString &id, TransferState s) const
    {
        int n = 0;
        for (const TransferInfo &i : updates)
            n += (i.id == id && i.state == s) ? 1 : 0;
        return n;
    }
    QString lastIncomingId() const
    {
        for (qsizetype i = updates.size() - 1; i >= 0; --i) {
            if (updates.at(i).direction == TransferDirection::In)
                return updates.at(i).id;
        }
        return {};
    }

    std::unique_ptr<TransferManager> manager;
    QList<TransferInfo> updates;
    QHash<QString, TransferInfo> last;
};

// A receiver driven by hand-made frames; everything it sends is captured.
struct HandDriven
{
    HandDriven(const QString &downloadDir, const QString &stateDir,
        AcceptPolicy policy = AcceptPolicy::All)
        : side(downloadDir, stateDir, policy)
    {
        side.manager->setSendControl([this](quint16 type, const QByteArray &payload) {
            sent.append({ type, payload });
        });
        side.manager->onLinkUp();
    }
    void offer(const QByteArray &id, const QList<OfferFile> &files)
    {
        qint64 total = 0;
        for (const OfferFile &f : files)
            total += f.size;
        for (const QByteArray &part : TransferProtocol::encodeOffer(id, files, total))
            side.manager->handleFrame(TransferProtocol::Offer, part);
    }
    void data(const QByteArray &id, int index, qint64 offset, const QByteArray &bytes)
    {
        side.manager->handleFrame(TransferProtocol::Data,
            TransferProtocol::encodeData(id, quint32(index), quint64(offset), bytes));
    }
    void fileEnd(const QByteArray &id, int index, const QByteArray &content)
    {
        side.manager->handleFrame(TransferProtocol::FileEnd,
            TransferProtocol::encodeFileEnd(id, index, Sha256::hash(content)));
    }
    // Every Abort sent so far, decoded.
    QList<Error> aborts() const
    {
        QList<Error> out;
        for (const auto &[type, payload] : sent) {
            if (type == TransferProtocol::Abort) {
                const auto abort = TransferProtocol::decodeAbort(payload, nullptr);
                if (abort)
                    out.append(abort->second);
            }
        }
        return out;
    }
    // Entries of the first Accept sent.
    QList<ResumeEntry> acceptEntries() const
    {
        for (const auto &[type, payload] : sent) {
            if (type == TransferProtocol::Accept) {
                const auto part = TransferProtocol::decodeAcceptPart(payload, nullptr);
                if (part)
                    return part->entries;
            }
        }
        return {};
    }

    Side side;
    QList<std::pair<quint16, QByteArray>> sent;
};

QList<OfferFile> manyFiles(int count, const QString &pattern, qint64 size = 1)
{
    QList<OfferFile> files;
    for (int i = 0; i < count; ++i)
        files.append({ pattern.arg(i), size, 0 });
    return files;
}

int openDescriptors()
{
    return int(QDir(QStringLiteral("/proc/self/fd"))
                   .entryList(QDir::AllEntries | QDir::System | QDir::NoDotAndDotDot)
                   .size());
}

qint64 bytesBelow(const QString &dir)
{
    qint64 total = 0;
    QDirIterator it(dir, QDir::Files | QDir::Hidden | QDir::System, QDirIterator::Subdirectories);
    while (it.hasNext())
        total += QFileInfo(it.next()).size();
    return total;
}

} // namespace

class TestTransfer : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void singleFileArrivesIntact();
    void folderTreeArrivesIntact();
    void existingNamesAreNotOverwritten();
    void declineAndPolicies();
    void cancelFromSender();
    void cancelFromReceiver();
    void linkDownResumes();
    void receiverRestartResumes();
    void senderRestartResumesByIdentity();
    void severalTransfersBothWays();
    void lostCompleteAfterRestartIsAnswered();
    void fileChangedWhileSendingFails();
    void manyFilesMultiPartOfferAndResume();
    void senderRefusesSymlinksAndBadNames();
    void safeDirNeverFollowsSymlinks();
    void hostileOffer_data();
    void hostileOffer();
    void moreBytesThanAnnounced_data();
    void moreBytesThanAnnounced();
    void corruptedChunkFails();
    void notEnoughSpaceBeforeAccept();
    void diskFullMidTransferKeepsPartial();
    void safeDirRefusesHardLinksBeforeTruncating();
    void partialNameIsUnpredictable();
    void dataForFinishedFileIsRefused();
    void abortToPeerHidesLocalPaths();
    void resumeStateIsPerPeer();
    void budgetDefaults();
    void offeredFilesAreBoundedPerPeerAndInTotal();
    void acceptedTransfersAreBoundedPerPeerAndInTotal();
    void foldersAppearWithTheirFirstFile();
    void finishedTransfersHoldNoDescriptors();
    void recordsAreBounded();
    void receivedDataDoesNotPileUpInThePageCache();
    void consumedOnlyOnceWritten();
    void receiverDestroyedWithChunksInFlight();
    void senderDestroyedWithReadsInFlight();
    void cancelMidStreamStopsTheWrites();

private:
    QString src(const QString &name = QString()) const
    {
        return m_tmp->filePath(QStringLiteral("src/") + name);
    }
    QString dl() const { return m_tmp->filePath(QStringLiteral("dl")); }
    QString dlA() const { return m_tmp->filePath(QStringLiteral("dl-a")); }
    QString stateA() const { return m_tmp->filePath(QStringLiteral("state-a")); }
    QString stateB() const { return m_tmp->filePath(QStringLiteral("state-b")); }
    void makeSides(AcceptPolicy receiverPolicy = AcceptPolicy::All);
    // Pauses the pump once `bytes` of file data went from side 0 to side 1.
    void pauseAfter(qint64 bytes);
    void waitPaused();

    std::unique_ptr<QTemporaryDir> m_tmp;
    std::unique_ptr<Side> m_a; // sender unless a test says otherwise
    std::unique_ptr<Side> m_b;
    std::unique_ptr<LoopbackPump> m_pump;
    qint64 m_dataSeen = 0;
    QString m_mount;
};

void TestTransfer::init()
{
    m_tmp = std::make_unique<QTemporaryDir>();
    QVERIFY(m_tmp->isValid());
    QDir().mkpath(src());
    m_dataSeen = 0;
}

void TestTransfer::cleanup()
{
    m_pump.reset();
    m_a.reset();
    m_b.reset();
    if (!m_mount.isEmpty()) {
        QProcess::execute(QStringLiteral("umount"), { m_mount });
        m_mount.clear();
    }
    m_tmp.reset();
}

void TestTransfer::makeSides(AcceptPolicy receiverPolicy)
{
    m_pump.reset();
    m_a = std::make_unique<Side>(dlA(), stateA(), AcceptPolicy::Ask);
    m_b = std::make_unique<Side>(dl(), stateB(), receiverPolicy);
    m_pump = std::make_unique<LoopbackPump>(m_a->manager.get(), m_b->manager.get());
    m_pump->setUp(true);
}

void TestTransfer::pauseAfter(qint64 bytes)
{
    LoopbackPump *pump = m_pump.get();
    m_pump->filter = [this, pump, bytes](int from, quint16 type, QByteArray &payload) {
        if (from == 0 && type == TransferProtocol::Data) {
            m_dataSeen += payload.size() - TransferProtocol::DataHeaderSize;
            if (m_dataSeen >= bytes)
                pump->setBulkPaused(true);
        }
        return true;
    };
}

void TestTransfer::waitPaused()
{
    QTRY_VERIFY_WITH_TIMEOUT(m_dataSeen > 0 && m_pump->isQuiet(), Timeout);
    QTest::qWait(20); // let queued updates arrive
}

void TestTransfer::singleFileArrivesIntact()
{
    makeSides();
    const QByteArray data = randomBytes(8 * 1024 * 1024 + 12345, 1);
    writeFile(src(QStringLiteral("movie.bin")), data);
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("movie.bin")) }, &error);
    QVERIFY2(!id.isEmpty(), qPrintable(error.message));
    QVERIFY(!m_a->manager->isIdle());
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Done, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);

    const QString expectedSha = QString::fromLatin1(Sha256::hash(data).toHex());
    const TransferInfo in = m_b->info(id);
    QCOMPARE(in.direction, TransferDirection::In);
    QCOMPARE(in.name, QStringLiteral("movie.bin"));
    QCOMPARE(in.files.size(), 1);
    QCOMPARE(in.total, data.size());
    QCOMPARE(in.bytes, data.size());
    QCOMPARE(in.path, dl() + QStringLiteral("/movie.bin"));
    QCOMPARE(in.sha256, expectedSha);
    QCOMPARE(in.resumedFrom, -1);
    QVERIFY(in.elapsedMs >= 0);
    QVERIFY(!in.error.isError());
    QCOMPARE(readFile(in.path), data);

    const TransferInfo out = m_a->info(id);
    QCOMPARE(out.direction, TransferDirection::Out);
    QCOMPARE(out.sha256, expectedSha);
    QCOMPARE(out.path, src(QStringLiteral("movie.bin")));
    QCOMPARE(listTree(dl()), QStringList { QStringLiteral("movie.bin") }); // no partial left

    // The receiver saw the offer, the accept, progress and the end, in that order.
    QStringList order;
    for (const TransferInfo &i : std::as_const(m_b->updates)) {
        const QString s = transferStateName(i.state);
        if (order.isEmpty() || order.last() != s)
            order.append(s);
    }
    QCOMPARE(order.first(), transferStateName(TransferState::Offered));
    QCOMPARE(order.at(1), transferStateName(TransferState::Accepted));
    QCOMPARE(order.last(), transferStateName(TransferState::Done));
    // Progress is throttled (at most ten a second, plus the first one).
    const int progress = m_b->count(id, TransferState::Progress);
    QVERIFY2(progress <= in.elapsedMs / 100 + 2, qPrintable(QString::number(progress)));
    QVERIFY(m_a->manager->isIdle());
    QVERIFY(m_b->manager->isIdle());
}

void TestTransfer::folderTreeArrivesIntact()
{
    makeSides();
    QHash<QString, QByteArray> content;
    const QString decomposed = QStringLiteral("re") + QChar(0x0301) + QStringLiteral("sume")
        + QChar(0x0301) + QStringLiteral(".txt");
    const QStringList names = { QStringLiteral("tree/a.txt"), QStringLiteral("tree/.hidden"),
        QStringLiteral("tree/empty.bin"), QStringLiteral("tree/sub/Ünïcødé ñame.bin"),
        QStringLiteral("tree/sub/deeper/日本語のファイル.txt"),
        QStringLiteral("tree/sub/deeper/") + decomposed };
    quint32 seed = 10;
    for (const QString &name : names) {
        const QByteArray data = name.endsWith(QStringLiteral("empty.bin"))
            ? QByteArray()
            : randomBytes(QRandomGenerator(seed).bounded(1, 700000), seed);
        ++seed;
        writeFile(src(name), data);
        content.insert(PathSafety::normalizedRelativePath(name), data);
    }
    QDir().mkpath(src(QStringLiteral("tree/empty-folder")));
    QVERIFY(QFile::link(src(QStringLiteral("tree/a.txt")), src(QStringLiteral("tree/link-to-a"))));
    QVERIFY(QFile::link(QStringLiteral("/etc"), src(QStringLiteral("tree/link-to-etc"))));
    const QByteArray loose = randomBytes(300000, 99);
    writeFile(src(QStringLiteral("loose.dat")), loose);
    content.insert(QStringLiteral("loose.dat"), loose);

    Error error;
    const QString id = m_a->manager->offerPaths(
        { src(QStringLiteral("tree")), src(QStringLiteral("loose.dat")) }, &error);
    QVERIFY2(!id.isEmpty(), qPrintable(error.message));
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Done, Timeout);

    const TransferInfo in = m_b->info(id);
    QCOMPARE(in.name, QStringLiteral("2 items"));
    QCOMPARE(in.files.size(), content.size()); // symlinks and the empty folder are not sent
    QCOMPARE(in.path, dl());
    // Every file bit-identical, under its NFC name; nothing else in the folder.
    QStringList expectedTree;
    for (auto it = content.cbegin(); it != content.cend(); ++it) {
        QCOMPARE(readFile(dl() + QLatin1Char('/') + it.key()), it.value());
        QString path = it.key();
        expectedTree.append(path);
        while (path.contains(QLatin1Char('/'))) {
            path = path.section(QLatin1Char('/'), 0, -2);
            if (!expectedTree.contains(path))
                expectedTree.append(path);
        }
    }
    expectedTree.sort();
    QCOMPARE(listTree(dl()), expectedTree);
    // The reported hash is the SHA-256 of the sha256sum-style manifest, same on both sides.
    QByteArray manifest;
    for (const TransferFile &f : in.files)
        manifest += Sha256::hash(content.value(f.relativePath)).toHex() + "  "
            + f.relativePath.toUtf8() + '\n';
    QCOMPARE(in.sha256, QString::fromLatin1(Sha256::hash(manifest).toHex()));
    QCOMPARE(m_a->info(id).sha256, in.sha256);
}

void TestTransfer::existingNamesAreNotOverwritten()
{
    makeSides();
    const QByteArray mine = "the receiver's own report";
    writeFile(dl() + QStringLiteral("/report.pdf"), mine);
    writeFile(dl() + QStringLiteral("/tree/keep.txt"), mine);
    const QByteArray theirs = randomBytes(100000, 3);
    writeFile(src(QStringLiteral("report.pdf")), theirs);
    writeFile(src(QStringLiteral("tree/keep.txt")), theirs);

    Error error;
    const QString id1 = m_a->manager->offerPaths(
        { src(QStringLiteral("report.pdf")), src(QStringLiteral("tree")) }, &error);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id1), TransferState::Done, Timeout);
    QCOMPARE(readFile(dl() + QStringLiteral("/report.pdf")), mine);
    QCOMPARE(readFile(dl() + QStringLiteral("/tree/keep.txt")), mine);
    QCOMPARE(readFile(dl() + QStringLiteral("/report (1).pdf")), theirs);
    QCOMPARE(readFile(dl() + QStringLiteral("/tree (1)/keep.txt")), theirs);

    const QString id2 = m_a->manager->offerPaths({ src(QStringLiteral("report.pdf")) }, &error);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id2), TransferState::Done, Timeout);
    QCOMPARE(m_b->info(id2).path, dl() + QStringLiteral("/report (2).pdf"));
    QCOMPARE(readFile(dl() + QStringLiteral("/report (2).pdf")), theirs);
    QCOMPARE(readFile(dl() + QStringLiteral("/report.pdf")), mine);
}

void TestTransfer::declineAndPolicies()
{
    makeSides(AcceptPolicy::Ask);
    writeFile(src(QStringLiteral("a.txt")), "hello");
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("a.txt")) }, &error);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Offered, Timeout);
    QCOMPARE(m_b->info(id).files.first().relativePath, QStringLiteral("a.txt"));
    QCOMPARE(m_b->info(id).total, 5);
    QTest::qWait(50);
    QCOMPARE(m_a->state(id), TransferState::Offered); // waiting for the user
    m_b->manager->decline(id);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Declined, Timeout);
    QCOMPARE(m_b->state(id), TransferState::Declined);
    QVERIFY(listTree(dl()).isEmpty());

    m_b->manager->setAcceptPolicy(AcceptPolicy::None);
    const QString id2 = m_a->manager->offerPaths({ src(QStringLiteral("a.txt")) }, &error);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id2), TransferState::Declined, Timeout);
    QVERIFY(listTree(dl()).isEmpty());

    m_b->manager->setAcceptPolicy(AcceptPolicy::Ask);
    const QString id3 = m_a->manager->offerPaths({ src(QStringLiteral("a.txt")) }, &error);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id3), TransferState::Offered, Timeout);
    m_b->manager->accept(id3);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id3), TransferState::Done, Timeout);
    QCOMPARE(readFile(dl() + QStringLiteral("/a.txt")), QByteArray("hello"));
}

void TestTransfer::cancelFromSender()
{
    makeSides();
    const QByteArray data = randomBytes(6 * 1024 * 1024, 4);
    writeFile(src(QStringLiteral("big.bin")), data);
    pauseAfter(data.size() / 3);
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("big.bin")) }, &error);
    waitPaused();
    QCOMPARE(partials(dl()).size(), 1);
    m_a->manager->cancel(id);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Canceled, Timeout);
    QCOMPARE(m_a->state(id), TransferState::Canceled);
    QCOMPARE(m_b->info(id).error.code, ErrorCode::Canceled);
    m_pump->setBulkPaused(false);
    QTest::qWait(100);
    QVERIFY(listTree(dl()).isEmpty()); // partial data removed, nothing under the final name
    QVERIFY(m_a->manager->isIdle() && m_b->manager->isIdle());
    QVERIFY(listTree(stateB()).isEmpty()); // no record left to resume
}

void TestTransfer::cancelFromReceiver()
{
    makeSides();
    const QByteArray data = randomBytes(6 * 1024 * 1024, 5);
    writeFile(src(QStringLiteral("tree/big.bin")), data);
    pauseAfter(data.size() / 3);
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("tree")) }, &error);
    waitPaused();
    m_b->manager->cancel(id);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Canceled, Timeout);
    QCOMPARE(m_b->state(id), TransferState::Canceled);
    QCOMPARE(m_a->info(id).error.code, ErrorCode::Canceled);
    m_pump->setBulkPaused(false);
    QTest::qWait(100);
    QVERIFY2(listTree(dl()).isEmpty(), qPrintable(listTree(dl()).join(QLatin1Char(' '))));
}

void TestTransfer::linkDownResumes()
{
    makeSides();
    const QByteArray data = randomBytes(6 * 1024 * 1024 + 7, 6);
    writeFile(src(QStringLiteral("big.bin")), data);
    pauseAfter(data.size() / 3);
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("big.bin")) }, &error);
    waitPaused();

    m_pump->setUp(false);
    QVERIFY(!m_a->manager->isIdle());
    m_pump->filter = nullptr;
    m_pump->setBulkPaused(false);
    m_pump->setUp(true);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Done, Timeout);
    QCOMPARE(readFile(dl() + QStringLiteral("/big.bin")), data);
    QVERIFY(m_b->info(id).resumedFrom >= data.size() / 3);
    QVERIFY(m_a->info(id).resumedFrom >= data.size() / 3);
    // Only the rest crossed the link again.
    QVERIFY2(m_pump->bytesDelivered(1) < data.size() * 11 / 10,
        qPrintable(QString::number(m_pump->bytesDelivered(1))));
    QCOMPARE(m_b->info(id).sha256, QString::fromLatin1(Sha256::hash(data).toHex()));
    QVERIFY(partials(dl()).isEmpty());
}

void TestTransfer::receiverRestartResumes()
{
    makeSides();
    const QByteArray data = randomBytes(6 * 1024 * 1024 + 3, 7);
    writeFile(src(QStringLiteral("tree/sub/big.bin")), data);
    writeFile(src(QStringLiteral("tree/small.txt")), "small");
    pauseAfter(data.size() / 3);
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("tree")) }, &error);
    waitPaused();
    QCOMPARE(partials(dl()).size(), 1);

    // The receiving app is killed (the link goes with it) and started again with its profile.
    m_pump->setUp(false);
    m_pump.reset();
    m_b.reset();
    m_b = std::make_unique<Side>(dl(), stateB(), AcceptPolicy::Ask);
    m_pump = std::make_unique<LoopbackPump>(m_a->manager.get(), m_b->manager.get());
    m_pump->setUp(true);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Done, Timeout);
    QCOMPARE(m_b->count(id, TransferState::Offered), 0); // resumed without asking again
    QVERIFY(m_b->info(id).resumedFrom >= data.size() / 3);
    QVERIFY(m_a->info(id).resumedFrom >= data.size() / 3);
    QCOMPARE(readFile(dl() + QStringLiteral("/tree/sub/big.bin")), data);
    QCOMPARE(readFile(dl() + QStringLiteral("/tree/small.txt")), QByteArray("small"));
    QVERIFY(partials(dl()).isEmpty());
}

void TestTransfer::senderRestartResumesByIdentity()
{
    makeSides(AcceptPolicy::Ask);
    const QByteArray data = randomBytes(5 * 1024 * 1024, 8);
    writeFile(src(QStringLiteral("big.bin")), data);
    pauseAfter(data.size() / 2);
    Error error;
    const QString id1 = m_a->manager->offerPaths({ src(QStringLiteral("big.bin")) }, &error);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id1), TransferState::Offered, Timeout);
    m_b->manager->accept(id1);
    waitPaused();

    // The sender's app dies; started again, its user sends the same file (a new transfer id).
    m_pump->setUp(false);
    m_pump.reset();
    m_a.reset();
    m_a = std::make_unique<Side>(dlA(), stateA(), AcceptPolicy::Ask);
    m_pump = std::make_unique<LoopbackPump>(m_a->manager.get(), m_b->manager.get());
    m_pump->setUp(true);
    const QString id2 = m_a->manager->offerPaths({ src(QStringLiteral("big.bin")) }, &error);
    QVERIFY(id2 != id1);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id2), TransferState::Offered, Timeout);
    m_b->manager->accept(id2);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id2), TransferState::Done, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id2), TransferState::Done, Timeout);
    QVERIFY(m_b->info(id2).resumedFrom >= data.size() / 2);
    QVERIFY(m_a->info(id2).resumedFrom >= data.size() / 2);
    QCOMPARE(m_b->state(id1), TransferState::Failed); // superseded by the new offer
    QCOMPARE(readFile(dl() + QStringLiteral("/big.bin")), data);
    QCOMPARE(listTree(dl()), QStringList { QStringLiteral("big.bin") });
}

void TestTransfer::severalTransfersBothWays()
{
    m_pump.reset();
    m_a = std::make_unique<Side>(dlA(), stateA(), AcceptPolicy::All);
    m_b = std::make_unique<Side>(dl(), stateB(), AcceptPolicy::All);
    m_pump = std::make_unique<LoopbackPump>(m_a->manager.get(), m_b->manager.get());
    const QByteArray one = randomBytes(3 * 1024 * 1024, 20);
    const QByteArray two = randomBytes(3 * 1024 * 1024, 21);
    const QByteArray back = randomBytes(2 * 1024 * 1024, 22);
    writeFile(src(QStringLiteral("one.bin")), one);
    writeFile(src(QStringLiteral("two.bin")), two);
    writeFile(src(QStringLiteral("back.bin")), back);
    // Which transfer each chunk from A belonged to, in wire order.
    QList<QByteArray> order;
    m_pump->filter = [&order](int from, quint16 type, QByteArray &payload) {
        if (from == 0 && type == TransferProtocol::Data)
            order.append(payload.left(TransferProtocol::IdSize));
        return true;
    };
    Error error;
    // Offered while the link is down: sent when it comes up.
    const QString id1 = m_a->manager->offerPaths({ src(QStringLiteral("one.bin")) }, &error);
    const QString id2 = m_a->manager->offerPaths({ src(QStringLiteral("two.bin")) }, &error);
    const QString id3 = m_b->manager->offerPaths({ src(QStringLiteral("back.bin")) }, &error);
    m_pump->setUp(true);
    for (const QString &id : { id1, id2, id3 }) {
        QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Done, Timeout);
        QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);
    }
    QCOMPARE(readFile(dl() + QStringLiteral("/one.bin")), one);
    QCOMPARE(readFile(dl() + QStringLiteral("/two.bin")), two);
    QCOMPARE(readFile(dlA() + QStringLiteral("/back.bin")), back);
    // The two outgoing transfers took turns (round robin), not one after the other.
    const QByteArray raw1 = TransferProtocol::idFromText(id1);
    const qsizetype firstOfOne = order.indexOf(raw1);
    const qsizetype lastOfOne = order.lastIndexOf(raw1);
    int othersInBetween = 0;
    for (qsizetype i = firstOfOne; i < lastOfOne; ++i)
        othersInBetween += order.at(i) != raw1 ? 1 : 0;
    QVERIFY2(othersInBetween >= 5, qPrintable(QString::number(othersInBetween)));
}

void TestTransfer::lostCompleteAfterRestartIsAnswered()
{
    makeSides();
    const QByteArray data = randomBytes(700000, 30);
    writeFile(src(QStringLiteral("doc.pdf")), data);
    bool dropComplete = true;
    m_pump->filter = [&dropComplete](int from, quint16 type, QByteArray &) {
        return !(dropComplete && from == 1 && type == TransferProtocol::Complete);
    };
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("doc.pdf")) }, &error);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);
    QTest::qWait(50);
    QCOMPARE(m_a->state(id), TransferState::Progress); // its Complete never arrived

    // The receiver restarts; the sender re-offers; the record answers "already complete".
    dropComplete = false;
    m_pump->setUp(false);
    m_pump.reset();
    m_b.reset();
    m_b = std::make_unique<Side>(dl(), stateB(), AcceptPolicy::All);
    m_pump = std::make_unique<LoopbackPump>(m_a->manager.get(), m_b->manager.get());
    m_pump->setUp(true);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Done, Timeout);
    QCOMPARE(m_a->info(id).sha256, QString::fromLatin1(Sha256::hash(data).toHex()));
    QCOMPARE(listTree(dl()), QStringList { QStringLiteral("doc.pdf") }); // not received twice
    QCOMPARE(m_b->count(id, TransferState::Offered), 0);
}

void TestTransfer::fileChangedWhileSendingFails()
{
    makeSides();
    const QByteArray data = randomBytes(3 * 1024 * 1024, 31);
    writeFile(src(QStringLiteral("log.txt")), data);
    pauseAfter(data.size() / 3);
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("log.txt")) }, &error);
    waitPaused();
    // Same size, new content and time: a program rewrote the file while it was being sent.
    QFile f(src(QStringLiteral("log.txt")));
    QVERIFY(f.open(QIODevice::ReadWrite));
    f.seek(data.size() - 10);
    f.write("0123456789");
    f.flush();
    QVERIFY(
        f.setFileTime(QDateTime::currentDateTime().addSecs(5), QFileDevice::FileModificationTime));
    f.close();
    m_pump->filter = nullptr;
    m_pump->setBulkPaused(false);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Failed, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Failed, Timeout);
    QCOMPARE(m_a->info(id).error.code, ErrorCode::FileError);
    QVERIFY2(m_a->info(id).error.message.contains(QStringLiteral("changed")),
        qPrintable(m_a->info(id).error.message));
    QVERIFY(!QFile::exists(dl() + QStringLiteral("/log.txt")));
}

void TestTransfer::manyFilesMultiPartOfferAndResume()
{
    makeSides();
    constexpr int Files = 5000;
    for (int i = 0; i < Files; ++i)
        writeFile(src(QStringLiteral("many/sub%1/a file with a rather long name, number %2.txt")
                          .arg(i % 7)
                          .arg(i)),
            QByteArray::number(i) + " content");
    int offers = 0, accepts = 0, ends = 0;
    LoopbackPump *pump = m_pump.get();
    m_pump->filter = [&](int from, quint16 type, QByteArray &) {
        offers += (from == 0 && type == TransferProtocol::Offer) ? 1 : 0;
        accepts += (from == 1 && type == TransferProtocol::Accept) ? 1 : 0;
        if (from == 0 && type == TransferProtocol::FileEnd && ++ends == Files * 9 / 10)
            pump->setBulkPaused(true);
        return true;
    };
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("many")) }, &error);
    QVERIFY2(!id.isEmpty(), qPrintable(error.message));
    QTRY_VERIFY_WITH_TIMEOUT(ends == Files * 9 / 10 && m_pump->isQuiet(), Timeout);
    QVERIFY2(offers > 1, "the offer did not need several frames");
    QCOMPARE(accepts, 1);

    m_pump->setUp(false);
    m_pump->setBulkPaused(false);
    m_pump->setUp(true);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Done, Timeout);
    QVERIFY2(accepts > 2, "the answer listing 4500 finished files should span several frames");
    QCOMPARE(ends, Files); // finished files were not sent again
    QVERIFY(m_b->info(id).resumedFrom > 0);
    QCOMPARE(m_a->info(id).sha256, m_b->info(id).sha256);
    for (int i = 0; i < Files; i += 499)
        QCOMPARE(readFile(dl()
                     + QStringLiteral("/many/sub%1/a file with a rather long name, number %2.txt")
                           .arg(i % 7)
                           .arg(i)),
            QByteArray::number(i) + " content");
    QCOMPARE(listTree(dl()).size(), Files + 8);
}

void TestTransfer::senderRefusesSymlinksAndBadNames()
{
    makeSides();
    writeFile(src(QStringLiteral("real.txt")), "x");
    QVERIFY(QFile::link(src(QStringLiteral("real.txt")), src(QStringLiteral("link.txt"))));
    Error error;
    QVERIFY(m_a->manager->offerPaths({ src(QStringLiteral("link.txt")) }, &error).isEmpty());
    QCOMPARE(error.code, ErrorCode::FileError);
    QVERIFY2(error.message.contains(QStringLiteral("symbolic link")), qPrintable(error.message));

    QVERIFY(m_a->manager->offerPaths({ src(QStringLiteral("missing.txt")) }, &error).isEmpty());
    QVERIFY(error.message.contains(QStringLiteral("does not exist")));

    writeFile(src(QStringLiteral("bad/nul.txt")), "x");
    QVERIFY(m_a->manager->offerPaths({ src(QStringLiteral("bad")) }, &error).isEmpty());
    QCOMPARE(error.code, ErrorCode::TransferRejected);
    QVERIFY2(error.message.contains(QStringLiteral("device")), qPrintable(error.message));

    QDir().mkpath(src(QStringLiteral("nothing/inside")));
    QVERIFY(m_a->manager->offerPaths({ src(QStringLiteral("nothing")) }, &error).isEmpty());
    QVERIFY(m_a->manager->offerPaths({ QStringLiteral("relative.txt") }, &error).isEmpty());
    QVERIFY(m_a->manager->offerPaths({}, &error).isEmpty());
    QVERIFY(m_a->manager->isIdle());
}

void TestTransfer::safeDirNeverFollowsSymlinks()
{
    const QString outside = m_tmp->filePath(QStringLiteral("outside"));
    QDir().mkpath(outside);
    QDir().mkpath(dl());
    QVERIFY(QFile::link(outside, dl() + QStringLiteral("/evil")));
    QVERIFY(QFile::link(outside + QStringLiteral("/target"), dl() + QStringLiteral("/file-link")));
    Error error;
    SafeDir root = SafeDir::openRoot(dl(), &error);
    QVERIFY(root.isValid());
    SafeDir through = root.openPath({ QStringLiteral("evil"), QStringLiteral("x") }, true, &error);
    QVERIFY(!through.isValid());
    QCOMPARE(error.code, ErrorCode::FileError);
    QVERIFY(error.message.contains(QStringLiteral("symbolic link")));
    QCOMPARE(root.openForWrite(QStringLiteral("file-link"), true, &error), -1);
    QVERIFY(listTree(outside).isEmpty());
    // A FIFO under our name is refused instead of blocking.
    QCOMPARE(::mkfifo(QFile::encodeName(dl() + QStringLiteral("/fifo")).constData(), 0600), 0);
    QCOMPARE(root.openForWrite(QStringLiteral("fifo"), false, &error), -1);
    // Renames never replace.
    const int fd = root.openForWrite(QStringLiteral("new.part"), true, &error);
    QVERIFY(fd >= 0);
    ::close(fd);
    writeFile(dl() + QStringLiteral("/taken.txt"), "keep");
    QCOMPARE(root.renameUnique(QStringLiteral("new.part"), QStringLiteral("taken.txt"), &error),
        QStringLiteral("taken (1).txt"));
    QCOMPARE(readFile(dl() + QStringLiteral("/taken.txt")), QByteArray("keep"));
}

// A hand-made peer: frames go straight into a receiver, its answers are captured.
void TestTransfer::hostileOffer_data()
{
    QTest::addColumn<QStringList>("paths");
    QTest::addColumn<QList<qint64>>("sizes");
    QTest::addColumn<qint64>("total");
    QTest::addColumn<QString>("expectedCode");
    const QList<qint64> one { 10 };
    QTest::newRow("traversal") << QStringList { QStringLiteral("../../x") } << one << qint64(10)
                               << QStringLiteral("transfer-rejected");
    QTest::newRow("traversal inside") << QStringList { QStringLiteral("a/../../x") } << one
                                      << qint64(10) << QStringLiteral("transfer-rejected");
    QTest::newRow("absolute") << QStringList { QStringLiteral("/tmp/punchline-abs-test") } << one
                              << qint64(10) << QStringLiteral("transfer-rejected");
    QTest::newRow("ssh") << QStringList { QStringLiteral(".ssh/../../.ssh/authorized_keys") } << one
                         << qint64(10) << QStringLiteral("transfer-rejected");
    QTest::newRow("escape codes") << QStringList { QStringLiteral("\x1b[31mred\x1b[0m.txt") } << one
                                  << qint64(10) << QStringLiteral("transfer-rejected");
    QTest::newRow("drive") << QStringList { QStringLiteral("C:\\x") } << one << qint64(10)
                           << QStringLiteral("transfer-rejected");
    QTest::newRow("device") << QStringList { QStringLiteral("CON") } << one << qint64(10)
                            << QStringLiteral("transfer-rejected");
    QTest::newRow("duplicate") << QStringList { QStringLiteral("a"), QStringLiteral("a") }
                               << QList<qint64> { 1, 1 } << qint64(2)
                               << QStringLiteral("transfer-rejected");
    QTest::newRow("duplicate after NFC")
        << QStringList { QStringLiteral("caf\u00e9"), QStringLiteral("cafe\u0301") }
        << QList<qint64> { 1, 1 } << qint64(2) << QStringLiteral("transfer-rejected");
    QTest::newRow("file and folder")
        << QStringList { QStringLiteral("a"), QStringLiteral("a/b") } << QList<qint64> { 1, 1 }
        << qint64(2) << QStringLiteral("transfer-rejected");
    QTest::newRow("sizes exceed total") << QStringList { QStringLiteral("a") } << one << qint64(5)
                                        << QStringLiteral("transfer-rejected");
    QTest::newRow("sizes below total") << QStringList { QStringLiteral("a") } << one << qint64(50)
                                       << QStringLiteral("transfer-rejected");
    QTest::newRow("huge file") << QStringList { QStringLiteral("a") }
                               << QList<qint64> { qint64(1) << 51 } << (qint64(1) << 51)
                               << QStringLiteral("protocol-error");
    QTest::newRow("negative size") << QStringList { QStringLiteral("a") } << QList<qint64> { -1 }
                                   << qint64(0) << QStringLiteral("protocol-error");
}

void TestTransfer::hostileOffer()
{
    QFETCH(QStringList, paths);
    QFETCH(QList<qint64>, sizes);
    QFETCH(qint64, total);
    QFETCH(QString, expectedCode);
    QDir().mkpath(dl());
    Side receiver(dl(), stateB(), AcceptPolicy::All);
    QList<std::pair<quint16, QByteArray>> sent;
    receiver.manager->setSendControl([&sent](quint16 type, const QByteArray &payload) {
        sent.append({ type, payload });
    });
    receiver.manager->onLinkUp();

    const QByteArray id = QUuid::createUuid().toRfc4122();
    QList<OfferFile> files;
    for (qsizetype i = 0; i < paths.size(); ++i)
        files.append({ paths.at(i), sizes.at(i), 0 });
    for (const QByteArray &part : TransferProtocol::encodeOffer(id, files, total))
        receiver.manager->handleFrame(TransferProtocol::Offer, part);
    // Whatever the peer sends next is not written either.
    receiver.manager->handleFrame(
        TransferProtocol::Data, TransferProtocol::encodeData(id, 0, 0, QByteArray(10, 'x')));

    const QString textId = TransferProtocol::idToText(id);
    QTRY_COMPARE_WITH_TIMEOUT(receiver.state(textId), TransferState::Failed, ShortTimeout);
    QCOMPARE(errorCodeName(receiver.info(textId).error.code), expectedCode);
    QVERIFY(!receiver.info(textId).error.message.isEmpty());
    QVERIFY(!receiver.info(textId).error.message.contains(QChar(0x1b))); // shown safely
    QCOMPARE(receiver.count(textId, TransferState::Offered), 0); // never shown as an offer
    QVERIFY(!sent.isEmpty());
    QCOMPARE(sent.first().first, quint16(TransferProtocol::Abort));
    const auto abort = TransferProtocol::decodeAbort(sent.first().second, nullptr);
    QVERIFY(abort);
    QCOMPARE(abort->first, id);
    QCOMPARE(errorCodeName(abort->second.code), expectedCode);
    // Nothing written, inside or outside the download folder.
    QVERIFY(listTree(dl()).isEmpty());
    QCOMPARE(listTree(m_tmp->path()),
        (QStringList { QStringLiteral("dl"), QStringLiteral("src"), QStringLiteral("state-b") }));
    QVERIFY(!QFile::exists(QStringLiteral("/tmp/punchline-abs-test")));
    // The same offer again gets the same answer, and is not shown again.
    const int updates = receiver.updates.size();
    for (const QByteArray &part : TransferProtocol::encodeOffer(id, files, total))
        receiver.manager->handleFrame(TransferProtocol::Offer, part);
    QTest::qWait(20);
    QCOMPARE(receiver.updates.size(), updates);
    QVERIFY(receiver.manager->isIdle());
}

void TestTransfer::moreBytesThanAnnounced_data()
{
    QTest::addColumn<QList<qint64>>("chunks"); // sizes sent back to back
    QTest::newRow("one oversized chunk") << QList<qint64> { 1500 };
    QTest::newRow("exact then one more") << QList<qint64> { 1000, 1 };
    QTest::newRow("half then too much") << QList<qint64> { 500, 501 };
}

void TestTransfer::moreBytesThanAnnounced()
{
    QFETCH(QList<qint64>, chunks);
    QDir().mkpath(dl());
    Side receiver(dl(), stateB(), AcceptPolicy::All);
    QList<std::pair<quint16, QByteArray>> sent;
    receiver.manager->setSendControl([&sent](quint16 type, const QByteArray &payload) {
        sent.append({ type, payload });
    });
    receiver.manager->onLinkUp();
    const QByteArray id = QUuid::createUuid().toRfc4122();
    const QString textId = TransferProtocol::idToText(id);
    for (const QByteArray &part :
        TransferProtocol::encodeOffer(id, { { QStringLiteral("a.bin"), 1000, 0 } }, 1000))
        receiver.manager->handleFrame(TransferProtocol::Offer, part);
    QCOMPARE(sent.size(), 1);
    QCOMPARE(sent.first().first, quint16(TransferProtocol::Accept));
    qint64 offset = 0;
    for (qint64 size : chunks) {
        receiver.manager->handleFrame(TransferProtocol::Data,
            TransferProtocol::encodeData(id, 0, quint64(offset), randomBytes(size, 1)));
        offset += size;
    }
    QTRY_COMPARE_WITH_TIMEOUT(receiver.state(textId), TransferState::Failed, ShortTimeout);
    QCOMPARE(receiver.info(textId).error.code, ErrorCode::TransferRejected);
    QVERIFY(receiver.info(textId).error.message.contains(
        QStringLiteral("more data than it announced")));
    QCOMPARE(sent.last().first, quint16(TransferProtocol::Abort));
    // Nothing beyond the announced size was ever written; the poisoned partial is gone.
    QVERIFY2(listTree(dl()).isEmpty(), qPrintable(listTree(dl()).join(QLatin1Char(' '))));
    QVERIFY(listTree(stateB()).isEmpty());
}

void TestTransfer::corruptedChunkFails()
{
    makeSides();
    const QByteArray data = randomBytes(2 * 1024 * 1024, 9);
    writeFile(src(QStringLiteral("data.bin")), data);
    int chunks = 0;
    m_pump->filter = [&chunks](int from, quint16 type, QByteArray &payload) {
        if (from == 0 && type == TransferProtocol::Data && ++chunks == 3)
            payload[TransferProtocol::DataHeaderSize + 1000]
                = char(payload.at(TransferProtocol::DataHeaderSize + 1000) ^ 0x01);
        return true;
    };
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("data.bin")) }, &error);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Failed, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Failed, Timeout);
    QCOMPARE(m_b->info(id).error.code, ErrorCode::FileError);
    QVERIFY2(m_b->info(id).error.message.contains(QStringLiteral("SHA-256")),
        qPrintable(m_b->info(id).error.message));
    QCOMPARE(m_a->info(id).error.code, ErrorCode::FileError);
    QVERIFY(m_b->info(id).sha256.isEmpty());
    QVERIFY(listTree(dl()).isEmpty()); // no final file, and the damaged partial is gone
}

namespace {
bool mountTmpfs(const QString &dir, const QString &size)
{
    QDir().mkpath(dir);
    return QProcess::execute(QStringLiteral("mount"),
               { QStringLiteral("-t"), QStringLiteral("tmpfs"), QStringLiteral("-o"),
                   QStringLiteral("size=") + size, QStringLiteral("tmpfs"), dir })
        == 0;
}
} // namespace

void TestTransfer::notEnoughSpaceBeforeAccept()
{
    if (::geteuid() != 0)
        QSKIP("mounting a small tmpfs needs root");
    m_mount = dl();
    if (!mountTmpfs(m_mount, QStringLiteral("1m"))) {
        m_mount.clear();
        QSKIP("cannot mount tmpfs here (no CAP_SYS_ADMIN?)");
    }
    makeSides();
    writeFile(src(QStringLiteral("big.bin")), randomBytes(3 * 1024 * 1024, 11));
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("big.bin")) }, &error);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Failed, Timeout);
    QCOMPARE(m_b->info(id).error.code, ErrorCode::DiskFull);
    QVERIFY(m_b->info(id).error.message.contains(QStringLiteral("free space")));
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Failed, Timeout);
    QCOMPARE(m_a->info(id).error.code, ErrorCode::DiskFull);
    QVERIFY(listTree(dl()).isEmpty());
}

void TestTransfer::diskFullMidTransferKeepsPartial()
{
    if (::geteuid() != 0)
        QSKIP("mounting a small tmpfs needs root");
    m_mount = dl();
    if (!mountTmpfs(m_mount, QStringLiteral("2m"))) {
        m_mount.clear();
        QSKIP("cannot mount tmpfs here (no CAP_SYS_ADMIN?)");
    }
    makeSides(AcceptPolicy::Ask);
    const QByteArray data = randomBytes(1536 * 1024, 12);
    writeFile(src(QStringLiteral("big.bin")), data);
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("big.bin")) }, &error);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Offered, Timeout);
    m_b->manager->accept(id); // 2 MiB free: the check passes
    // Someone else fills the disk while the data is on its way.
    writeFile(dl() + QStringLiteral("/filler"), QByteArray(1024 * 1024, 'f'));
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Failed, Timeout);
    QCOMPARE(m_b->info(id).error.code, ErrorCode::DiskFull);
    QVERIFY2(m_b->info(id).error.message.contains(QStringLiteral("disk is full")),
        qPrintable(m_b->info(id).error.message));
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Failed, Timeout);
    QCOMPARE(m_a->info(id).error.code, ErrorCode::DiskFull);
    const QStringList left = partials(dl());
    QCOMPARE(left.size(), 1); // the partial data stays for a resume
    const qint64 kept = QFileInfo(dl() + QLatin1Char('/') + left.first()).size();
    QVERIFY(kept > 0);
    // The failed transfer counts what is on disk, not what was handed to the disk thread.
    QCOMPARE(m_b->info(id).bytes, kept);
    QVERIFY(!QFile::exists(dl() + QStringLiteral("/big.bin")));

    // Space is freed and the same file is sent again: it continues from the partial data.
    QVERIFY(QFile::remove(dl() + QStringLiteral("/filler")));
    const QString again = m_a->manager->offerPaths({ src(QStringLiteral("big.bin")) }, &error);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(again), TransferState::Offered, Timeout);
    m_b->manager->accept(again);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(again), TransferState::Done, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(again), TransferState::Done, Timeout);
    QCOMPARE(m_b->info(again).resumedFrom, kept);
    QCOMPARE(readFile(dl() + QStringLiteral("/big.bin")), data);
    QVERIFY(partials(dl()).isEmpty());
}

void TestTransfer::safeDirRefusesHardLinksBeforeTruncating()
{
    const QString outside = m_tmp->filePath(QStringLiteral("outside"));
    writeFile(outside + QStringLiteral("/precious.txt"), "precious content");
    QDir().mkpath(dl());
    QCOMPARE(::link(QFile::encodeName(outside + QStringLiteral("/precious.txt")).constData(),
                 QFile::encodeName(dl() + QStringLiteral("/planted.part")).constData()),
        0);
    Error error;
    SafeDir root = SafeDir::openRoot(dl(), &error);
    QVERIFY(root.isValid());
    QCOMPARE(root.openForWrite(QStringLiteral("planted.part"), true, &error), -1);
    QCOMPARE(error.code, ErrorCode::FileError);
    QCOMPARE(readFile(outside + QStringLiteral("/precious.txt")), QByteArray("precious content"));
    QCOMPARE(root.openForWrite(QStringLiteral("planted.part"), false, &error), -1);
    QCOMPARE(root.openForRead(QStringLiteral("planted.part"), &error), -1);
    QCOMPARE(readFile(outside + QStringLiteral("/precious.txt")), QByteArray("precious content"));
}

void TestTransfer::partialNameIsUnpredictable()
{
    makeSides();
    const QByteArray data = randomBytes(4 * 1024 * 1024, 40);
    writeFile(src(QStringLiteral("big.bin")), data);
    pauseAfter(data.size() / 3);
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("big.bin")) }, &error);
    waitPaused();
    const QStringList left = partials(dl());
    QCOMPARE(left.size(), 1);
    // The sender knows the transfer id: no part of it may name the partial file.
    const QString hexId = QString::fromLatin1(TransferProtocol::idFromText(id).toHex());
    for (int i = 0; i + 8 <= hexId.size(); ++i)
        QVERIFY2(!left.first().contains(hexId.mid(i, 8)), qPrintable(left.first()));
    // A tag of at least 64 random bits between the name and the suffix.
    const QString tag = left.first()
                            .mid(QStringLiteral("big.bin.").size())
                            .chopped(PathSafety::partialSuffix().size());
    QVERIFY2(tag.size() >= 16, qPrintable(tag));

    // The receiver restarts: its record still finds the partial file.
    m_pump->setUp(false);
    m_pump.reset();
    m_b.reset();
    m_b = std::make_unique<Side>(dl(), stateB(), AcceptPolicy::Ask);
    m_pump = std::make_unique<LoopbackPump>(m_a->manager.get(), m_b->manager.get());
    m_pump->setUp(true);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);
    QVERIFY(m_b->info(id).resumedFrom >= data.size() / 3);
    QCOMPARE(readFile(dl() + QStringLiteral("/big.bin")), data);
}

void TestTransfer::dataForFinishedFileIsRefused()
{
    QDir().mkpath(dl());
    HandDriven peer(dl(), stateB());
    const QByteArray id = QUuid::createUuid().toRfc4122();
    const QString textId = TransferProtocol::idToText(id);
    const QByteArray a = randomBytes(65536, 41);
    peer.offer(id, { { QStringLiteral("a.bin"), a.size(), 0 }, { QStringLiteral("b.bin"), 1, 0 } });
    QCOMPARE(peer.sent.size(), 1);
    QCOMPARE(peer.sent.first().first, quint16(TransferProtocol::Accept));
    peer.data(id, 0, 0, a);
    peer.fileEnd(id, 0, a);
    QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(dl() + QStringLiteral("/a.bin")), ShortTimeout);
    // a.bin is finished. The peer starts it over, again and again.
    for (int round = 0; round < 5; ++round) {
        peer.data(id, 0, 0, a);
        peer.fileEnd(id, 0, a);
    }
    QTRY_COMPARE_WITH_TIMEOUT(peer.side.state(textId), TransferState::Failed, ShortTimeout);
    QCOMPARE(peer.side.info(textId).error.code, ErrorCode::ProtocolError);
    QVERIFY2(peer.side.info(textId).error.message.contains(QStringLiteral("already")),
        qPrintable(peer.side.info(textId).error.message));
    QVERIFY(!peer.aborts().isEmpty());
    QCOMPARE(listTree(dl()), QStringList { QStringLiteral("a.bin") });
    QCOMPARE(readFile(dl() + QStringLiteral("/a.bin")), a);
    QVERIFY(bytesBelow(dl()) <= a.size() + 1); // never more than the user accepted
}

void TestTransfer::abortToPeerHidesLocalPaths()
{
    QDir().mkpath(dl());
    HandDriven peer(dl(), stateB());
    const QByteArray id = QUuid::createUuid().toRfc4122();
    const QString textId = TransferProtocol::idToText(id);
    peer.offer(id, { { QStringLiteral("x.txt"), 100, 0 } });
    QCOMPARE(peer.sent.size(), 1);
    // The download folder goes away under the accepted transfer: writing fails locally.
    QVERIFY(QDir().rmdir(dl()));
    peer.data(id, 0, 0, QByteArray(100, 'x'));
    QTRY_COMPARE_WITH_TIMEOUT(peer.side.state(textId), TransferState::Failed, ShortTimeout);
    QVERIFY2(peer.side.info(textId).error.message.contains(dl()),
        qPrintable(peer.side.info(textId).error.message)); // the user is told where
    const QList<Error> aborts = peer.aborts();
    QCOMPARE(aborts.size(), 1);
    QCOMPARE(aborts.first().code, ErrorCode::FileError);
    // The peer only learns which of its files failed, not where we keep them.
    QVERIFY2(!aborts.first().message.contains(m_tmp->path()), qPrintable(aborts.first().message));
    QVERIFY2(
        !aborts.first().message.contains(QLatin1Char('/')), qPrintable(aborts.first().message));
    QVERIFY2(aborts.first().message.contains(QStringLiteral("x.txt")),
        qPrintable(aborts.first().message));
}

void TestTransfer::resumeStateIsPerPeer()
{
    // Both friends' managers share the download folder, and (as the engine used to) the state
    // folder: still, one friend never sees what another sent.
    QDir().mkpath(dl());
    const QList<OfferFile> files { { QStringLiteral("report.pdf"), 1000, 1234567 } };
    const QByteArray data = randomBytes(1000, 50);
    HandDriven first(dl(), stateB());
    first.side.manager->setPeer(QByteArray(32, '\x11'));
    const QByteArray id1 = QUuid::createUuid().toRfc4122();
    first.offer(id1, files);
    first.data(id1, 0, 0, data.left(400));
    QTRY_COMPARE_WITH_TIMEOUT(
        first.side.info(TransferProtocol::idToText(id1)).bytes, qint64(400), ShortTimeout);
    first.side.manager->onLinkDown(); // the first friend goes away mid-transfer

    HandDriven second(dl(), stateB());
    second.side.manager->setPeer(QByteArray(32, '\x22'));
    const QByteArray id2 = QUuid::createUuid().toRfc4122();
    second.offer(id2, files); // same path, size and mtime
    QTRY_VERIFY_WITH_TIMEOUT(!second.sent.isEmpty(), ShortTimeout);
    QCOMPARE(second.sent.first().first, quint16(TransferProtocol::Accept));
    QVERIFY2(second.acceptEntries().isEmpty(), "the second friend was given the first's position");
    QCOMPARE(second.side.info(TransferProtocol::idToText(id2)).resumedFrom, qint64(-1));
    // Nor can it take over the first friend's transfer by its id.
    second.offer(id1, files);
    QTRY_COMPARE_WITH_TIMEOUT(
        second.side.state(TransferProtocol::idToText(id1)), TransferState::Failed, ShortTimeout);
    QCOMPARE(second.sent.last().first, quint16(TransferProtocol::Abort));

    // The first friend, back, continues where it was.
    HandDriven again(dl(), stateB());
    again.side.manager->setPeer(QByteArray(32, '\x11'));
    const QByteArray id3 = QUuid::createUuid().toRfc4122();
    again.offer(id3, files);
    QTRY_VERIFY_WITH_TIMEOUT(!again.sent.isEmpty(), ShortTimeout);
    QCOMPARE(again.acceptEntries().size(), 1);
    QCOMPARE(again.acceptEntries().first().offset, qint64(400));
    QCOMPARE(again.acceptEntries().first().prefixHash, Sha256::hash(data.left(400)));
}

void TestTransfer::budgetDefaults()
{
    // The documented numbers (core/transfer/README.md, "Limits").
    const TransferBudget budget;
    QCOMPARE(budget.limits().filesPerPeer, 150000);
    QCOMPARE(budget.limits().filesTotal, 200000);
    QCOMPARE(budget.limits().nameBytesPerPeer, qint64(32) << 20);
    QCOMPARE(budget.limits().nameBytesTotal, qint64(64) << 20);
    QCOMPARE(budget.limits().activePerPeer, 16);
    QCOMPARE(budget.limits().activeTotal, 64);
    QCOMPARE(budget.limits().recordBytesPerPeer, qint64(128) << 20);
    QCOMPARE(budget.limits().recordBytesTotal, qint64(512) << 20);
    // One offer of the largest size is allowed, two are not (per peer) and neither are two
    // peers' worth plus one more (per device).
    QVERIFY(budget.limits().filesPerPeer >= TransferProtocol::MaxFiles);
    QVERIFY(budget.limits().filesPerPeer < 2 * TransferProtocol::MaxFiles);
    QVERIFY(budget.limits().filesTotal < 3 * TransferProtocol::MaxFiles);
}

void TestTransfer::offeredFilesAreBoundedPerPeerAndInTotal()
{
    QDir().mkpath(dl());
    TransferBudget::Limits limits;
    limits.filesPerPeer = 10;
    limits.filesTotal = 15;
    auto budget = std::make_shared<TransferBudget>(limits);
    HandDriven one(dl(), stateA(), AcceptPolicy::Ask);
    one.side.manager->setPeer(QByteArray(32, '\x11'));
    one.side.manager->setBudget(budget);
    HandDriven two(dl(), stateB(), AcceptPolicy::Ask);
    two.side.manager->setPeer(QByteArray(32, '\x22'));
    two.side.manager->setBudget(budget);
    const auto state = [](HandDriven &peer, const QByteArray &id) {
        return peer.side.state(TransferProtocol::idToText(id));
    };
    const auto error = [](HandDriven &peer, const QByteArray &id) {
        return peer.side.info(TransferProtocol::idToText(id)).error;
    };
    QList<QByteArray> ids;
    for (int i = 0; i < 6; ++i)
        ids.append(QUuid::createUuid().toRfc4122());

    one.offer(ids[0], manyFiles(8, QStringLiteral("a%1.txt")));
    QTRY_COMPARE_WITH_TIMEOUT(state(one, ids[0]), TransferState::Offered, ShortTimeout);
    one.offer(ids[1], manyFiles(3, QStringLiteral("b%1.txt"))); // 11 from one peer
    QTRY_COMPARE_WITH_TIMEOUT(state(one, ids[1]), TransferState::Failed, ShortTimeout);
    QCOMPARE(error(one, ids[1]).code, ErrorCode::TransferRejected);
    QVERIFY2(error(one, ids[1]).message.contains(QStringLiteral("at most 10")),
        qPrintable(error(one, ids[1]).message));
    QCOMPARE(one.aborts().size(), 1); // the sender is told
    QCOMPARE(one.aborts().first().code, ErrorCode::TransferRejected);

    two.offer(ids[2], manyFiles(8, QStringLiteral("c%1.txt"))); // 16 in all
    QTRY_COMPARE_WITH_TIMEOUT(state(two, ids[2]), TransferState::Failed, ShortTimeout);
    QVERIFY2(error(two, ids[2]).message.contains(QStringLiteral("at most 15")),
        qPrintable(error(two, ids[2]).message));
    two.offer(ids[3], manyFiles(7, QStringLiteral("d%1.txt"))); // 15 in all
    QTRY_COMPARE_WITH_TIMEOUT(state(two, ids[3]), TransferState::Offered, ShortTimeout);
    QCOMPARE(budget->total().files, 15);

    // Declined offers no longer count.
    one.side.manager->decline(TransferProtocol::idToText(ids[0]));
    QTRY_COMPARE_WITH_TIMEOUT(state(one, ids[0]), TransferState::Declined, ShortTimeout);
    QCOMPARE(budget->total().files, 7);
    one.offer(ids[4], manyFiles(8, QStringLiteral("e%1.txt")));
    QTRY_COMPARE_WITH_TIMEOUT(state(one, ids[4]), TransferState::Offered, ShortTimeout);
    // A manager that goes away gives its share back.
    two.side.manager.reset();
    QCOMPARE(budget->total().files, 8);
}

void TestTransfer::acceptedTransfersAreBoundedPerPeerAndInTotal()
{
    QDir().mkpath(dl());
    TransferBudget::Limits limits;
    limits.activePerPeer = 2;
    limits.activeTotal = 3;
    auto budget = std::make_shared<TransferBudget>(limits);
    HandDriven one(dl(), stateA());
    one.side.manager->setPeer(QByteArray(32, '\x11'));
    one.side.manager->setBudget(budget);
    HandDriven two(dl(), stateB());
    two.side.manager->setPeer(QByteArray(32, '\x22'));
    two.side.manager->setBudget(budget);
    const QByteArray content("0123456789");
    QList<QByteArray> ids;
    for (int i = 0; i < 6; ++i)
        ids.append(QUuid::createUuid().toRfc4122());
    const auto text = [&ids](int i) { return TransferProtocol::idToText(ids.at(i)); };

    for (int i = 0; i < 3; ++i)
        one.offer(ids[i], { { QStringLiteral("one-%1.txt").arg(i), content.size(), 0 } });
    QTRY_COMPARE_WITH_TIMEOUT(one.side.state(text(2)), TransferState::Failed, ShortTimeout);
    QCOMPARE(one.side.state(text(0)), TransferState::Accepted);
    QCOMPARE(one.side.state(text(1)), TransferState::Accepted);
    QCOMPARE(one.side.info(text(2)).error.code, ErrorCode::TransferRejected);
    QCOMPARE(one.aborts().size(), 1);
    QVERIFY2(one.aborts().first().message.contains(QStringLiteral("2 transfers")),
        qPrintable(one.aborts().first().message));

    two.offer(ids[3], { { QStringLiteral("two-3.txt"), content.size(), 0 } });
    two.offer(ids[4], { { QStringLiteral("two-4.txt"), content.size(), 0 } });
    QTRY_COMPARE_WITH_TIMEOUT(two.side.state(text(4)), TransferState::Failed, ShortTimeout);
    QCOMPARE(two.side.state(text(3)), TransferState::Accepted);
    QCOMPARE(budget->total().active, 3);

    // One ends: room for another.
    one.data(ids[0], 0, 0, content);
    one.fileEnd(ids[0], 0, content);
    QTRY_COMPARE_WITH_TIMEOUT(one.side.state(text(0)), TransferState::Done, ShortTimeout);
    QCOMPARE(budget->total().active, 2);
    two.offer(ids[5], { { QStringLiteral("two-5.txt"), content.size(), 0 } });
    QTRY_COMPARE_WITH_TIMEOUT(two.side.state(text(5)), TransferState::Accepted, ShortTimeout);
}

void TestTransfer::foldersAppearWithTheirFirstFile()
{
    writeFile(dl() + QStringLiteral("/d1/mine.txt"), "mine");
    HandDriven peer(dl(), stateB());
    const QByteArray id = QUuid::createUuid().toRfc4122();
    const QString textId = TransferProtocol::idToText(id);
    peer.offer(id, manyFiles(300, QStringLiteral("d%1/f.txt")));
    QTRY_COMPARE_WITH_TIMEOUT(peer.side.state(textId), TransferState::Accepted, ShortTimeout);
    QCOMPARE(listTree(dl()), (QStringList { QStringLiteral("d1"), QStringLiteral("d1/mine.txt") }));

    peer.data(id, 0, 0, "x");
    peer.fileEnd(id, 0, "x");
    peer.data(id, 1, 0, "y");
    peer.fileEnd(id, 1, "y");
    QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(dl() + QStringLiteral("/d1 (1)/f.txt")), ShortTimeout);
    QCOMPARE(listTree(dl()),
        (QStringList { QStringLiteral("d0"), QStringLiteral("d0/f.txt"), QStringLiteral("d1"),
            QStringLiteral("d1 (1)"), QStringLiteral("d1 (1)/f.txt"),
            QStringLiteral("d1/mine.txt") }));
    QCOMPARE(readFile(dl() + QStringLiteral("/d1 (1)/f.txt")), QByteArray("y"));
    QCOMPARE(readFile(dl() + QStringLiteral("/d1/mine.txt")), QByteArray("mine"));

    // The receiver restarts: the folder chosen for d1 is remembered.
    peer.side.manager.reset();
    HandDriven again(dl(), stateB());
    again.offer(id, manyFiles(300, QStringLiteral("d%1/f.txt")));
    QTRY_VERIFY_WITH_TIMEOUT(!again.sent.isEmpty(), ShortTimeout);
    QCOMPARE(again.acceptEntries().size(), 2); // d0/f.txt and d1/f.txt are complete
    for (int i = 2; i < 300; ++i) {
        again.data(id, i, 0, "z");
        again.fileEnd(id, i, "z");
    }
    QTRY_COMPARE_WITH_TIMEOUT(again.side.state(textId), TransferState::Done, Timeout);
    QCOMPARE(listTree(dl()).size(), 2 * 300 + 2);
    QVERIFY(partials(dl()).isEmpty());
}

void TestTransfer::finishedTransfersHoldNoDescriptors()
{
    QDir().mkpath(dl());
    HandDriven peer(dl(), stateB());
    const int before = openDescriptors();
    const QByteArray content("content");
    for (int i = 0; i < 40; ++i) {
        const QByteArray id = QUuid::createUuid().toRfc4122();
        peer.offer(id, { { QStringLiteral("f%1.txt").arg(i), content.size(), 0 } });
        peer.data(id, 0, 0, content);
        peer.fileEnd(id, 0, content);
        QTRY_COMPARE_WITH_TIMEOUT(
            peer.side.state(TransferProtocol::idToText(id)), TransferState::Done, ShortTimeout);
    }
    QCOMPARE(listTree(dl()).size(), 40);
    QVERIFY2(openDescriptors() <= before + 1,
        qPrintable(QStringLiteral("%1 -> %2").arg(before).arg(openDescriptors())));
    QCOMPARE(peer.side.manager->budgetUsage().active, 0);
    QCOMPARE(peer.side.manager->budgetUsage().files, 0);
}

void TestTransfer::recordsAreBounded()
{
    QDir().mkpath(dl());
    TransferBudget::Limits limits;
    limits.recordBytesPerPeer = 4000;
    HandDriven peer(dl(), stateB());
    peer.side.manager->setBudget(std::make_shared<TransferBudget>(limits));
    const QByteArray content("content");
    for (int i = 0; i < 20; ++i) {
        const QByteArray id = QUuid::createUuid().toRfc4122();
        peer.offer(id, { { QStringLiteral("file-%1.txt").arg(i), content.size(), 0 } });
        peer.data(id, 0, 0, content);
        peer.fileEnd(id, 0, content);
        QTRY_COMPARE_WITH_TIMEOUT(
            peer.side.state(TransferProtocol::idToText(id)), TransferState::Done, ShortTimeout);
        QVERIFY2(bytesBelow(stateB()) <= 4000, qPrintable(QString::number(bytesBelow(stateB()))));
        QCOMPARE(peer.side.manager->budgetUsage().recordBytes, bytesBelow(stateB()));
    }
    // The newest records are kept (a repeated offer is still answered with Complete).
    QVERIFY(listTree(stateB()).size() >= 4);
    // An offer whose record alone would not fit is refused before anything is written.
    const QByteArray big = QUuid::createUuid().toRfc4122();
    peer.offer(big, manyFiles(100, QStringLiteral("a rather long file name, number %1.txt")));
    QTRY_COMPARE_WITH_TIMEOUT(
        peer.side.state(TransferProtocol::idToText(big)), TransferState::Failed, ShortTimeout);
    QCOMPARE(
        peer.side.info(TransferProtocol::idToText(big)).error.code, ErrorCode::TransferRejected);
    QCOMPARE(peer.aborts().size(), 1);
    QCOMPARE(listTree(dl()).size(), 20);
}

namespace {
// Bytes of a file in the page cache (mincore), -1 if it cannot be told.
qint64 residentBytes(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly) || f.size() == 0)
        return -1;
    void *map = ::mmap(nullptr, size_t(f.size()), PROT_READ, MAP_SHARED, f.handle(), 0);
    if (map == MAP_FAILED)
        return -1;
    const long page = ::sysconf(_SC_PAGESIZE);
    std::vector<unsigned char> vec(size_t((f.size() + page - 1) / page));
    const int rc = ::mincore(map, size_t(f.size()), vec.data());
    ::munmap(map, size_t(f.size()));
    if (rc != 0)
        return -1;
    qint64 pages = 0;
    for (unsigned char v : vec)
        pages += v & 1;
    return pages * page;
}
} // namespace

// A 4 GiB file arrived at half the speed of a 1 GiB one: the receiver left every written page
// dirty in the page cache until the kernel's dirty limit throttled it. Written data is now
// streamed to the disk as it comes (write-behind) and dropped from the cache once it is there,
// so what a transfer leaves in the cache stays flat, whatever the file's size.
void TestTransfer::receivedDataDoesNotPileUpInThePageCache()
{
    struct statfs fs = {};
    QDir().mkpath(dl());
    if (::statfs(QFile::encodeName(dl()).constData(), &fs) != 0 || fs.f_type == 0x01021994)
        QSKIP("the download folder is on a tmpfs: its pages are the file, not a cache");
    makeSides();
    const QByteArray data = randomBytes(48 * 1024 * 1024, 50);
    writeFile(src(QStringLiteral("cache.bin")), data);
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("cache.bin")) }, &error);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);
    const QString path = dl() + QStringLiteral("/cache.bin");
    const qint64 resident = residentBytes(path);
    QVERIFY(resident >= 0);
    // At most the last two write-behind windows (8 MiB each) and the file's tail.
    QVERIFY2(resident <= 24 * 1024 * 1024,
        qPrintable(
            QStringLiteral("%1 of %2 bytes in the page cache").arg(resident).arg(data.size())));
    QCOMPARE(readFile(path), data);
}

// The sender's window must see the receiver's disk: a chunk is acknowledged (Consumed) only
// after it has been written, never when it was merely handed to the disk thread.
void TestTransfer::consumedOnlyOnceWritten()
{
    QDir().mkpath(dl());
    HandDriven peer(dl(), stateB());
    peer.side.manager->setPeerCapabilities({ QLatin1String(TransferHandler::FlowCapability) });
    const QByteArray id = QUuid::createUuid().toRfc4122();
    const QByteArray content = randomBytes(8 * 128 * 1024, 51);
    peer.offer(id, { { QStringLiteral("c.bin"), content.size(), 0 } });
    const auto consumed = [&peer] {
        qint64 total = 0;
        for (const auto &[type, payload] : std::as_const(peer.sent)) {
            if (type == TransferProtocol::Consumed) {
                const auto c = TransferProtocol::decodeConsumed(payload, nullptr);
                if (c)
                    total = c->totalBytes;
            }
        }
        return total;
    };
    const auto partialSize = [this] {
        const QStringList left = partials(dl());
        return left.isEmpty() ? qint64(0)
                              : QFileInfo(dl() + QLatin1Char('/') + left.first()).size();
    };
    for (int i = 0; i < 8; ++i)
        peer.data(id, 0, qint64(i) * 128 * 1024, content.mid(i * 128 * 1024, 128 * 1024));
    QCOMPARE(consumed(), 0); // handed over, not yet written: nothing acknowledged from here
    QTRY_VERIFY_WITH_TIMEOUT(consumed() > 0, ShortTimeout);
    // Whatever was acknowledged is in the file.
    for (int i = 0; i < 200 && consumed() < 8 * (128 * 1024 + TransferProtocol::DataHeaderSize);
         ++i) {
        const qint64 acked = consumed();
        const qint64 payloadBytes = acked
            - acked / (128 * 1024 + TransferProtocol::DataHeaderSize)
                * TransferProtocol::DataHeaderSize;
        QVERIFY2(partialSize() >= payloadBytes || QFile::exists(dl() + QStringLiteral("/c.bin")),
            qPrintable(QStringLiteral("%1 acknowledged, %2 written")
                           .arg(payloadBytes)
                           .arg(partialSize())));
        QTest::qWait(5);
    }
    QTRY_COMPARE_WITH_TIMEOUT(
        consumed(), qint64(8 * (128 * 1024 + TransferProtocol::DataHeaderSize)), ShortTimeout);
}

// The peer goes away (or the app quits) while chunks wait for the disk thread: nothing is used
// after it is freed (ASan), every descriptor is released, and the partial data stays for a
// resume.
void TestTransfer::receiverDestroyedWithChunksInFlight()
{
    QDir().mkpath(dl());
    const int before = openDescriptors();
    {
        HandDriven peer(dl(), stateB());
        const QByteArray id = QUuid::createUuid().toRfc4122();
        const QByteArray content = randomBytes(64 * 128 * 1024, 52);
        peer.offer(id,
            { { QStringLiteral("gone.bin"), content.size(), 0 },
                { QStringLiteral("next.bin"), 3, 0 } });
        for (int i = 0; i < 64; ++i)
            peer.data(id, 0, qint64(i) * 128 * 1024, content.mid(i * 128 * 1024, 128 * 1024));
        peer.fileEnd(id, 0, content); // a sync queued behind the chunks too
        peer.data(id, 1, 0, "abc");
    }
    QCoreApplication::processEvents();
    QCOMPARE(openDescriptors(), before);
    QVERIFY(partials(dl()).size() + listTree(dl()).filter(QStringLiteral("gone.bin")).size() >= 1);
}

void TestTransfer::senderDestroyedWithReadsInFlight()
{
    makeSides();
    const QByteArray data = randomBytes(16 * 1024 * 1024, 53);
    writeFile(src(QStringLiteral("away.bin")), data);
    const int before = openDescriptors();
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("away.bin")) }, &error);
    QTRY_VERIFY_WITH_TIMEOUT(m_b->info(id).bytes > 0, Timeout);
    m_pump.reset();
    m_a.reset(); // its reader has chunks queued and in flight
    m_b.reset();
    QCoreApplication::processEvents();
    QVERIFY2(openDescriptors() == before,
        qPrintable(QStringLiteral("%1 -> %2").arg(before).arg(openDescriptors())));
}

// Cancel while megabytes wait for the disk: the receiver stops writing at once (the queued
// chunks are skipped, not written and then deleted), and nothing of the transfer is left.
void TestTransfer::cancelMidStreamStopsTheWrites()
{
    QDir().mkpath(dl());
    HandDriven peer(dl(), stateB());
    const QByteArray id = QUuid::createUuid().toRfc4122();
    const QString textId = TransferProtocol::idToText(id);
    const QByteArray content = randomBytes(128 * 128 * 1024, 54);
    peer.offer(id, { { QStringLiteral("stop.bin"), content.size(), 0 } });
    for (int i = 0; i < 128; ++i)
        peer.data(id, 0, qint64(i) * 128 * 1024, content.mid(i * 128 * 1024, 128 * 1024));
    peer.side.manager->cancel(textId);
    QTRY_COMPARE_WITH_TIMEOUT(peer.side.state(textId), TransferState::Canceled, ShortTimeout);
    QVERIFY(listTree(dl()).isEmpty());
    QTRY_VERIFY_WITH_TIMEOUT(peer.side.manager->isIdle(), ShortTimeout);
    QVERIFY(listTree(dl()).isEmpty()); // no late write re-created it
}

QTEST_GUILESS_MAIN(TestTransfer)
#include "tst_transfer.moc"
