// The STUN codec against the RFC 5769 test vectors, round trips, malformed input and the TCP
// framer.

#include "stun/stunmessage.h"

#include <QSet>
#include <QTest>
#include <QtEndian>
#include <cstring>

using namespace Punchline;

Q_DECLARE_METATYPE(Punchline::StunParseError)
Q_DECLARE_METATYPE(Punchline::StunFrame::Status)

namespace {

// RFC 5769 §2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY,
// FINGERPRINT).
const QByteArray rfcRequest = QByteArray::fromHex("000100582112a442b7e7a701bc34d686fa87dfae"
                                                  "802200105354554e207465737420636c69656e74"
                                                  "002400046e0001ff"
                                                  "80290008932ff9b151263b36"
                                                  "000600096576746a3a68367659202020"
                                                  "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
                                                  "80280004e57a3bcf");

// RFC 5769 §2.2: IPv4 response, XOR-MAPPED-ADDRESS 192.0.2.1:32853.
const QByteArray rfcIpv4Response
    = QByteArray::fromHex("0101003c2112a442b7e7a701bc34d686fa87dfae"
                          "8022000b7465737420766563746f7220"
                          "002000080001a147e112a643"
                          "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
                          "80280004c07d4c96");

// RFC 5769 §2.3: IPv6 response, XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const QByteArray rfcIpv6Response
    = QByteArray::fromHex("010100482112a442b7e7a701bc34d686fa87dfae"
                          "8022000b7465737420766563746f7220"
                          "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
                          "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
                          "80280004c8fb0b4c");

const QByteArray rfcTransactionId = QByteArray::fromHex("b7e7a701bc34d686fa87dfae");

QByteArray header(quint16 type, quint16 length, quint32 cookie = StunMessage::magicCookie)
{
    QByteArray out(StunMessage::headerSize, '\0');
    qToBigEndian(type, out.data());
    qToBigEndian(length, out.data() + 2);
    qToBigEndian(cookie, out.data() + 4);
    std::memcpy(out.data() + 8, rfcTransactionId.constData(), 12);
    return out;
}

StunMessage successResponse(const QByteArray &transactionId)
{
    return StunMessage(
        StunMessage::Class::SuccessResponse, StunMessage::bindingMethod, transactionId);
}

} // namespace

class TestStunMessage : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void rfc5769Request();
    void rfc5769Ipv4Response();
    void rfc5769Ipv6Response();
    void bindingRequestRoundTrip();
    void bindingRequestIdsAreRandom();
    void responseRoundTrip_data();
    void responseRoundTrip();
    void mappedAddressFallback();
    void errorResponse();
    void unknownAttributes();
    void parseRejects_data();
    void parseRejects();
    void isResponseTo_data();
    void isResponseTo();
    void peekFrame_data();
    void peekFrame();
    void framesBackToBack();
};

void TestStunMessage::rfc5769Request()
{
    const StunParseResult r = StunMessage::parse(rfcRequest);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    const StunMessage &m = *r.message;
    QCOMPARE(m.messageClass(), StunMessage::Class::Request);
    QCOMPARE(m.method(), StunMessage::bindingMethod);
    QCOMPARE(m.transactionId(), rfcTransactionId);
    QCOMPARE(m.software(), QStringLiteral("STUN test client"));
    QVERIFY(m.hasFingerprint());
    QCOMPARE(m.attribute(StunAttribute::Username), QByteArray("evtj:h6vY"));
    // MESSAGE-INTEGRITY is kept (not verified: we use no credentials).
    QCOMPARE(m.attribute(StunAttribute::MessageIntegrity)->size(), 20);
    // PRIORITY (ICE) is comprehension-required and unknown to us: reported, not fatal.
    QCOMPARE(m.unknownRequiredAttributes(), QList<quint16> { 0x0024 });
    QVERIFY(!m.reflexiveAddress());
}

void TestStunMessage::rfc5769Ipv4Response()
{
    const StunParseResult r = StunMessage::parse(rfcIpv4Response);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    const StunMessage &m = *r.message;
    QCOMPARE(m.messageClass(), StunMessage::Class::SuccessResponse);
    QCOMPARE(m.method(), StunMessage::bindingMethod);
    QCOMPARE(m.software(), QStringLiteral("test vector"));
    QVERIFY(m.hasFingerprint());
    QVERIFY(m.unknownRequiredAttributes().isEmpty());
    QCOMPARE(m.xorMappedAddress(), std::optional(*Endpoint::parse(u"192.0.2.1:32853")));
    QCOMPARE(m.reflexiveAddress()->toString(), QStringLiteral("192.0.2.1:32853"));
}

void TestStunMessage::rfc5769Ipv6Response()
{
    const StunParseResult r = StunMessage::parse(rfcIpv6Response);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    const StunMessage &m = *r.message;
    QCOMPARE(m.messageClass(), StunMessage::Class::SuccessResponse);
    QVERIFY(m.hasFingerprint());
    QCOMPARE(m.reflexiveAddress()->toString(),
        QStringLiteral("[2001:db8:1234:5678:11:2233:4455:6677]:32853"));
}

void TestStunMessage::bindingRequestRoundTrip()
{
    const StunMessage request = StunMessage::bindingRequest();
    QCOMPARE(request.transactionId().size(), StunMessage::transactionIdSize);

    const QByteArray plain = request.toBytes();
    QCOMPARE(plain.size(), StunMessage::headerSize);
    QCOMPARE(plain.left(4), QByteArray::fromHex("00010000"));

    const StunParseResult r = StunMessage::parse(request.toBytes(true));
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.message->messageClass(), StunMessage::Class::Request);
    QCOMPARE(r.message->transactionId(), request.transactionId());
    QVERIFY(r.message->hasFingerprint());
}

void TestStunMessage::bindingRequestIdsAreRandom()
{
    QSet<QByteArray> ids;
    for (int i = 0; i < 100; ++i)
        ids.insert(StunMessage::bindingRequest().transactionId());
    QCOMPARE(ids.size(), 100);
}

void TestStunMessage::responseRoundTrip_data()
{
    QTest::addColumn<QString>("endpoint");
    QTest::addColumn<bool>("fingerprint");
    QTest::newRow("ipv4") << QStringLiteral("203.0.113.5:4000") << false;
    QTest::newRow("ipv4 fingerprint") << QStringLiteral("203.0.113.5:65535") << true;
    QTest::newRow("ipv6") << QStringLiteral("[2001:db8::1]:1") << false;
    QTest::newRow("ipv6 fingerprint") << QStringLiteral("[2001:db8:ffff::abcd]:4000") << true;
}

void TestStunMessage::responseRoundTrip()
{
    QFETCH(QString, endpoint);
    QFETCH(bool, fingerprint);
    const Endpoint mapped = *Endpoint::parse(endpoint);
    const StunMessage request = StunMessage::bindingRequest();
    StunMessage response = successResponse(request.transactionId());
    response.addSoftware(QStringLiteral("punchline test"));
    response.addXorMappedAddress(mapped);

    const StunParseResult r = StunMessage::parse(response.toBytes(fingerprint));
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QVERIFY(r.message->isResponseTo(request));
    QCOMPARE(r.message->hasFingerprint(), fingerprint);
    QCOMPARE(r.message->software(), QStringLiteral("punchline test"));
    QCOMPARE(r.message->xorMappedAddress(), std::optional(mapped));
    QVERIFY(!r.message->mappedAddress());
}

void TestStunMessage::mappedAddressFallback()
{
    const Endpoint mapped = *Endpoint::parse(u"198.51.100.7:3478");
    StunMessage response = successResponse(rfcTransactionId);
    response.addMappedAddress(mapped);
    const StunParseResult r = StunMessage::parse(response.toBytes());
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QVERIFY(!r.message->xorMappedAddress());
    QCOMPARE(r.message->reflexiveAddress(), std::optional(mapped));

    // A malformed XOR-MAPPED-ADDRESS (unknown family) does not hide a good MAPPED-ADDRESS.
    StunMessage both = successResponse(rfcTransactionId);
    both.addAttribute(StunAttribute::XorMappedAddress, QByteArray::fromHex("0007a147e112a643"));
    both.addMappedAddress(mapped);
    QCOMPARE(StunMessage::parse(both.toBytes()).message->reflexiveAddress(), std::optional(mapped));
}

void TestStunMessage::errorResponse()
{
    StunMessage response(
        StunMessage::Class::ErrorResponse, StunMessage::bindingMethod, rfcTransactionId);
    response.addErrorAttribute(420, QStringLiteral("Unknown Attribute"));
    const StunParseResult r = StunMessage::parse(response.toBytes(true));
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.message->messageClass(), StunMessage::Class::ErrorResponse);
    const auto error = r.message->errorAttribute();
    QVERIFY(error);
    QCOMPARE(error->code, 420);
    QCOMPARE(error->reason, QStringLiteral("Unknown Attribute"));
}

void TestStunMessage::unknownAttributes()
{
    // Decision: parse() accepts unknown comprehension-required attributes and lists them;
    // StunClient fails a transaction whose success response has any (RFC 8489 §6.3.3).
    // Unknown comprehension-optional ones (>= 0x8000) are simply ignored.
    StunMessage response = successResponse(rfcTransactionId);
    response.addAttribute(0x7001, QByteArray("abc"));
    response.addAttribute(0xC001, QByteArray("optional"));
    response.addAttribute(0x0004, QByteArray(8, '\0')); // RFC 3489 SOURCE-ADDRESS: tolerated
    response.addXorMappedAddress(*Endpoint::parse(u"192.0.2.1:32853"));
    const StunParseResult r = StunMessage::parse(response.toBytes());
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.message->unknownRequiredAttributes(), QList<quint16> { 0x7001 });
    QCOMPARE(r.message->attribute(0x7001), QByteArray("abc")); // padding stripped
    QCOMPARE(r.message->reflexiveAddress()->toString(), QStringLiteral("192.0.2.1:32853"));
}

void TestStunMessage::parseRejects_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<StunParseError>("error");

    QTest::newRow("empty") << QByteArray() << StunParseError::Truncated;
    QTest::newRow("truncated header") << rfcIpv4Response.left(19) << StunParseError::Truncated;
    QTest::newRow("truncated body") << rfcIpv4Response.chopped(4) << StunParseError::Truncated;
    QTest::newRow("trailing bytes")
        << rfcIpv4Response + QByteArray(4, '\0') << StunParseError::BadLength;
    QTest::newRow("first bits set") << (header(0x4101, 0)) << StunParseError::NotStun;
    QTest::newRow("wrong cookie") << header(0x0101, 0, 0x2112A443) << StunParseError::NotStun;
    QTest::newRow("rfc 3489 (no cookie)") << header(0x0101, 0, 0) << StunParseError::NotStun;
    QTest::newRow("http") << QByteArray("HTTP/1.1 400 Bad Request\r\n\r\n")
                          << StunParseError::NotStun;
    QTest::newRow("length not multiple of 4")
        << header(0x0101, 6) + QByteArray(6, '\0') << StunParseError::BadLength;
    QTest::newRow("oversized") << header(0x0101, 4000) + QByteArray(4000, '\0')
                               << StunParseError::TooLarge;
    // Attribute says 8 bytes of value, the message holds 4.
    QTest::newRow("truncated attribute")
        << header(0x0101, 8) + QByteArray::fromHex("0020000800010203")
        << StunParseError::BadAttribute;
    // Attribute length 0xFFFF: must not read out of bounds.
    QTest::newRow("huge attribute length")
        << header(0x0101, 4) + QByteArray::fromHex("8022ffff") << StunParseError::BadAttribute;
    // The IPv4 vector with SOFTWARE "abcd" after a FINGERPRINT that is valid for it.
    const QByteArray afterFingerprint
        = QByteArray::fromHex("010100442112a442b7e7a701bc34d686fa87dfae"
                              "8022000b7465737420766563746f7220"
                              "002000080001a147e112a643"
                              "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
                              "802800046d525ec5"
                              "8022000461626364");
    QTest::newRow("attribute after fingerprint")
        << afterFingerprint << StunParseError::BadAttribute;
    QByteArray corrupted = rfcIpv4Response;
    corrupted[24] = 'X'; // inside SOFTWARE
    QTest::newRow("bad fingerprint") << corrupted << StunParseError::BadFingerprint;
    QByteArray shortFingerprint = header(0x0101, 8) + QByteArray::fromHex("8028000200000000");
    QTest::newRow("short fingerprint") << shortFingerprint << StunParseError::BadAttribute;
}

void TestStunMessage::parseRejects()
{
    QFETCH(QByteArray, bytes);
    QFETCH(StunParseError, error);
    const StunParseResult r = StunMessage::parse(bytes);
    QVERIFY(!r.ok());
    QCOMPARE(r.error, error);
    QVERIFY(!r.reason.isEmpty());
}

void TestStunMessage::isResponseTo_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<bool>("matches");

    const QByteArray otherId = QByteArray::fromHex("000102030405060708090a0b");
    QTest::newRow("rfc vector") << rfcIpv4Response << true;
    QTest::newRow("wrong transaction id") << successResponse(otherId).toBytes() << false;
    QTest::newRow("error response") << StunMessage(
        StunMessage::Class::ErrorResponse, StunMessage::bindingMethod, rfcTransactionId)
                                           .toBytes()
                                    << true;
    QTest::newRow("a request, not a response") << rfcRequest << false;
    QTest::newRow("indication") << StunMessage(
        StunMessage::Class::Indication, StunMessage::bindingMethod, rfcTransactionId)
                                       .toBytes()
                                << false;
    QTest::newRow("other method")
        << StunMessage(StunMessage::Class::SuccessResponse, 0x003, rfcTransactionId).toBytes()
        << false;
}

void TestStunMessage::isResponseTo()
{
    QFETCH(QByteArray, bytes);
    QFETCH(bool, matches);
    const StunMessage request(
        StunMessage::Class::Request, StunMessage::bindingMethod, rfcTransactionId);
    const StunParseResult r = StunMessage::parse(bytes);
    QVERIFY2(r.ok(), qPrintable(r.reason));
    QCOMPARE(r.message->isResponseTo(request), matches);
}

void TestStunMessage::peekFrame_data()
{
    QTest::addColumn<QByteArray>("stream");
    QTest::addColumn<StunFrame::Status>("status");
    QTest::addColumn<qsizetype>("size");
    QTest::addColumn<StunParseError>("error");

    using S = StunFrame::Status;
    const qsizetype whole = rfcIpv4Response.size();
    QTest::newRow("empty") << QByteArray() << S::Incomplete << qsizetype(0) << StunParseError::None;
    QTest::newRow("partial header")
        << rfcIpv4Response.left(7) << S::Incomplete << qsizetype(0) << StunParseError::None;
    QTest::newRow("header only") << rfcIpv4Response.left(20) << S::Incomplete << qsizetype(0)
                                 << StunParseError::None;
    QTest::newRow("one byte short")
        << rfcIpv4Response.chopped(1) << S::Incomplete << qsizetype(0) << StunParseError::None;
    QTest::newRow("complete") << rfcIpv4Response << S::Complete << whole << StunParseError::None;
    QTest::newRow("complete + next") << rfcIpv4Response + rfcIpv6Response.left(10) << S::Complete
                                     << whole << StunParseError::None;
    QTest::newRow("http, first byte")
        << QByteArray("H") << S::Invalid << qsizetype(0) << StunParseError::NotStun;
    QTest::newRow("tls alert") << QByteArray::fromHex("15030300020228") << S::Invalid
                               << qsizetype(0) << StunParseError::NotStun;
    QTest::newRow("cookie wrong in first byte")
        << header(0x0101, 0, 0x3112A442).left(5) << S::Invalid << qsizetype(0)
        << StunParseError::NotStun;
    QTest::newRow("length not multiple of 4")
        << header(0x0101, 2).left(4) << S::Invalid << qsizetype(0) << StunParseError::BadLength;
    QTest::newRow("oversized") << header(0x0101, 0xFFFC).left(4) << S::Invalid << qsizetype(0)
                               << StunParseError::TooLarge;
    QTest::newRow("just at the cap") << header(0x0101, StunMessage::maxSize - 20) << S::Incomplete
                                     << qsizetype(0) << StunParseError::None;
}

void TestStunMessage::peekFrame()
{
    QFETCH(QByteArray, stream);
    QFETCH(StunFrame::Status, status);
    QFETCH(qsizetype, size);
    QFETCH(StunParseError, error);
    const StunFrame frame = StunMessage::peekFrame(stream);
    QCOMPARE(frame.status, status);
    QCOMPARE(frame.size, size);
    QCOMPARE(frame.error, error);
    QCOMPARE(frame.reason.isEmpty(), status != StunFrame::Status::Invalid);
}

void TestStunMessage::framesBackToBack()
{
    // Feed two messages one byte at a time, as a slow TCP stream might deliver them.
    const QByteArray wire = rfcIpv4Response + rfcIpv6Response;
    QByteArray buffer;
    QList<QByteArray> messages;
    for (const char byte : wire) {
        buffer.append(byte);
        const StunFrame frame = StunMessage::peekFrame(buffer);
        QVERIFY(frame.status != StunFrame::Status::Invalid);
        if (frame.status == StunFrame::Status::Complete) {
            messages.append(buffer.left(frame.size));
            buffer.remove(0, frame.size);
        }
    }
    QVERIFY(buffer.isEmpty());
    QCOMPARE(messages, (QList<QByteArray> { rfcIpv4Response, rfcIpv6Response }));
    QVERIFY(StunMessage::parse(messages.at(1)).message->hasFingerprint());
}

QTEST_GUILESS_MAIN(TestStunMessage)
#include "tst_stunmessage.moc"
