// Rendezvous records (core/rendezvous/record.h): key derivation, sealing, the strict parser,
// the replay guard and invitations.
#include "identity/identity.h"
#include "rendezvous/record.h"

#include <QCryptographicHash>
#include <QJsonArray>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <openssl/evp.h>

using namespace Punchline;
using namespace Punchline::Rendezvous;

namespace {

const QByteArray PairSecret
    = QByteArray::fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const QByteArray InviteSecret = QByteArray::fromHex("00112233445566778899aabbccddeeff");
const QByteArray FpA(32, char(0xaa));
const QByteArray FpB(32, char(0xbb));
const QByteArray FpC(32, char(0xcc));
constexpr qint64 Epoch = 19723; // 2024-01-01

Endpoint ep(const char *text)
{
    return *Endpoint::parse(QString::fromLatin1(text));
}

QList<Endpoint> endpoints(int count, bool v6)
{
    QList<Endpoint> out;
    for (int i = 0; i < count; ++i) {
        const QString text = v6 ? QStringLiteral("[2001:db8::%1]:%2").arg(i + 1).arg(40000 + i)
                                : QStringLiteral("203.0.113.%1:%2").arg(i + 1).arg(40000 + i);
        out.append(*Endpoint::parse(text));
    }
    return out;
}

Record presence()
{
    Record r;
    r.type = Record::Presence;
    r.seq = 1704067200123;
    r.expiresMs = r.seq + 30 * 60 * 1000;
    r.flags = Record::Online;
    r.name = QStringLiteral("Ada");
    r.direct = { ep("192.168.1.20:4711"), ep("198.51.100.7:4711") };
    r.mapped = { ep("198.51.100.7:61000") };
    r.relays = { ep("[2001:db8::99]:3478") };
    return r;
}

Channel aToB()
{
    return Channel::friendDirection(PairSecret, FpA, FpB);
}

// AES-256-GCM of any plaintext under the record scheme, so the parser's checks behind the
// authentication can be reached with hand-made plaintexts.
QByteArray sealRaw(const Channel &c, qint64 epoch, const QByteArray &plain)
{
    const QByteArray aad = QByteArray("PLR1") + c.dhtKey(epoch);
    QByteArray value(12 + plain.size() + 16, '\0');
    auto *nonce = reinterpret_cast<uchar *>(value.data());
    for (int i = 0; i < 12; ++i)
        nonce[i] = uchar(i * 7);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int length = 0;
    bool ok = ctx
        && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr,
               reinterpret_cast<const uchar *>(c.encKey.constData()), nonce)
            == 1
        && EVP_EncryptUpdate(ctx, nullptr, &length,
               reinterpret_cast<const uchar *>(aad.constData()), int(aad.size()))
            == 1
        && EVP_EncryptUpdate(ctx, nonce + 12, &length,
               reinterpret_cast<const uchar *>(plain.constData()), int(plain.size()))
            == 1
        && EVP_EncryptFinal_ex(ctx, nonce + 12 + length, &length) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, nonce + 12 + plain.size()) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? value : QByteArray();
}

// A plaintext with the given body after the fixed header (version, type, seq, expiry, flags,
// status: 20 bytes), padded to 256 bytes.
QByteArray plaintext(quint8 version, quint8 type, quint8 status, const QByteArray &body,
    qsizetype paddedTo = 256, quint64 expires = 1704067200123 + 60000)
{
    QByteArray p;
    p.append(char(version));
    p.append(char(type));
    char seq[8];
    qToBigEndian<quint64>(1704067200123, seq);
    p.append(seq, 8);
    qToBigEndian<quint64>(expires, seq);
    p.append(seq, 8);
    p.append(char(Record::Online));
    p.append(char(status));
    p.append(body);
    if (p.size() < paddedTo)
        p.append(QByteArray(paddedTo - p.size(), '\0'));
    return p;
}

// An identity of our own kind (P-256, self-signed) in a folder of its own.
struct TestIdentity
{
    QTemporaryDir dir;
    std::optional<Identity> identity = Identity::loadOrCreate(dir.path(), nullptr);
    ReplySigner signer() const
    {
        return ReplySigner::fromIdentity(
            identity->certificate().toDer(), identity->privateKey().toPem());
    }
    QByteArray fingerprint() const { return identity->fingerprint(); }
};

const QByteArray RequestId = QByteArray::fromHex("0102030405060708090a0b0c0d0e0f10");

Record reply(quint8 status = Record::Accepted)
{
    Record r = presence();
    r.type = Record::InviteReply;
    r.status = status;
    return r;
}

} // namespace

class TestRecord : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void epochs();
    void knownAnswers();
    void invalidInputsGiveInvalidChannels();
    void roundTrip_data();
    void roundTrip();
    void paddingHidesLengths();
    void nameIsCutAtACharacterBoundary();
    void sealDropsUnusableEndpointsAndCapsLists();
    void sealRefusesWhatCannotBeOpened();
    void tamperingWithAnyByteFails();
    void wrongKeyFails();
    void valueIsBoundToItsEpoch();
    void twoSealsDiffer();
    void keysDifferPerEpochAndDirection();
    void sizeLimits_data();
    void sizeLimits();
    void garbageNeverOpens();
    void malformedButAuthentic_data();
    void malformedButAuthentic();
    void unknownFlagBitsAreKept();
    void expiry();
    void signedReply();
    void largestSignedReplyFits();
    void forgedReplies();
    void replyReplayedForAnotherRequest();
    void replayGuard();
    void replayGuardWindow();
    void replayGuardPersistence();
    void replayGuardEviction();
    void replayGuardFromJsonIsBoundedAndStrict();
    void invitation();
    void nextSeq();
};

void TestRecord::epochs()
{
    QCOMPARE(epochOf(0), 0);
    QCOMPARE(epochOf(86399), 0);
    QCOMPARE(epochOf(86400), 1);
    QCOMPARE(epochOf(-1), -1);
    QCOMPARE(epochOf(-86400), -1);
    QCOMPARE(epochOf(-86401), -2);
    QCOMPARE(epochOf(1704067200), Epoch); // 2024-01-01T00:00:00Z

    const qint64 midnight = Epoch * 86400;
    QCOMPARE(epochsAround(midnight + 12 * 3600), QList<qint64>({ Epoch }));
    QCOMPARE(epochsAround(midnight + 60), QList<qint64>({ Epoch - 1, Epoch }));
    QCOMPARE(epochsAround(midnight - 60), QList<qint64>({ Epoch - 1, Epoch }));
    QCOMPARE(epochsAround(midnight + 15 * 60), QList<qint64>({ Epoch }));
    QCOMPARE(epochsAround(midnight + 15 * 60 - 1), QList<qint64>({ Epoch - 1, Epoch }));
    QCOMPARE(epochsAround(midnight - 15 * 60 - 1), QList<qint64>({ Epoch - 1 }));
}

// Expected values computed once with the OpenSSL 3.0 command line (not with the code under
// test), F = 32 bytes 0xaa, G = 32 bytes 0xbb:
//   openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:000102...1f
//     -kdfopt salt:punchline/rendezvous/v1 -kdfopt hexinfo:<hex("friend key")>FG HKDF
// (and "friend enc"; and hexkey:00112233445566778899aabbccddeeff, info "invite req key" F), and
//   printf '6b%016x' 19723 | xxd -r -p | openssl mac -digest SHA256 -macopt hexkey:<keyKey> HMAC
// for the DHT key (its first 20 bytes). The CLI runs HKDF extract-and-expand in one go; the
// code splits it in EXTRACT_ONLY and EXPAND_ONLY, so equal results also show the split is right.
void TestRecord::knownAnswers()
{
    const Channel c = aToB();
    QVERIFY(c.isValid());
    QCOMPARE(c.keyKey.toHex(),
        QByteArray("1e595127b4095887eedc0c15c85a10cac6e381e2ca0c420c194dbdac85b39461"));
    QCOMPARE(c.encKey.toHex(),
        QByteArray("e627cec686f5924c2d2189b8283262459089c7874dab6449f0938a0ad5037b21"));
    QCOMPARE(c.dhtKey(Epoch).toHex(), QByteArray("2a266d823fe358bed8fa909e9b34f6065eca1c54"));
    QCOMPARE(c.dhtKey(Epoch).size(), Channel::DhtKeyBytes);

    const Channel invite = Channel::inviteRequests(InviteSecret, FpA);
    QCOMPARE(invite.keyKey.toHex(),
        QByteArray("db97cfd4e5a63ea79f90ed70a900d2e9d508a1cf5a5b2d2f4cc66961bc835b3d"));
}

void TestRecord::invalidInputsGiveInvalidChannels()
{
    QVERIFY(!Channel::friendDirection(PairSecret.left(31), FpA, FpB).isValid());
    QVERIFY(!Channel::friendDirection(PairSecret, FpA.left(20), FpB).isValid());
    QVERIFY(!Channel::friendDirection(PairSecret, FpA, QByteArray()).isValid());
    QVERIFY(!Channel::inviteRequests(PairSecret, FpA).isValid()); // 32 bytes, not 16
    QVERIFY(!Channel::inviteReplies(InviteSecret, FpA, FpB.left(31)).isValid());
    QVERIFY(Channel::inviteReplies(InviteSecret, FpA, FpB).isValid());

    const Channel none;
    QVERIFY(none.dhtKey(Epoch).isEmpty());
    QVERIFY(seal(none, Epoch, presence()).isEmpty());
    Error error;
    QVERIFY(!open(none, Epoch, seal(aToB(), Epoch, presence()), &error));
    QCOMPARE(error.code, ErrorCode::BadRecord);
}

void TestRecord::roundTrip_data()
{
    QTest::addColumn<Record>("record");

    QTest::newRow("presence") << presence();
    Record empty;
    empty.seq = 1;
    empty.expiresMs = 2;
    QTest::newRow("presence, nothing in it") << empty;
    Record offline = presence();
    offline.flags = Record::GoingOffline;
    offline.direct.clear();
    QTest::newRow("going offline") << offline;

    Record request;
    request.type = Record::InviteRequest;
    request.seq = 1704067200999;
    request.expiresMs = request.seq + Record::MaxLifetimeMs;
    request.name = QStringLiteral("Grace Hopper");
    request.fingerprint = FpB;
    request.requestId = QByteArray(16, '\x5a');
    request.direct = { ep("10.0.0.2:5000"), ep("[2001:db8::2]:5000") };
    QTest::newRow("invite request") << request;

    for (const quint8 status :
        { Record::Accepted, Record::Declined, Record::Revoked, Record::Expired }) {
        Record reply = presence();
        reply.type = Record::InviteReply;
        reply.status = status;
        if (status != Record::Accepted) {
            reply.direct.clear();
            reply.mapped.clear();
            reply.relays.clear();
        }
        QTest::addRow("invite reply, status %d", int(status)) << reply;
    }
    Record signedReply = reply();
    signedReply.certificate = QByteArray(Record::MaxCertificateBytes, '\x30');
    signedReply.signature = QByteArray(Record::MaxSignatureBytes, '\x02');
    signedReply.direct = endpoints(6, true);
    signedReply.mapped = endpoints(6, true);
    signedReply.relays = endpoints(6, true);
    signedReply.name = QString(64, QLatin1Char('r'));
    QTest::newRow("reply with the largest certificate and signature") << signedReply;

    Record largest;
    largest.type = Record::InviteRequest;
    largest.seq = std::numeric_limits<quint64>::max() - 1;
    largest.expiresMs = std::numeric_limits<quint64>::max();
    largest.flags = 0xff;
    largest.name = QString(16, QChar(0x4e2d)) + QStringLiteral("abcdefghijklmnop"); // 64 bytes
    largest.fingerprint = FpC;
    largest.requestId = QByteArray(16, '\xff');
    largest.direct = endpoints(8, true);
    largest.mapped = endpoints(8, true);
    largest.relays = endpoints(8, true);
    QTest::newRow("every field at its largest") << largest;
}

void TestRecord::roundTrip()
{
    QFETCH(Record, record);
    const Channel c = aToB();
    const QByteArray value = seal(c, Epoch, record);
    QVERIFY(!value.isEmpty());
    QVERIFY(value.size() <= Record::MaxValueBytes);
    QVERIFY(value.size() >= Record::MinValueBytes);
    const qsizetype plainBytes = value.size() - Record::NonceBytes - Record::TagBytes;
    QVERIFY(plainBytes % Record::PaddingBlock == 0 || plainBytes == Record::MaxPlaintextBytes);
    Error error;
    const auto opened = open(c, Epoch, value, &error);
    QVERIFY2(opened, qPrintable(error.message));
    QCOMPARE(error.code, ErrorCode::None);
    QCOMPARE(*opened, record);
}

void TestRecord::paddingHidesLengths()
{
    const Channel c = aToB();
    Record small;
    small.seq = 1;
    small.expiresMs = 2;
    Record big = presence();
    big.name = QString(60, QLatin1Char('x'));
    big.direct = endpoints(8, false);
    big.mapped = endpoints(2, true);
    const QByteArray a = seal(c, Epoch, small);
    const QByteArray b = seal(c, Epoch, big);
    QCOMPARE(a.size(), Record::MinValueBytes);
    // 20 + 61 + 2 + 3 + 8 x 7 + 2 x 19 + 3 = 183 bytes: one block
    QCOMPARE(b.size(), a.size());

    Record largest = big; // 20 + 61 + 2 + 3 x (1 + 8 x 19) + 3 = 545 bytes: three blocks
    largest.direct = endpoints(8, true);
    largest.mapped = endpoints(8, true);
    largest.relays = endpoints(8, true);
    QCOMPARE(seal(c, Epoch, largest).size(), Record::NonceBytes + 768 + Record::TagBytes);
}

void TestRecord::nameIsCutAtACharacterBoundary()
{
    const Channel c = aToB();
    Record r = presence();
    r.name = QString(40, QChar(0xe9)); // é: 2 bytes each, 80 in all
    auto opened = open(c, Epoch, seal(c, Epoch, r), nullptr);
    QVERIFY(opened);
    QCOMPARE(opened->name, QString(32, QChar(0xe9)));

    r.name = QString(63, QLatin1Char('a')) + QString::fromUtf8("\xf0\x9f\x98\x80"); // 63 + 4
    opened = open(c, Epoch, seal(c, Epoch, r), nullptr);
    QVERIFY(opened);
    QCOMPARE(opened->name, QString(63, QLatin1Char('a')));
}

void TestRecord::sealDropsUnusableEndpointsAndCapsLists()
{
    const Channel c = aToB();
    Record r = presence();
    r.direct = { Endpoint { QHostAddress(QStringLiteral("203.0.113.1")), 0 }, Endpoint {},
        ep("224.0.0.1:5000"), ep("0.0.0.0:5000"),
        Endpoint { QHostAddress(QStringLiteral("::ffff:0.0.0.0")), 5000 } };
    r.direct += endpoints(10, false);
    r.mapped = { Endpoint { QHostAddress(QStringLiteral("::ffff:203.0.113.9")), 7 } };
    const auto opened = open(c, Epoch, seal(c, Epoch, r), nullptr);
    QVERIFY(opened);
    QCOMPARE(opened->direct, endpoints(8, false));
    QCOMPARE(opened->mapped, QList<Endpoint>({ ep("203.0.113.9:7") }));
    QCOMPARE(opened->mapped.first().address.protocol(), QAbstractSocket::IPv4Protocol);
}

void TestRecord::sealRefusesWhatCannotBeOpened()
{
    const Channel c = aToB();
    Record r = presence();
    r.fingerprint = FpB; // only requests carry one
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r = presence();
    r.type = Record::InviteRequest; // without the requester's fingerprint
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r.fingerprint = FpB.left(31);
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r = presence();
    r.status = Record::Accepted; // only replies have a status
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r.type = Record::InviteReply;
    r.status = 5;
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r.status = Record::NoStatus;
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r = presence();
    r.type = 0;
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r.type = 4;
    QVERIFY(seal(c, Epoch, r).isEmpty());

    r = presence();
    r.expiresMs = r.seq; // expires no later than it was made
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r.expiresMs = r.seq + Record::MaxLifetimeMs + 1;
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r = presence();
    r.requestId = RequestId; // only requests carry one
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r = presence();
    r.type = Record::InviteRequest;
    r.fingerprint = FpB; // without a request id
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r.requestId = RequestId;
    QVERIFY(!seal(c, Epoch, r).isEmpty());
    r.certificate = QByteArray(10, 'c'); // only replies carry one
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r = reply();
    r.certificate = QByteArray(Record::MaxCertificateBytes + 1, 'c');
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r.certificate = QByteArray(Record::MaxCertificateBytes, 'c');
    r.signature = QByteArray(Record::MaxSignatureBytes + 1, 's');
    QVERIFY(seal(c, Epoch, r).isEmpty());
    r.signature.chop(1);
    QVERIFY(!seal(c, Epoch, r).isEmpty());
}

void TestRecord::tamperingWithAnyByteFails()
{
    const Channel c = aToB();
    const QByteArray value = seal(c, Epoch, presence());
    QVERIFY(open(c, Epoch, value, nullptr));
    for (qsizetype i = 0; i < value.size(); ++i) {
        for (const char mask : { char(0x01), char(0x80), char(0xff) }) {
            QByteArray changed = value;
            changed[i] = char(changed[i] ^ mask);
            Error error;
            QVERIFY2(!open(c, Epoch, changed, &error),
                qPrintable(QStringLiteral("byte %1 changed").arg(i)));
            QCOMPARE(error.code, ErrorCode::BadRecord);
        }
    }
    // Cut short or lengthened by a block: also refused.
    QVERIFY(!open(c, Epoch, value.left(value.size() - 1), nullptr));
    QVERIFY(!open(c, Epoch, value + QByteArray(256, '\0'), nullptr));
    QVERIFY(!open(c, Epoch, value.left(12) + value.mid(12 + 256), nullptr)); // too short
}

void TestRecord::wrongKeyFails()
{
    const QByteArray value = seal(aToB(), Epoch, presence());
    const QList<Channel> others = {
        Channel::friendDirection(PairSecret, FpB, FpA), // the other direction
        Channel::friendDirection(PairSecret, FpA, FpC), // same sender, another friend
        Channel::friendDirection(QByteArray(32, '\x01'), FpA, FpB), // another secret
        Channel::inviteRequests(InviteSecret, FpA),
        Channel::inviteReplies(InviteSecret, FpA, FpB),
    };
    for (const Channel &other : others) {
        QVERIFY(other.isValid());
        Error error;
        QVERIFY(!open(other, Epoch, value, &error));
        QCOMPARE(error.code, ErrorCode::BadRecord);
    }
    // The right encryption key but the DHT key of another channel (value moved between keys).
    Channel moved = aToB();
    moved.keyKey = others.first().keyKey;
    QVERIFY(!open(moved, Epoch, value, nullptr));
    QVERIFY(open(aToB(), Epoch, value, nullptr));
}

void TestRecord::valueIsBoundToItsEpoch()
{
    const Channel c = aToB();
    const QByteArray value = seal(c, Epoch, presence());
    QVERIFY(open(c, Epoch, value, nullptr));
    Error error;
    QVERIFY(!open(c, Epoch + 1, value, &error));
    QCOMPARE(error.code, ErrorCode::BadRecord);
    QVERIFY(!open(c, Epoch - 1, value, nullptr));
}

void TestRecord::twoSealsDiffer()
{
    const Channel c = aToB();
    const QByteArray a = seal(c, Epoch, presence());
    const QByteArray b = seal(c, Epoch, presence());
    QCOMPARE(a.size(), b.size());
    QVERIFY(a.left(Record::NonceBytes) != b.left(Record::NonceBytes));
    QVERIFY(a.mid(Record::NonceBytes) != b.mid(Record::NonceBytes));
    QCOMPARE(*open(c, Epoch, a, nullptr), *open(c, Epoch, b, nullptr));
}

void TestRecord::keysDifferPerEpochAndDirection()
{
    const Channel ab = aToB();
    const Channel ba = Channel::friendDirection(PairSecret, FpB, FpA);
    const Channel req = Channel::inviteRequests(InviteSecret, FpA);
    const Channel rep = Channel::inviteReplies(InviteSecret, FpA, FpB);
    const Channel repC = Channel::inviteReplies(InviteSecret, FpA, FpC);
    QVERIFY(ab.dhtKey(Epoch) != ab.dhtKey(Epoch + 1));
    QVERIFY(ab.dhtKey(Epoch) != ab.dhtKey(Epoch - 1));
    QCOMPARE(ab.dhtKey(Epoch), aToB().dhtKey(Epoch)); // deterministic
    const QList<Channel> all = { ab, ba, req, rep, repC };
    for (int i = 0; i < all.size(); ++i) {
        QVERIFY(all[i].keyKey != all[i].encKey);
        for (int j = i + 1; j < all.size(); ++j) {
            QVERIFY2(
                all[i].keyKey != all[j].keyKey, qPrintable(QStringLiteral("%1 %2").arg(i).arg(j)));
            QVERIFY(all[i].encKey != all[j].encKey);
            QVERIFY(all[i].dhtKey(Epoch) != all[j].dhtKey(Epoch));
        }
    }
}

void TestRecord::sizeLimits_data()
{
    QTest::addColumn<QByteArray>("value");
    const Channel c = aToB();
    const QByteArray good = seal(c, Epoch, presence());
    QTest::newRow("empty") << QByteArray();
    QTest::newRow("one byte") << QByteArray(1, 'x');
    QTest::newRow("nonce and tag only") << QByteArray(28, 'x');
    QTest::newRow("one byte short of the smallest") << QByteArray(Record::MinValueBytes - 1, '\0');
    QTest::newRow("good plus one byte") << good + 'x';
    QTest::newRow("1024 bytes") << QByteArray(Record::MaxValueBytes, '\0');
    QTest::newRow("four blocks (over 1024)") << QByteArray(12 + 4 * 256 + 16, '\0');
    QTest::newRow("64 KiB") << QByteArray(65536, 'x');
    QTest::newRow("block-sized zeros") << QByteArray(Record::MinValueBytes, '\0');
}

void TestRecord::sizeLimits()
{
    QFETCH(QByteArray, value);
    Error error;
    QVERIFY(!open(aToB(), Epoch, value, &error));
    QCOMPARE(error.code, ErrorCode::BadRecord);
    QVERIFY(!error.message.isEmpty());
}

void TestRecord::garbageNeverOpens()
{
    const Channel c = aToB();
    QRandomGenerator rng(11);
    for (int i = 0; i < 2000; ++i) {
        const int blocks = 1 + int(rng.bounded(3));
        QByteArray value(i % 2 ? 12 + blocks * 256 + 16 : int(rng.bounded(1100)), '\0');
        for (char &ch : value)
            ch = char(rng.generate());
        QVERIFY(!open(c, Epoch, value, nullptr));
    }
}

void TestRecord::malformedButAuthentic_data()
{
    QTest::addColumn<QByteArray>("plain");
    QTest::addColumn<int>("code");
    const int bad = int(ErrorCode::BadRecord);
    const int none = int(ErrorCode::None);
    const QByteArray tail(3, '\0'); // no certificate (u16 0), no signature (u8 0)
    // name 0, fingerprint 0, request id 0, three empty lists, no certificate, no signature
    const QByteArray noLists = QByteArray(6, '\0') + tail;
    const QByteArray v4("\x04\xcb\x00\x71\x01\x12\x67", 7); // 203.0.113.1:4711
    const QByteArray oneList = QByteArray(3, '\0'); // name, fingerprint, request id: empty

    QTest::newRow("control: well formed") << plaintext(2, 1, 0, noLists) << none;
    QTest::newRow("control: one address")
        << plaintext(2, 1, 0, oneList + '\x01' + v4 + QByteArray(2, '\0') + tail) << none;
    QTest::newRow("version 3") << plaintext(3, 1, 0, noLists) << int(ErrorCode::RecordVersion);
    QTest::newRow("version 1") << plaintext(1, 1, 0, noLists) << int(ErrorCode::RecordVersion);
    QTest::newRow("version 0") << plaintext(0, 1, 0, noLists) << int(ErrorCode::RecordVersion);
    QTest::newRow("type 4") << plaintext(2, 4, 0, noLists) << int(ErrorCode::RecordVersion);
    QTest::newRow("type 0") << plaintext(2, 0, 0, noLists) << int(ErrorCode::RecordVersion);
    QTest::newRow("presence with a status") << plaintext(2, 1, 1, noLists) << bad;
    QTest::newRow("reply without a status") << plaintext(2, 3, 0, noLists) << bad;
    QTest::newRow("reply with status 5") << plaintext(2, 3, 5, noLists) << bad;
    QTest::newRow("control: reply") << plaintext(2, 3, 1, noLists) << none;
    QTest::newRow("expires when made") << plaintext(2, 1, 0, noLists, 256, 1704067200123) << bad;
    QTest::newRow("expires before it was made")
        << plaintext(2, 1, 0, noLists, 256, 1704067200000) << bad;
    QTest::newRow("expires more than a day after")
        << plaintext(2, 1, 0, noLists, 256, 1704067200123 + Record::MaxLifetimeMs + 1) << bad;
    QTest::newRow("control: expires a day after")
        << plaintext(2, 1, 0, noLists, 256, 1704067200123 + Record::MaxLifetimeMs) << none;
    QTest::newRow("name of 65 bytes")
        << plaintext(2, 1, 0, char(65) + QByteArray(65, 'a') + QByteArray(5, '\0') + tail) << bad;
    QTest::newRow("name not UTF-8")
        << plaintext(2, 1, 0, QByteArray("\x02\xc3\x28", 3) + QByteArray(5, '\0') + tail) << bad;
    QTest::newRow("name overlong encoding")
        << plaintext(2, 1, 0, QByteArray("\x02\xc0\xaf", 3) + QByteArray(5, '\0') + tail) << bad;
    QTest::newRow("presence with a fingerprint")
        << plaintext(2, 1, 0, QByteArray("\0\x20", 2) + FpB + QByteArray(4, '\0') + tail) << bad;
    QTest::newRow("request without a fingerprint") << plaintext(2, 2, 0, noLists) << bad;
    QTest::newRow("request with a short fingerprint") << plaintext(2, 2, 0,
        QByteArray("\0\x1f", 2) + FpB.left(31) + '\x10' + RequestId + QByteArray(3, '\0') + tail)
                                                      << bad;
    QTest::newRow("request without a request id")
        << plaintext(2, 2, 0, QByteArray("\0\x20", 2) + FpB + QByteArray(4, '\0') + tail) << bad;
    QTest::newRow("request with a short request id") << plaintext(2, 2, 0,
        QByteArray("\0\x20", 2) + FpB + '\x0f' + RequestId.left(15) + QByteArray(3, '\0') + tail)
                                                     << bad;
    QTest::newRow("control: request") << plaintext(
        2, 2, 0, QByteArray("\0\x20", 2) + FpB + '\x10' + RequestId + QByteArray(3, '\0') + tail)
                                      << none;
    QTest::newRow("presence with a request id")
        << plaintext(2, 1, 0, QByteArray("\0\0\x10", 3) + RequestId + QByteArray(3, '\0') + tail)
        << bad;
    QTest::newRow("nine addresses")
        << plaintext(2, 1, 0, oneList + '\x09' + v4.repeated(9) + QByteArray(2, '\0') + tail)
        << bad;
    QTest::newRow("reply with seven addresses")
        << plaintext(2, 3, 1, oneList + '\x07' + v4.repeated(7) + QByteArray(2, '\0') + tail)
        << bad;
    QTest::newRow("control: reply with six addresses")
        << plaintext(2, 3, 1, oneList + '\x06' + v4.repeated(6) + QByteArray(2, '\0') + tail)
        << none;
    QTest::newRow("family 5") << plaintext(
        2, 1, 0, oneList + QByteArray("\x01\x05", 2) + v4.mid(1) + QByteArray(2, '\0') + tail)
                              << bad;
    QTest::newRow("port 0") << plaintext(
        2, 1, 0, oneList + QByteArray("\x01\x04\xcb\x00\x71\x01\x00\x00\0\0", 10) + tail)
                            << bad;
    QTest::newRow("multicast address") << plaintext(
        2, 1, 0, oneList + QByteArray("\x01\x04\xe0\x00\x00\x01\x12\x67\0\0", 10) + tail)
                                       << bad;
    QTest::newRow("presence with a certificate")
        << plaintext(2, 1, 0, QByteArray(6, '\0') + QByteArray("\0\x05pem!!\0", 8)) << bad;
    QTest::newRow("presence with a signature")
        << plaintext(2, 1, 0, QByteArray(8, '\0') + QByteArray("\x03sig", 4)) << bad;
    QTest::newRow("control: reply with a certificate and a signature")
        << plaintext(2, 3, 2, QByteArray(6, '\0') + QByteArray("\0\x05pem!!\x03sig", 11)) << none;
    QTest::newRow("reply with a certificate of 481 bytes") << plaintext(
        2, 3, 2, QByteArray(6, '\0') + QByteArray("\x01\xe1", 2) + QByteArray(481, 'c') + '\0', 768)
                                                           << bad;
    QTest::newRow("reply with a signature of 73 bytes")
        << plaintext(2, 3, 2, QByteArray(8, '\0') + QByteArray("\x49", 1) + QByteArray(73, 's'))
        << bad;
    QTest::newRow("certificate past the end")
        << plaintext(2, 3, 2, QByteArray(6, '\0') + QByteArray("\x01\x00", 2)) << bad;
    QTest::newRow("signature past the end") << plaintext(
        2, 3, 2, QByteArray(6, '\0') + QByteArray("\0\xc8", 2) + QByteArray(200, 'c') + '\x48')
                                            << bad;
    QTest::newRow("non-zero padding")
        << plaintext(2, 1, 0, noLists + QByteArray(1, '\0') + QByteArray(1, '\x01')) << bad;
    QTest::newRow("last padding byte set")
        << plaintext(2, 1, 0, noLists + QByteArray(255 - 20 - 9, '\0') + QByteArray(1, '\x01'))
        << bad;
    QTest::newRow("a whole block too much of padding") << plaintext(2, 1, 0, noLists, 512) << bad;
    // An IPv6 address (::1, port 4711) is 19 bytes on the wire.
    const QByteArray v6
        = QByteArray("\x06", 1) + QByteArray(15, '\0') + QByteArray("\x01\x12\x67", 3);
    // Lists that run over the end of the plaintext (no padding left: 20 + 236 = 256 bytes).
    const QByteArray eightV6 = QByteArray("\x08", 1) + v6.repeated(8);
    // 20 + 65 + 2 + 3 x 115 + 482 + 73 = 987 bytes: padded to the last bucket, 996.
    const QByteArray sixV6 = QByteArray("\x06", 1) + v6.repeated(6);
    const QByteArray largestReply = QByteArray("\x40", 1) + QByteArray(64, 'n')
        + QByteArray(2, '\0') + sixV6.repeated(3) + QByteArray("\x01\xe0", 2) + QByteArray(480, 'c')
        + '\x48' + QByteArray(72, 's');
    QTest::newRow("control: the last bucket (996 bytes)")
        << plaintext(2, 3, 1, largestReply, 996) << none;
    QTest::newRow("the last bucket padded to a whole block")
        << plaintext(2, 3, 1, largestReply, 1024) << bad;
    QTest::newRow("the last bucket short of its padding")
        << plaintext(2, 3, 1, largestReply, 768 + 16) << bad;
    QTest::newRow("addresses past the end")
        << plaintext(2, 1, 0, QByteArray(oneList + eightV6 + eightV6).left(236)) << bad;
    // A 3-byte name, 8 + 4 addresses: the third list's count would be byte 256.
    QTest::newRow("list count past the end") << plaintext(2, 1, 0,
        QByteArray("\x03", 1) + QByteArray(3, 'n') + QByteArray(2, '\0') + eightV6
            + QByteArray("\x04", 1) + v6.repeated(4))
                                             << bad;
    // 20 + 19 + 2 + 153 + 58 + 1 + 3 = 256: everything ends where the block does.
    QTest::newRow("control: the record ends where the block does") << plaintext(2, 1, 0,
        QByteArray("\x12", 1) + QByteArray(18, 'n') + QByteArray(2, '\0') + eightV6
            + QByteArray("\x03", 1) + v6.repeated(3) + QByteArray(1, '\0') + tail)
                                                                   << none;
    QTest::newRow("certificate length past the end") << plaintext(2, 1, 0,
        QByteArray("\x13", 1) + QByteArray(19, 'n') + QByteArray(2, '\0') + eightV6
            + QByteArray("\x03", 1) + v6.repeated(3) + QByteArray(1, '\0') + tail.left(2))
                                                     << bad;
}

void TestRecord::malformedButAuthentic()
{
    QFETCH(QByteArray, plain);
    QFETCH(int, code);
    const Channel c = aToB();
    const QByteArray value = sealRaw(c, Epoch, plain);
    QVERIFY(!value.isEmpty());
    Error error;
    const auto opened = open(c, Epoch, value, &error);
    QCOMPARE(int(error.code), code);
    QCOMPARE(bool(opened), code == int(ErrorCode::None));
}

void TestRecord::unknownFlagBitsAreKept()
{
    // A later version may define more flags; this one keeps them and ignores them.
    const Channel c = aToB();
    Record r = presence();
    r.flags = 0x81;
    const auto opened = open(c, Epoch, seal(c, Epoch, r), nullptr);
    QVERIFY(opened);
    QCOMPARE(opened->flags, quint8(0x81));
    QVERIFY(opened->flags & Record::Online);
}

void TestRecord::expiry()
{
    Record r = presence(); // made at seq, expires 30 minutes later
    const qint64 made = qint64(r.seq);
    const qint64 expires = qint64(r.expiresMs);
    QVERIFY(isCurrent(r, made));
    QVERIFY(isCurrent(r, expires - 1));
    // Our clock may be up to ClockSkewMs ahead of the sender's: still current until then.
    QVERIFY(isCurrent(r, expires + Record::ClockSkewMs - 1));
    QVERIFY(!isCurrent(r, expires + Record::ClockSkewMs));
    QVERIFY(!isCurrent(r, made + 24 * 3600 * 1000)); // the same day, hours later: a replay
    // A record from the future (the sender's clock far ahead) is not current either.
    QVERIFY(isCurrent(r, made - Record::MaxAheadMs));
    QVERIFY(!isCurrent(r, made - Record::MaxAheadMs - 1));
    r.seq = std::numeric_limits<quint64>::max() - 1;
    r.expiresMs = std::numeric_limits<quint64>::max();
    QVERIFY(!isCurrent(r, made));
    // The expiry travels inside the sealed plaintext: changing it breaks the seal.
    const QByteArray value = seal(aToB(), Epoch, presence());
    QCOMPARE(open(aToB(), Epoch, value, nullptr)->expiresMs, presence().expiresMs);
}

// The inviter signs its reply with its identity; the requester checks it against the
// fingerprint it pinned from the code, for its own request.
void TestRecord::signedReply()
{
    const TestIdentity inviter;
    QVERIFY(inviter.identity);
    const ReplySigner signer = inviter.signer();
    QVERIFY(signer.isValid());
    const QByteArray requester = FpB;
    const ReplyBinding binding { inviter.fingerprint(), requester, RequestId };
    const Channel c = Channel::inviteReplies(InviteSecret, inviter.fingerprint(), requester);
    for (const quint8 status :
        { Record::Accepted, Record::Declined, Record::Revoked, Record::Expired }) {
        const QByteArray value = sealReply(c, Epoch, reply(status), signer, binding);
        QVERIFY(!value.isEmpty());
        Error error;
        const auto opened = open(c, Epoch, value, &error);
        QVERIFY2(opened, qPrintable(error.message));
        QCOMPARE(opened->status, status);
        QCOMPARE(opened->certificate, inviter.identity->certificate().toDer());
        QVERIFY(!opened->signature.isEmpty());
        QVERIFY2(verifyReply(*opened, binding, &error), qPrintable(error.message));
    }
    // A reply can only be signed as one: not a presence record, not without a binding.
    QVERIFY(sealReply(c, Epoch, presence(), signer, binding).isEmpty());
    QVERIFY(sealReply(c, Epoch, reply(), signer, ReplyBinding {}).isEmpty());
    QVERIFY(sealReply(c, Epoch, reply(), ReplySigner {}, binding).isEmpty());
    // A key that is not the certificate's makes no signer.
    const TestIdentity other;
    QVERIFY(!ReplySigner::fromIdentity(
        inviter.identity->certificate().toDer(), other.identity->privateKey().toPem())
                 .isValid());
    QVERIFY(!ReplySigner::fromIdentity(QByteArray("junk"), other.identity->privateKey().toPem())
                 .isValid());
}

// Measured, not assumed: our certificate and the largest signed reply fit MaxValueBytes.
void TestRecord::largestSignedReplyFits()
{
    const TestIdentity inviter;
    const QByteArray der = inviter.identity->certificate().toDer();
    qInfo("our P-256 certificate: %lld bytes (room for %d)", qlonglong(der.size()),
        Record::MaxCertificateBytes);
    QVERIFY(der.size() <= Record::MaxCertificateBytes);
    Record r = reply();
    r.name = QString(64, QLatin1Char('n'));
    r.direct = endpoints(8, true); // cut to MaxReplyEndpoints
    r.mapped = endpoints(8, true);
    r.relays = endpoints(8, true);
    const ReplyBinding binding { inviter.fingerprint(), FpB, RequestId };
    const Channel c = Channel::inviteReplies(InviteSecret, inviter.fingerprint(), FpB);
    const QByteArray value = sealReply(c, Epoch, r, inviter.signer(), binding);
    QVERIFY(!value.isEmpty());
    qInfo("largest signed reply: %lld bytes", qlonglong(value.size()));
    QVERIFY(value.size() <= Record::MaxValueBytes);
    const auto opened = open(c, Epoch, value, nullptr);
    QVERIFY(opened);
    QCOMPARE(opened->direct, endpoints(Record::MaxReplyEndpoints, true));
    QVERIFY(verifyReply(*opened, binding, nullptr));
    // A plain declined reply with no addresses is smaller.
    Record declined = reply(Record::Declined);
    declined.direct.clear();
    declined.mapped.clear();
    declined.relays.clear();
    QVERIFY(sealReply(c, Epoch, declined, inviter.signer(), binding).size() < value.size());
}

// Whoever holds the code can open and seal replies: none of what it can make verifies.
void TestRecord::forgedReplies()
{
    const TestIdentity inviter;
    const TestIdentity mallory;
    const ReplyBinding binding { inviter.fingerprint(), FpB, RequestId };
    const Channel c = Channel::inviteReplies(InviteSecret, inviter.fingerprint(), FpB);
    const auto verifies = [&](const Record &r) {
        const auto opened = open(c, Epoch, seal(c, Epoch, r), nullptr);
        if (!opened)
            return true; // cannot happen: fail the test below
        Error error;
        const bool ok = verifyReply(*opened, binding, &error);
        if (!ok && (error.code != ErrorCode::BadRecord || error.message.isEmpty()))
            return true;
        return ok;
    };
    const auto genuine = *open(
        c, Epoch, sealReply(c, Epoch, reply(Record::Accepted), inviter.signer(), binding), nullptr);
    QVERIFY(verifies(genuine));

    QVERIFY(!verifies(reply(Record::Declined))); // unsigned
    Record r = genuine;
    r.signature[10] = char(r.signature[10] ^ 0x01); // the signature changed
    QVERIFY(!verifies(r));
    r = genuine;
    r.status = Record::Declined; // the decision changed
    QVERIFY(!verifies(r));
    r = genuine;
    r.direct = { ep("198.51.100.66:4711") }; // the addresses changed
    QVERIFY(!verifies(r));
    r = genuine;
    r.expiresMs += 3600 * 1000; // the expiry changed
    QVERIFY(!verifies(r));
    r = genuine;
    r.name = QStringLiteral("Mallory");
    QVERIFY(!verifies(r));

    // Mallory signs with her own key and sends her own certificate: not the pinned one.
    const auto own = open(
        c, Epoch, sealReply(c, Epoch, reply(Record::Declined), mallory.signer(), binding), nullptr);
    QVERIFY(own);
    Error error;
    QVERIFY(!verifyReply(*own, binding, &error));
    QVERIFY(error.message.contains(QStringLiteral("certificate")));
    // Mallory's signature next to the inviter's certificate: the certificate matches, the
    // signature does not.
    r = *own;
    r.certificate = genuine.certificate;
    QVERIFY(!verifies(r));
    // A certificate that hashes to the fingerprint is the only one ever parsed: garbage there
    // is refused on the hash.
    r = genuine;
    r.certificate = QByteArray(100, 'x');
    QVERIFY(!verifies(r));
}

// A genuine reply copied to another request (an earlier attempt, or another requester) does
// not verify: the signature covers the requester and the request id.
void TestRecord::replyReplayedForAnotherRequest()
{
    const TestIdentity inviter;
    const ReplyBinding first { inviter.fingerprint(), FpB, RequestId };
    const Channel c = Channel::inviteReplies(InviteSecret, inviter.fingerprint(), FpB);
    const auto declined = open(
        c, Epoch, sealReply(c, Epoch, reply(Record::Declined), inviter.signer(), first), nullptr);
    QVERIFY(declined);
    QVERIFY(verifyReply(*declined, first, nullptr));
    ReplyBinding later = first;
    later.requestId[0] = char(later.requestId[0] ^ 0x80); // the requester asked again
    QVERIFY(!verifyReply(*declined, later, nullptr));
    ReplyBinding otherRequester = first;
    otherRequester.requesterFp = FpC;
    QVERIFY(!verifyReply(*declined, otherRequester, nullptr));
    ReplyBinding otherInviter = first;
    otherInviter.inviterFp = FpA;
    QVERIFY(!verifyReply(*declined, otherInviter, nullptr));
    QVERIFY(!verifyReply(*declined, ReplyBinding {}, nullptr));
}

void TestRecord::replayGuard()
{
    const qint64 now = 1704067200000;
    ReplayGuard guard;
    QVERIFY(guard.accept(FpA, quint64(now - 5000), now));
    QCOMPARE(guard.lastSeq(FpA), quint64(now - 5000));
    QVERIFY(!guard.accept(FpA, quint64(now - 5000), now)); // the same record again
    QVERIFY(!guard.accept(FpA, quint64(now - 6000), now)); // an older one
    QVERIFY(guard.accept(FpA, quint64(now - 4999), now));
    QVERIFY(guard.accept(FpB, quint64(now - 6000), now)); // senders are independent
    QCOMPARE(guard.lastSeq(FpC), quint64(0));
    QCOMPARE(guard.size(), 2);
}

void TestRecord::replayGuardWindow()
{
    const qint64 now = 1704067200000;
    ReplayGuard guard;
    QVERIFY(!guard.accept(FpA, quint64(now - ReplayGuard::MaxAgeMs - 1), now));
    QVERIFY(!guard.accept(FpA, quint64(now + ReplayGuard::MaxAheadMs + 1), now));
    QVERIFY(!guard.accept(FpA, std::numeric_limits<quint64>::max(), now));
    QCOMPARE(guard.size(), 0); // refused values leave no trace
    QVERIFY(guard.accept(FpA, quint64(now - ReplayGuard::MaxAgeMs), now));
    QVERIFY(guard.accept(FpA, quint64(now + ReplayGuard::MaxAheadMs), now));
    // A sender far ahead cannot lock itself out for later: its seq is refused, not stored.
    QVERIFY(!guard.accept(FpB, quint64(now + 3600 * 1000), now));
    QVERIFY(guard.accept(FpB, quint64(now), now));
}

void TestRecord::replayGuardPersistence()
{
    const qint64 now = 1704067200000;
    ReplayGuard guard;
    QVERIFY(guard.accept(FpA, quint64(now - 100), now));
    QVERIFY(guard.accept(FpB, quint64(now - 200), now));
    const QByteArray odd("\x00\x01\xff", 3);
    QVERIFY(guard.accept(odd, quint64(now), now));

    ReplayGuard restored = ReplayGuard::fromJson(guard.toJson());
    QCOMPARE(restored.size(), 3);
    QCOMPARE(restored.lastSeq(FpA), quint64(now - 100));
    QCOMPARE(restored.lastSeq(FpB), quint64(now - 200));
    QCOMPARE(restored.lastSeq(odd), quint64(now));
    QVERIFY(!restored.accept(FpA, quint64(now - 100), now + 1000)); // replay after a restart
    QVERIFY(restored.accept(FpA, quint64(now - 99), now + 1000));
    QCOMPARE(ReplayGuard::fromJson(restored.toJson()).lastSeq(FpA), quint64(now - 99));
}

void TestRecord::replayGuardEviction()
{
    const qint64 now = 1704067200000;
    ReplayGuard guard(16);
    for (int i = 0; i < 100; ++i) {
        const QByteArray id = QByteArray::number(i);
        QVERIFY(guard.accept(id, quint64(now + i), now + i));
        QVERIFY(guard.size() <= 16);
    }
    QCOMPARE(guard.size(), 16);
    QCOMPARE(guard.lastSeq(QByteArray::number(99)), quint64(now + 99)); // the latest stay
    QCOMPARE(guard.lastSeq(QByteArray::number(84)), quint64(now + 84));
    QCOMPARE(guard.lastSeq(QByteArray::number(83)), quint64(0)); // the oldest went

    // A sender heard from again recently is kept over one heard from long ago.
    QVERIFY(guard.accept(QByteArray::number(84), quint64(now + 200), now + 200));
    QVERIFY(guard.accept(QByteArray("new"), quint64(now + 201), now + 201));
    QCOMPARE(guard.lastSeq(QByteArray::number(84)), quint64(now + 200));
    QCOMPARE(guard.lastSeq(QByteArray::number(85)), quint64(0));

    ReplayGuard full;
    for (int i = 0; i < ReplayGuard::DefaultMaxEntries + 500; ++i)
        QVERIFY(full.accept(QByteArray::number(i), quint64(now), now));
    QCOMPARE(full.size(), ReplayGuard::DefaultMaxEntries);
}

void TestRecord::replayGuardFromJsonIsBoundedAndStrict()
{
    const qint64 now = 1704067200000;
    ReplayGuard big(64);
    for (int i = 0; i < 64; ++i)
        QVERIFY(big.accept(QByteArray::number(i), quint64(now + i), now + i));
    const ReplayGuard small = ReplayGuard::fromJson(big.toJson(), 8);
    QCOMPARE(small.size(), 8);
    QCOMPARE(small.maxEntries(), 8);
    QCOMPARE(small.lastSeq(QByteArray::number(63)), quint64(now + 63)); // most recent kept
    QCOMPARE(small.lastSeq(QByteArray::number(55)), quint64(0));

    QJsonObject json = big.toJson();
    QJsonArray senders;
    senders.append(QJsonObject { { QStringLiteral("id"), QStringLiteral("zz") },
        { QStringLiteral("seq"), QStringLiteral("5") },
        { QStringLiteral("seen"), QStringLiteral("5") } });
    senders.append(QJsonObject { { QStringLiteral("id"), QStringLiteral("aa") },
        { QStringLiteral("seq"), 5 }, { QStringLiteral("seen"), QStringLiteral("5") } });
    senders.append(QJsonObject { { QStringLiteral("id"), QStringLiteral("bb") },
        { QStringLiteral("seq"), QStringLiteral("-1") },
        { QStringLiteral("seen"), QStringLiteral("5") } });
    senders.append(QJsonObject { { QStringLiteral("id"), QStringLiteral("cc") },
        { QStringLiteral("seq"), QStringLiteral("7") },
        { QStringLiteral("seen"), QStringLiteral("5") } });
    senders.append(QStringLiteral("not an object"));
    json.insert(QStringLiteral("senders"), senders);
    const ReplayGuard strict = ReplayGuard::fromJson(json);
    QCOMPARE(strict.size(), 1);
    QCOMPARE(strict.lastSeq(QByteArray::fromHex("cc")), quint64(7));

    QCOMPARE(ReplayGuard::fromJson(QJsonObject()).size(), 0);
    json.insert(QStringLiteral("v"), 2);
    QCOMPARE(ReplayGuard::fromJson(json).size(), 0);
}

void TestRecord::invitation()
{
    const Invitation a = Invitation::create(1704067200, 24 * 3600, true);
    const Invitation b = Invitation::create(1704067200, 600, false);
    QVERIFY(a.isValid());
    QVERIFY(b.isValid());
    QCOMPARE(a.secret16.size(), 16);
    QVERIFY(a.secret16 != b.secret16);
    QVERIFY(a.secret16 != QByteArray(16, '\0'));
    QCOMPARE(a.createdUnix, 1704067200);
    QCOMPARE(a.expiresUnix, 1704067200 + 24 * 3600);
    QVERIFY(a.singleUse);
    QVERIFY(!b.singleUse);
    QVERIFY(!b.isExpired(1704067200 + 599));
    QVERIFY(b.isExpired(1704067200 + 600));
    QVERIFY(Channel::inviteRequests(a.secret16, FpA).isValid());
}

void TestRecord::nextSeq()
{
    QCOMPARE(Record::nextSeq(0, 1000), quint64(1000));
    QCOMPARE(Record::nextSeq(1000, 1000), quint64(1001));
    QCOMPARE(Record::nextSeq(5000, 1000), quint64(5001)); // clock went back
    QCOMPARE(Record::nextSeq(0, -5), quint64(1));
}

QTEST_GUILESS_MAIN(TestRecord)
#include "tst_record.moc"
