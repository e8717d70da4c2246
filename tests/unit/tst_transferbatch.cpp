// Per-file work of folders of many small files (issue 15, target 3): what the receiver sends
// and writes per file is counted, and the resume paths are checked with the batching in place
// (a link lost and a receiver restarted part-way through a folder of small files).
#include "common/sha256.h"
#include "session/transferhandler.h"
#include "support/loopbackpump.h"
#include "transfer/pathsafety.h"
#include "transfer/transfermanager.h"
#include "transfer/transferprotocol.h"
#include "transfer/transferstore.h"

#include <QDateTime>
#include <QDirIterator>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

#include <fcntl.h>
#include <memory>
#include <unistd.h>

using namespace Punchline;

namespace {

constexpr int Timeout = 60000;

QByteArray randomBytes(qint64 size, quint32 seed)
{
    QByteArray data(size, Qt::Uninitialized);
    QRandomGenerator rng(seed);
    for (qint64 i = 0; i < size; ++i)
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

class Side : public QObject
{
public:
    Side(const QString &downloadDir, const QString &stateDir, AcceptPolicy policy)
        : manager(new TransferManager(downloadDir, stateDir, policy))
    {
        connect(manager.get(), &TransferManager::transferUpdated, this,
            [this](const TransferInfo &info) { last.insert(info.id, info); });
    }
    TransferState state(const QString &id) const
    {
        return last.contains(id) ? last.value(id).state : static_cast<TransferState>(-1);
    }
    std::unique_ptr<TransferManager> manager;
    QHash<QString, TransferInfo> last;
};

} // namespace

class TestTransferBatch : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void consumedIsOnePerSliceForSmallFiles();
    void doneLogIsOpenedOncePerTransfer();
    void doneLogFollowsRemoveAndRename();
    void linkLostMidFolderResumes();
    void receiverRestartMidFolderResumes();
    void folderSwappedForSymlinkMidFolder();
    void wholeFileHasNoNameUntilVerified();

private:
    QString src(const QString &name = QString()) const
    {
        return m_tmp->filePath(QStringLiteral("src/") + name);
    }
    QString dl() const { return m_tmp->filePath(QStringLiteral("dl")); }
    QString stateA() const { return m_tmp->filePath(QStringLiteral("state-a")); }
    QString stateB() const { return m_tmp->filePath(QStringLiteral("state-b")); }
    // `count` files of `size` bytes in src/folder (sub-folders of 50), their contents.
    QList<QByteArray> makeFolder(int count, qint64 size);
    void makeSides();
    void checkFolder(const QList<QByteArray> &contents);

    std::unique_ptr<QTemporaryDir> m_tmp;
    std::unique_ptr<Side> m_a;
    std::unique_ptr<Side> m_b;
    std::unique_ptr<LoopbackPump> m_pump;
};

void TestTransferBatch::init()
{
    m_tmp = std::make_unique<QTemporaryDir>();
    QVERIFY(m_tmp->isValid());
}

void TestTransferBatch::cleanup()
{
    m_pump.reset();
    m_a.reset();
    m_b.reset();
    m_tmp.reset();
}

QList<QByteArray> TestTransferBatch::makeFolder(int count, qint64 size)
{
    QList<QByteArray> contents;
    for (int i = 0; i < count; ++i) {
        contents.append(randomBytes(size, quint32(100 + i)));
        writeFile(src(QStringLiteral("folder/d%1/f%2")
                          .arg(i / 50, 2, 10, QLatin1Char('0'))
                          .arg(i, 4, 10, QLatin1Char('0'))),
            contents.last());
    }
    return contents;
}

void TestTransferBatch::makeSides()
{
    m_pump.reset();
    m_a = std::make_unique<Side>(
        m_tmp->filePath(QStringLiteral("dl-a")), stateA(), AcceptPolicy::Ask);
    m_b = std::make_unique<Side>(dl(), stateB(), AcceptPolicy::All);
    m_pump = std::make_unique<LoopbackPump>(m_a->manager.get(), m_b->manager.get());
    m_pump->setUp(true);
}

// Every file exactly once under its own name: no partials, no "name (1)" copies.
void TestTransferBatch::checkFolder(const QList<QByteArray> &contents)
{
    QStringList expected;
    for (int i = 0; i < contents.size(); ++i) {
        const QString dir = QStringLiteral("folder/d%1").arg(i / 50, 2, 10, QLatin1Char('0'));
        const QString file = dir + QStringLiteral("/f%1").arg(i, 4, 10, QLatin1Char('0'));
        if (!expected.contains(dir))
            expected.append(dir);
        expected.append(file);
        QCOMPARE(readFile(dl() + QLatin1Char('/') + file), contents.at(i));
    }
    expected.append(QStringLiteral("folder"));
    expected.sort();
    QCOMPARE(listTree(dl()), expected);
}

// A Consumed frame per 4 KiB Data frame was one control frame (and one TLS write) back per
// file. Small frames handled in one slice of the receive queue are acknowledged together; the
// count must still add up to every byte, or the sender's window never empties.
void TestTransferBatch::consumedIsOnePerSliceForSmallFiles()
{
    constexpr int Files = 200;
    QList<std::pair<quint16, QByteArray>> sent;
    Side side(dl(), stateB(), AcceptPolicy::All);
    side.manager->setSendControl([&sent](quint16 type, const QByteArray &payload) {
        sent.append({ type, payload });
    });
    side.manager->setPeerCapabilities({ QLatin1String(TransferHandler::FlowCapability) });
    side.manager->onLinkUp();

    const QByteArray id = QByteArray::fromHex("00112233445566778899aabbccddeeff");
    QList<OfferFile> files;
    QList<QByteArray> contents;
    for (int i = 0; i < Files; ++i) {
        files.append({ QStringLiteral("folder/f%1").arg(i), 4096, 0 });
        contents.append(randomBytes(4096, quint32(i)));
    }
    for (const QByteArray &part : TransferProtocol::encodeOffer(id, files, qint64(Files) * 4096))
        side.manager->handleFrame(TransferProtocol::Offer, part);
    QTRY_VERIFY_WITH_TIMEOUT(std::any_of(sent.cbegin(), sent.cend(),
                                 [](const auto &f) { return f.first == TransferProtocol::Accept; }),
        Timeout);

    // The whole folder arrives at once, as it does from a fast sender.
    qint64 dataBytes = 0;
    for (int i = 0; i < Files; ++i) {
        const QByteArray data = TransferProtocol::encodeData(id, quint32(i), 0, contents.at(i));
        dataBytes += data.size();
        side.manager->handleFrame(TransferProtocol::Data, data);
        side.manager->handleFrame(TransferProtocol::FileEnd,
            TransferProtocol::encodeFileEnd(id, i, Sha256::hash(contents.at(i))));
    }
    QTRY_VERIFY_WITH_TIMEOUT(
        std::any_of(sent.cbegin(), sent.cend(),
            [](const auto &f) { return f.first == TransferProtocol::Complete; }),
        Timeout);
    QTRY_VERIFY_WITH_TIMEOUT(side.manager->isIdle(), Timeout);

    int consumedFrames = 0;
    qint64 lastTotal = 0;
    for (const auto &[type, payload] : std::as_const(sent)) {
        if (type != TransferProtocol::Consumed)
            continue;
        ++consumedFrames;
        const auto report = TransferProtocol::decodeConsumed(payload, nullptr);
        QVERIFY(report);
        QVERIFY(report->totalBytes > lastTotal); // never repeated, never backwards
        lastTotal = report->totalBytes;
    }
    QCOMPARE(lastTotal, dataBytes);
    // 4 KiB frames: one acknowledgement per 64 KiB of them (16 files), and one when the queue
    // has run empty.
    QVERIFY2(consumedFrames <= Files / 8,
        qPrintable(
            QStringLiteral("%1 Consumed frames for %2 files").arg(consumedFrames).arg(Files)));
    for (int i = 0; i < Files; ++i)
        QCOMPARE(readFile(dl() + QStringLiteral("/folder/f%1").arg(i)), contents.at(i));
}

// The done log (one line per verified file) was opened, appended to and closed per file.
void TestTransferBatch::doneLogIsOpenedOncePerTransfer()
{
    const QString id = QStringLiteral("00112233445566778899aabbccddeeff");
    TransferStore store(stateB());
    TransferRecord record;
    record.id = id;
    record.partTag = QStringLiteral("0123456789abcdef");
    record.downloadDir = dl();
    record.files = { { QStringLiteral("f0"), 1, 0 } };
    record.total = 1;
    record.digest = TransferStore::digestOf(record.files);
    record.createdMs = QDateTime::currentMSecsSinceEpoch();
    Error error;
    QVERIFY(store.save(record, &error));
    const qint64 before = store.bytesOnDisk();
    for (int i = 0; i < 100; ++i)
        QVERIFY2(
            store.appendDone(id,
                { i, Sha256::hash(QByteArray::number(i)), QStringLiteral("f%1").arg(i) }, &error),
            qPrintable(error.message));
    QCOMPARE(store.logOpens(), 1);
    QVERIFY(store.bytesOnDisk() > before);

    // Unbuffered: another reader (a restarted app) sees every line while it is still open.
    const QList<DoneEntry> seen = TransferStore(stateB()).doneEntries(id);
    QCOMPARE(seen.size(), 100);
    QCOMPARE(seen.last().index, 99);
    QCOMPARE(seen.last().finalPath, QStringLiteral("f99"));
    store.closeLog(id);
    QVERIFY(store.appendDone(id, { 100, Sha256::hash("x"), QStringLiteral("f100") }, &error));
    QCOMPARE(store.logOpens(), 2);
    QCOMPARE(store.doneEntries(id).size(), 101);
}

// A log held open must not outlive its file: lines appended after remove() or renameLogs()
// land in the file of that name, not in an unlinked or renamed one.
void TestTransferBatch::doneLogFollowsRemoveAndRename()
{
    const QString a = QStringLiteral("000000000000000000000000000000aa");
    const QString b = QStringLiteral("000000000000000000000000000000bb");
    const QString c = QStringLiteral("000000000000000000000000000000cc");
    TransferStore store(stateB());
    Error error;
    const DoneEntry one { 0, Sha256::hash("0"), QStringLiteral("zero") };
    const DoneEntry two { 1, Sha256::hash("1"), QStringLiteral("one") };
    QVERIFY(store.appendDone(a, one, &error));
    store.remove(a);
    QVERIFY(store.appendDone(a, two, &error));
    QCOMPARE(store.doneEntries(a).size(), 1);
    QCOMPARE(store.doneEntries(a).first().finalPath, QStringLiteral("one"));

    QVERIFY(store.appendDone(b, one, &error));
    store.renameLogs(b, c);
    QVERIFY(store.appendDone(c, two, &error));
    QCOMPARE(store.doneEntries(c).size(), 2);
    QVERIFY(store.doneEntries(b).isEmpty());

    // More transfers at once than logs held open: each still gets its own lines.
    QStringList ids;
    for (int i = 0; i < TransferStore::MaxOpenLogs + 3; ++i)
        ids.append(
            QStringLiteral("1000000000000000000000000000%1").arg(i, 4, 16, QLatin1Char('0')));
    for (int round = 0; round < 3; ++round) {
        for (const QString &id : std::as_const(ids))
            QVERIFY(
                store.appendDone(id, { round, Sha256::hash("r"), QStringLiteral("r") }, &error));
    }
    for (const QString &id : std::as_const(ids))
        QCOMPARE(store.doneEntries(id).size(), 3);
}

// The link goes down after part of a folder of small files (some files verified and renamed,
// one mid-way, acknowledgements of a slice not sent yet): the resume sends only what is
// missing and nothing is stored twice.
void TestTransferBatch::linkLostMidFolderResumes()
{
    makeSides();
    const QList<QByteArray> contents = makeFolder(300, 3000);
    int fileEnds = 0;
    LoopbackPump *pump = m_pump.get();
    m_pump->filter = [&fileEnds, pump](int from, quint16 type, QByteArray &) {
        if (from == 0 && type == TransferProtocol::FileEnd && ++fileEnds == 120)
            pump->setBulkPaused(true);
        return true;
    };
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("folder")) }, &error);
    QVERIFY2(!id.isEmpty(), qPrintable(error.message));
    QTRY_VERIFY_WITH_TIMEOUT(fileEnds >= 120 && m_pump->isQuiet(), Timeout);
    m_pump->setUp(false);
    m_pump->filter = {};
    m_pump->setBulkPaused(false);
    m_pump->setUp(true);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Done, Timeout);
    QVERIFY(m_b->last.value(id).resumedFrom >= 119 * 3000);
    checkFolder(contents);
}

// The receiving app is killed part-way through (its done log was held open) and started again:
// the files it verified are not asked for again and none is stored twice.
void TestTransferBatch::receiverRestartMidFolderResumes()
{
    makeSides();
    const QList<QByteArray> contents = makeFolder(300, 3000);
    int fileEnds = 0;
    LoopbackPump *pump = m_pump.get();
    m_pump->filter = [&fileEnds, pump](int from, quint16 type, QByteArray &) {
        if (from == 0 && type == TransferProtocol::FileEnd && ++fileEnds == 170)
            pump->setBulkPaused(true);
        return true;
    };
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("folder")) }, &error);
    QVERIFY2(!id.isEmpty(), qPrintable(error.message));
    QTRY_VERIFY_WITH_TIMEOUT(fileEnds >= 170 && m_pump->isQuiet(), Timeout);
    QTest::qWait(20);

    m_pump->setUp(false);
    m_pump.reset();
    m_b.reset();
    m_b = std::make_unique<Side>(dl(), stateB(), AcceptPolicy::Ask);
    m_pump = std::make_unique<LoopbackPump>(m_a->manager.get(), m_b->manager.get());
    m_pump->setUp(true);
    QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Done, Timeout);
    QVERIFY(m_b->last.value(id).resumedFrom >= 169 * 3000);
    checkFolder(contents);
}

// The receiver keeps the folder it verified open from one file to the next. A folder swapped
// for a symlink meanwhile is never written through: the rest lands in the folder that was
// checked (moved away) or fails, but nothing appears outside the download folder.
void TestTransferBatch::folderSwappedForSymlinkMidFolder()
{
    makeSides();
    const QList<QByteArray> contents = makeFolder(100, 3000);
    const QString outside = m_tmp->filePath(QStringLiteral("outside"));
    QDir().mkpath(outside);
    int fileEnds = 0;
    bool swapped = false;
    const QString dlDir = dl();
    m_pump->filter = [&](int from, quint16 type, QByteArray &) {
        if (from == 0 && type == TransferProtocol::FileEnd && ++fileEnds == 10 && !swapped) {
            swapped = true;
            QDir().rename(
                dlDir + QStringLiteral("/folder/d00"), dlDir + QStringLiteral("/folder/moved"));
            QFile::link(outside, dlDir + QStringLiteral("/folder/d00"));
        }
        return true;
    };
    Error error;
    const QString id = m_a->manager->offerPaths({ src(QStringLiteral("folder")) }, &error);
    QVERIFY2(!id.isEmpty(), qPrintable(error.message));
    QTRY_VERIFY_WITH_TIMEOUT(
        m_b->state(id) == TransferState::Done || m_b->state(id) == TransferState::Failed, Timeout);
    QVERIFY(swapped);
    QCOMPARE(listTree(outside), QStringList());
}

// A file that arrives in one chunk is written without a name (O_TMPFILE where the file system
// has it) and linked to its final name after its SHA-256 matched: before that nothing of it is
// visible, a damaged one leaves nothing behind, and one cut off by the link starts over.
void TestTransferBatch::wholeFileHasNoNameUntilVerified()
{
    QList<std::pair<quint16, QByteArray>> sent;
    Side side(dl(), stateB(), AcceptPolicy::All);
    side.manager->setSendControl([&sent](quint16 type, const QByteArray &payload) {
        sent.append({ type, payload });
    });
    side.manager->onLinkUp();
    const QByteArray id = QByteArray::fromHex("0123456789abcdef0123456789abcdef");
    const QByteArray a = randomBytes(5000, 1);
    const QByteArray b = randomBytes(7000, 2);
    const QList<OfferFile> files { { QStringLiteral("a.bin"), a.size(), 0 },
        { QStringLiteral("b.bin"), b.size(), 0 } };
    for (const QByteArray &part : TransferProtocol::encodeOffer(id, files, a.size() + b.size()))
        side.manager->handleFrame(TransferProtocol::Offer, part);
    side.manager->handleFrame(TransferProtocol::Data, TransferProtocol::encodeData(id, 0, 0, a));
    QTRY_COMPARE_WITH_TIMEOUT(
        side.last.value(TransferProtocol::idToText(id)).bytes, qint64(a.size()), Timeout);
    // Where the file system can (Linux: O_TMPFILE), nothing of it has a name yet.
    bool anonymous = false;
#if defined(__linux__) && defined(O_TMPFILE)
    const int probe = ::open(QFile::encodeName(dl()).constData(), O_TMPFILE | O_WRONLY, 0600);
    anonymous = probe >= 0;
    if (probe >= 0)
        ::close(probe);
#endif
    if (anonymous)
        QCOMPARE(listTree(dl()), QStringList());
    else
        QCOMPARE(listTree(dl()).size(), 1); // the named partial file

    // The link goes before FileEnd: the sender is asked for a.bin from the start again.
    side.manager->onLinkDown();
    sent.clear();
    side.manager->onLinkUp();
    for (const QByteArray &part : TransferProtocol::encodeOffer(id, files, a.size() + b.size()))
        side.manager->handleFrame(TransferProtocol::Offer, part);
    QTRY_VERIFY_WITH_TIMEOUT(!sent.isEmpty(), Timeout);
    const auto accept = TransferProtocol::decodeAcceptPart(sent.first().second, nullptr);
    QVERIFY(accept);
    for (const ResumeEntry &e : accept->entries)
        QVERIFY(e.index != 0 || !anonymous); // nothing kept of a.bin: it starts over
    side.manager->handleFrame(TransferProtocol::Data, TransferProtocol::encodeData(id, 0, 0, a));
    side.manager->handleFrame(
        TransferProtocol::FileEnd, TransferProtocol::encodeFileEnd(id, 0, Sha256::hash(a)));
    // b.bin arrives damaged: nothing of it may stay.
    side.manager->handleFrame(TransferProtocol::Data, TransferProtocol::encodeData(id, 1, 0, b));
    side.manager->handleFrame(
        TransferProtocol::FileEnd, TransferProtocol::encodeFileEnd(id, 1, Sha256::hash(a)));
    QTRY_COMPARE_WITH_TIMEOUT(
        side.state(TransferProtocol::idToText(id)), TransferState::Failed, Timeout);
    QCOMPARE(readFile(dl() + QStringLiteral("/a.bin")), a);
    QCOMPARE(listTree(dl()), QStringList { QStringLiteral("a.bin") });
}

QTEST_GUILESS_MAIN(TestTransferBatch)
#include "tst_transferbatch.moc"
