// The transfer wire format as pure functions: round trips, multi-part offers/answers, and every
// field of a hostile payload checked for type and range before anything uses it.
#include "common/sha256.h"
#include "transfer/transferprotocol.h"

#include <QCborArray>
#include <QCborMap>
#include <QCborValue>
#include <QTest>
#include <QUuid>

using namespace Punchline;

namespace {

QByteArray newId()
{
    return QUuid::createUuid().toRfc4122();
}

QCborMap validOfferMap(const QByteArray &id)
{
    QCborMap file;
    file.insert(QStringLiteral("p"), QStringLiteral("a.txt"));
    file.insert(QStringLiteral("s"), 5);
    file.insert(QStringLiteral("m"), 1700000000000LL);
    QCborMap m;
    m.insert(QStringLiteral("v"), 1);
    m.insert(QStringLiteral("id"), id);
    m.insert(QStringLiteral("count"), 1);
    m.insert(QStringLiteral("total"), 5);
    m.insert(QStringLiteral("first"), 0);
    m.insert(QStringLiteral("files"), QCborArray { file });
    return m;
}

} // namespace

class TestTransferProtocol : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void offerRoundTrip();
    void bigOfferIsSplitIntoParts();
    void badOffers_data();
    void badOffers();
    void acceptRoundTrip();
    void badAccepts_data();
    void badAccepts();
    void smallFrames();
    void abortCodesAreWhitelisted();
    void dataHeader_data();
    void dataHeader();
    void ids();
    void manifest();
};

void TestTransferProtocol::offerRoundTrip()
{
    const QByteArray id = newId();
    const QList<OfferFile> files { { QStringLiteral("dir/ä.txt"), 123, -5 },
        { QStringLiteral("b"), 0, 42 } };
    const QList<QByteArray> parts = TransferProtocol::encodeOffer(id, files, 123);
    QCOMPARE(parts.size(), 1);
    QString why;
    const auto part = TransferProtocol::decodeOfferPart(parts.first(), &why);
    QVERIFY2(part, qPrintable(why));
    QCOMPARE(part->id, id);
    QCOMPARE(part->count, 2);
    QCOMPARE(part->total, 123);
    QCOMPARE(part->first, 0);
    QCOMPARE(part->files.size(), 2);
    QCOMPARE(part->files.at(0).path, files.at(0).path);
    QCOMPARE(part->files.at(0).size, 123);
    QCOMPARE(part->files.at(0).mtimeMs, -5);
    QCOMPARE(part->files.at(1).mtimeMs, 42);
    QCOMPARE(TransferProtocol::peekId(parts.first()), id);
}

void TestTransferProtocol::bigOfferIsSplitIntoParts()
{
    const QByteArray id = newId();
    QList<OfferFile> files;
    for (int i = 0; i < 20000; ++i)
        files.append(
            { QStringLiteral("folder/some rather long file name number %1.jpg").arg(i), i, i });
    const QList<QByteArray> parts = TransferProtocol::encodeOffer(id, files, 0);
    QVERIFY(parts.size() > 2);
    int next = 0;
    for (const QByteArray &payload : parts) {
        QVERIFY(payload.size() < 1024 * 1024); // fits a frame after hello
        const auto part = TransferProtocol::decodeOfferPart(payload, nullptr);
        QVERIFY(part);
        QCOMPARE(part->first, next);
        QCOMPARE(part->count, files.size());
        next += int(part->files.size());
    }
    QCOMPARE(next, files.size());
}

void TestTransferProtocol::badOffers_data()
{
    QTest::addColumn<QByteArray>("payload");
    const QByteArray id = newId();
    const QByteArray good = validOfferMap(id).toCborValue().toCbor();
    QVERIFY(TransferProtocol::decodeOfferPart(good, nullptr));
    auto with = [&](const QString &key, const QCborValue &value) {
        QCborMap m = validOfferMap(id);
        if (value.isUndefined())
            m.remove(key);
        else
            m.insert(key, value);
        return m.toCborValue().toCbor();
    };
    auto withFile = [&](const QString &key, const QCborValue &value) {
        QCborMap m = validOfferMap(id);
        QCborMap f = m.value(QStringLiteral("files")).toArray().at(0).toMap();
        if (value.isUndefined())
            f.remove(key);
        else
            f.insert(key, value);
        m.insert(QStringLiteral("files"), QCborArray { f });
        return m.toCborValue().toCbor();
    };
    QTest::newRow("empty") << QByteArray();
    QTest::newRow("truncated") << good.left(good.size() - 3);
    QTest::newRow("trailing") << good + QByteArray(1, '\0');
    QTest::newRow("not a map") << QCborValue(QCborArray { 1, 2 }).toCbor();
    QTest::newRow("garbage") << QByteArray("\xff\xff\xff\xff", 4);
    QTest::newRow("version 2") << with(QStringLiteral("v"), 2);
    QTest::newRow("no version") << with(QStringLiteral("v"), QCborValue());
    QTest::newRow("short id") << with(QStringLiteral("id"), QByteArray(15, 'x'));
    QTest::newRow("text id") << with(QStringLiteral("id"), QStringLiteral("0123456789abcdef"));
    QTest::newRow("count 0") << with(QStringLiteral("count"), 0);
    QTest::newRow("count too big") << with(QStringLiteral("count"), 100001);
    QTest::newRow("count text") << with(QStringLiteral("count"), QStringLiteral("1"));
    QTest::newRow("negative total") << with(QStringLiteral("total"), -1);
    QTest::newRow("total 2^50+1") << with(QStringLiteral("total"), (qint64(1) << 50) + 1);
    QTest::newRow("first beyond count") << with(QStringLiteral("first"), 1);
    QTest::newRow("files missing") << with(QStringLiteral("files"), QCborValue());
    QTest::newRow("files empty") << with(QStringLiteral("files"), QCborArray());
    QTest::newRow("more files than count") << with(QStringLiteral("files"),
        QCborArray { validOfferMap(id).value(QStringLiteral("files")).toArray().at(0),
            validOfferMap(id).value(QStringLiteral("files")).toArray().at(0) });
    QTest::newRow("file not a map") << with(QStringLiteral("files"), QCborArray { 1 });
    QTest::newRow("path bytes") << withFile(QStringLiteral("p"), QByteArray("a.txt"));
    QTest::newRow("path missing") << withFile(QStringLiteral("p"), QCborValue());
    QTest::newRow("path huge") << withFile(QStringLiteral("p"), QString(5000, QLatin1Char('a')));
    QTest::newRow("size negative") << withFile(QStringLiteral("s"), -1);
    QTest::newRow("size float") << withFile(QStringLiteral("s"), 5.0);
    QTest::newRow("size too big") << withFile(QStringLiteral("s"), (qint64(1) << 50) + 1);
    QTest::newRow("mtime text") << withFile(QStringLiteral("m"), QStringLiteral("now"));
}

void TestTransferProtocol::badOffers()
{
    QFETCH(QByteArray, payload);
    QString why;
    QVERIFY(!TransferProtocol::decodeOfferPart(payload, &why));
    QVERIFY(!why.isEmpty());
}

void TestTransferProtocol::acceptRoundTrip()
{
    const QByteArray id = newId();
    const QByteArray h = Sha256::hash("x");
    const QList<QByteArray> none = TransferProtocol::encodeAccept(id, {});
    QCOMPARE(none.size(), 1);
    const auto empty = TransferProtocol::decodeAcceptPart(none.first(), nullptr);
    QVERIFY(empty);
    QCOMPARE(empty->count, 0);
    QVERIFY(empty->entries.isEmpty());

    QList<ResumeEntry> entries;
    for (int i = 0; i < 10000; ++i)
        entries.append({ i, i * 10, h, i % 2 == 0 });
    const QList<QByteArray> parts = TransferProtocol::encodeAccept(id, entries);
    QVERIFY(parts.size() > 1);
    QList<ResumeEntry> decoded;
    for (const QByteArray &payload : parts) {
        const auto part = TransferProtocol::decodeAcceptPart(payload, nullptr);
        QVERIFY(part);
        QCOMPARE(part->id, id);
        QCOMPARE(part->first, decoded.size());
        decoded += part->entries;
    }
    QCOMPARE(decoded.size(), entries.size());
    QCOMPARE(decoded.at(7).offset, 70);
    QCOMPARE(decoded.at(7).complete, false);
    QCOMPARE(decoded.at(8).complete, true);
    QCOMPARE(decoded.at(8).prefixHash, h);
}

void TestTransferProtocol::badAccepts_data()
{
    QTest::addColumn<QByteArray>("payload");
    const QByteArray id = newId();
    auto make = [&](const QCborMap &entry, qint64 count = 1) {
        QCborMap m;
        m.insert(QStringLiteral("id"), id);
        m.insert(QStringLiteral("count"), count);
        m.insert(QStringLiteral("first"), 0);
        m.insert(QStringLiteral("entries"), QCborArray { entry });
        return m.toCborValue().toCbor();
    };
    QCborMap good;
    good.insert(QStringLiteral("i"), 0);
    good.insert(QStringLiteral("o"), 10);
    good.insert(QStringLiteral("h"), Sha256::hash("x"));
    QVERIFY(TransferProtocol::decodeAcceptPart(make(good), nullptr));
    QCborMap e = good;
    e.insert(QStringLiteral("h"), QByteArray(31, 'x'));
    QTest::newRow("short hash") << make(e);
    e = good;
    e.insert(QStringLiteral("o"), -1);
    QTest::newRow("negative offset") << make(e);
    e = good;
    e.insert(QStringLiteral("i"), 100000);
    QTest::newRow("index too big") << make(e);
    e = good;
    e.insert(QStringLiteral("c"), 1);
    QTest::newRow("complete not bool") << make(e);
    QTest::newRow("entries beyond count") << make(good, 0);
}

void TestTransferProtocol::badAccepts()
{
    QFETCH(QByteArray, payload);
    QVERIFY(!TransferProtocol::decodeAcceptPart(payload, nullptr));
}

void TestTransferProtocol::smallFrames()
{
    const QByteArray id = newId();
    QCOMPARE(*TransferProtocol::decodeIdOnly(TransferProtocol::encodeIdOnly(id), nullptr), id);
    QByteArray gotId;
    const QByteArray h = Sha256::hash("file");
    const auto end = TransferProtocol::decodeFileEnd(
        TransferProtocol::encodeFileEnd(id, 7, h), &gotId, nullptr);
    QVERIFY(end);
    QCOMPARE(gotId, id);
    QCOMPARE(end->first, 7);
    QCOMPARE(end->second, h);
    QCOMPARE(
        *TransferProtocol::decodeComplete(TransferProtocol::encodeComplete(id, h), &gotId, nullptr),
        h);
    QVERIFY(!TransferProtocol::decodeComplete(
        TransferProtocol::encodeComplete(id, h.left(16)), &gotId, nullptr));
    QVERIFY(!TransferProtocol::decodeIdOnly(QByteArray("\xa0", 1) + "x", nullptr));
    // Consumed: exactly 12 bytes, big-endian, bounded.
    const auto zero
        = TransferProtocol::decodeConsumed(TransferProtocol::encodeConsumed(0, 0), nullptr);
    QVERIFY(zero);
    QCOMPARE(zero->totalBytes, 0);
    QCOMPARE(zero->queueUs, 0);
    const qint64 big = (qint64(1) << 40) + 12345;
    QCOMPARE(TransferProtocol::encodeConsumed(big, 7000),
        QByteArray::fromHex("000001000000303900001b58"));
    const auto back
        = TransferProtocol::decodeConsumed(TransferProtocol::encodeConsumed(big, 7000), nullptr);
    QCOMPARE(back->totalBytes, big);
    QCOMPARE(back->queueUs, 7000);
    // A wait longer than the field holds is sent as the largest value, never wrapped.
    QCOMPARE(TransferProtocol::decodeConsumed(
                 TransferProtocol::encodeConsumed(1, qint64(1) << 40), nullptr)
                 ->queueUs,
        qint64(0xffffffffLL));
    QString why;
    QVERIFY(!TransferProtocol::decodeConsumed(QByteArray(11, '\0'), &why));
    QVERIFY(why.contains(QStringLiteral("11 bytes")));
    QVERIFY(!TransferProtocol::decodeConsumed(QByteArray(13, '\0'), nullptr));
    QVERIFY(
        !TransferProtocol::decodeConsumed(QByteArray::fromHex("ffffffffffffffff00000000"), &why));
}

void TestTransferProtocol::abortCodesAreWhitelisted()
{
    const QByteArray id = newId();
    const auto disk = TransferProtocol::decodeAbort(
        TransferProtocol::encodeAbort(id, { ErrorCode::DiskFull, QStringLiteral("full") }),
        nullptr);
    QVERIFY(disk);
    QCOMPARE(disk->second.code, ErrorCode::DiskFull);
    QCOMPARE(disk->second.message, QStringLiteral("full"));
    // A peer cannot make us report, say, a TLS or identity failure.
    const auto odd = TransferProtocol::decodeAbort(
        TransferProtocol::encodeAbort(id, { ErrorCode::PeerIdentityMismatch, QStringLiteral("x") }),
        nullptr);
    QVERIFY(odd);
    QCOMPARE(odd->second.code, ErrorCode::ProtocolError);
}

void TestTransferProtocol::dataHeader_data()
{
    QTest::addColumn<int>("bytes");
    QTest::addColumn<bool>("valid");
    QTest::newRow("header only") << 0 << false;
    QTest::newRow("one byte") << 1 << true;
    QTest::newRow("one chunk") << TransferProtocol::ChunkSize << true;
    QTest::newRow("oversized chunk") << TransferProtocol::ChunkSize + 1 << false;
}

void TestTransferProtocol::dataHeader()
{
    QFETCH(int, bytes);
    QFETCH(bool, valid);
    const QByteArray id = newId();
    const QByteArray frame
        = TransferProtocol::encodeData(id, 0xdeadbeef, 0x0123456789abULL, QByteArray(bytes, 'z'));
    const auto header = TransferProtocol::decodeDataHeader(frame, nullptr);
    QCOMPARE(bool(header), valid);
    if (valid) {
        QCOMPARE(header->id, id);
        QCOMPARE(header->index, 0xdeadbeefU);
        QCOMPARE(header->offset, 0x0123456789abULL);
    }
    QVERIFY(!TransferProtocol::decodeDataHeader(frame.left(10), nullptr));
}

void TestTransferProtocol::ids()
{
    const QByteArray id = newId();
    const QString text = TransferProtocol::idToText(id);
    QCOMPARE(text.size(), 36);
    QCOMPARE(TransferProtocol::idFromText(text), id);
    QVERIFY(TransferProtocol::idFromText(QStringLiteral("not-an-id")).isEmpty());
    QVERIFY(TransferProtocol::idFromText(QString()).isEmpty());
}

void TestTransferProtocol::manifest()
{
    const QByteArray a = Sha256::hash("a");
    const QByteArray b = Sha256::hash("b");
    QCOMPARE(TransferProtocol::manifestHash({ { QStringLiteral("x"), 1, 0 } }, { a }), a);
    const QByteArray lines = a.toHex() + "  d/x\n" + b.toHex() + "  d/y\n";
    const QByteArray expected = Sha256::hash(lines);
    QCOMPARE(TransferProtocol::manifestHash(
                 { { QStringLiteral("d/x"), 1, 0 }, { QStringLiteral("d/y"), 1, 0 } }, { a, b }),
        expected);
    QVERIFY(TransferProtocol::manifestHash({ { QStringLiteral("x"), 1, 0 } }, {}).isEmpty());
}

QTEST_GUILESS_MAIN(TestTransferProtocol)
#include "tst_transferprotocol.moc"
