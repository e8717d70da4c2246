#pragma once
// STUN (RFC 8489) message codec: builds Binding requests, parses and checks messages, and finds
// message boundaries on a TCP stream. Also the TURN (RFC 8656, TCP allocations RFC 6062)
// methods and attributes, and MESSAGE-INTEGRITY with the long-term credential mechanism. Pure
// functions of bytes, kept apart from sockets so that it can be unit tested with the RFC 5769
// vectors and fuzzed.

#include "common/endpoint.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>
#include <optional>

namespace Punchline {

// Attribute types (RFC 8489 §18.3). Below 0x8000 an attribute is comprehension-required.
namespace StunAttribute {
enum : quint16 {
    MappedAddress = 0x0001,
    Username = 0x0006,
    MessageIntegrity = 0x0008,
    ErrorCode = 0x0009,
    UnknownAttributes = 0x000A,
    ChannelNumber = 0x000C, // TURN (RFC 8656 §18)
    Lifetime = 0x000D,
    XorPeerAddress = 0x0012,
    Data = 0x0013,
    Realm = 0x0014,
    Nonce = 0x0015,
    XorRelayedAddress = 0x0016,
    RequestedAddressFamily = 0x0017,
    EvenPort = 0x0018,
    RequestedTransport = 0x0019,
    DontFragment = 0x001A,
    ReservationToken = 0x0022,
    ConnectionId = 0x002A, // RFC 6062
    MessageIntegritySha256 = 0x001C,
    PasswordAlgorithm = 0x001D,
    UserHash = 0x001E,
    XorMappedAddress = 0x0020,
    PasswordAlgorithms = 0x8002,
    AlternateDomain = 0x8003,
    Software = 0x8022,
    AlternateServer = 0x8023,
    Fingerprint = 0x8028,
};
} // namespace StunAttribute

// TURN methods (RFC 8656 §17, RFC 6062 §6.1).
namespace TurnMethod {
enum : quint16 {
    Allocate = 0x003,
    Refresh = 0x004,
    CreatePermission = 0x008,
    Connect = 0x00A,
    ConnectionBind = 0x00B,
    ConnectionAttempt = 0x00C,
};
} // namespace TurnMethod

// Why bytes are not an acceptable STUN message.
enum class StunParseError {
    None,
    Truncated, // fewer bytes than the header or the length field announce
    NotStun, // first two bits set or wrong magic cookie: some other protocol
    BadLength, // length not a multiple of 4, or trailing bytes after the message
    TooLarge, // above StunMessage::maxSize
    BadAttribute, // attribute runs past the end, or something follows FINGERPRINT
    BadFingerprint, // FINGERPRINT present but wrong: corrupted, or not STUN after all
};

struct StunParseResult;
struct StunFrame;

class StunMessage
{
public:
    static constexpr quint32 magicCookie = 0x2112A442;
    static constexpr int headerSize = 20;
    static constexpr int transactionIdSize = 12;
    // A Binding response is about 100 bytes; a stream announcing more than this is not a STUN
    // server talking to us, and we refuse to buffer it.
    static constexpr int maxSize = 2048;
    static constexpr quint16 bindingMethod = 0x001;

    enum class Class : quint8 {
        Request = 0,
        Indication = 1,
        SuccessResponse = 2,
        ErrorResponse = 3
    };

    struct Attribute
    {
        quint16 type = 0;
        QByteArray value; // without padding
    };

    struct ErrorAttribute
    {
        int code = 0; // 300..699
        QString reason;
    };

    StunMessage() = default;
    StunMessage(Class messageClass, quint16 method, const QByteArray &transactionId);

    // A Binding request with a fresh transaction id from the system CSPRNG (RFC 8489 §6: the id
    // must be unguessable, it is all that ties a response to our request).
    static StunMessage bindingRequest();

    // Decodes exactly one message that fills all of bytes.
    static StunParseResult parse(QByteArrayView bytes);
    // Looks at the start of a TCP stream (RFC 8489 §6.2.2: messages back to back, no extra
    // framing) and says whether a whole message is there, more bytes are needed, or the stream
    // is not STUN. Decides as early as possible so garbage is rejected without buffering it.
    static StunFrame peekFrame(QByteArrayView stream);

    Class messageClass() const { return m_class; }
    quint16 method() const { return m_method; }
    const QByteArray &transactionId() const { return m_transactionId; }
    const QList<Attribute> &attributes() const { return m_attributes; }
    // The first attribute of this type (RFC 8489 §14: later duplicates are ignored).
    std::optional<QByteArray> attribute(quint16 type) const;

    std::optional<Endpoint> xorMappedAddress() const;
    // Any XOR-coded address attribute (XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS, ...).
    std::optional<Endpoint> xorAddress(quint16 type) const;
    std::optional<Endpoint> mappedAddress() const;
    // XOR-MAPPED-ADDRESS, else the RFC 3489-era MAPPED-ADDRESS some servers still send.
    std::optional<Endpoint> reflexiveAddress() const;
    std::optional<ErrorAttribute> errorAttribute() const;
    QString software() const;
    // True when the message carried a FINGERPRINT (parse() has verified it).
    bool hasFingerprint() const { return m_hasFingerprint; }
    // Comprehension-required attributes this codec does not know. parse() accepts such messages
    // and lists them here, because what to do depends on the role: a client must treat a success
    // response carrying any as a failed transaction (RFC 8489 §6.3.3).
    const QList<quint16> &unknownRequiredAttributes() const { return m_unknownRequired; }

    // A success or error response to request: same method and transaction id.
    bool isResponseTo(const StunMessage &request) const;

    void addAttribute(quint16 type, const QByteArray &value);
    void addXorMappedAddress(const Endpoint &endpoint);
    void addMappedAddress(const Endpoint &endpoint);
    void addXorAddress(quint16 type, const Endpoint &endpoint);
    void addErrorAttribute(int code, const QString &reason);
    void addSoftware(const QString &software);
    // Wire bytes; with an integrityKey a MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) follows
    // the attributes; withFingerprint then appends a FINGERPRINT computed over the rest.
    QByteArray toBytes(bool withFingerprint = false, QByteArrayView integrityKey = {}) const;

    // The key of the long-term credential mechanism (RFC 8489 §9.2.2): MD5(user:realm:password).
    // (The SASLprep of the password is left out: it changes nothing for ASCII passwords.)
    static QByteArray longTermKey(
        const QString &username, const QString &realm, const QString &password);
    // True when wire (one whole message, as parse() accepted it) carries a MESSAGE-INTEGRITY
    // that key produced.
    static bool checkIntegrity(QByteArrayView wire, QByteArrayView key);

private:
    std::optional<Endpoint> decodeAddress(quint16 type, bool xored) const;
    QByteArray encodeAddress(const Endpoint &endpoint, bool xored) const;

    Class m_class = Class::Request;
    quint16 m_method = bindingMethod;
    QByteArray m_transactionId;
    QList<Attribute> m_attributes;
    QList<quint16> m_unknownRequired;
    bool m_hasFingerprint = false;
};

struct StunParseResult
{
    std::optional<StunMessage> message;
    StunParseError error = StunParseError::None;
    QString reason; // a sentence, when error != None
    bool ok() const { return message.has_value(); }
};

struct StunFrame
{
    enum class Status { Incomplete, Complete, Invalid };
    Status status = Status::Incomplete;
    qsizetype size = 0; // Complete: bytes of the first message
    StunParseError error = StunParseError::None; // Invalid: why
    QString reason;
};

} // namespace Punchline
