#pragma once
// STUN (RFC 8489) message codec: builds Binding requests, parses and checks messages, and finds
// message boundaries on a TCP stream. Pure functions of bytes, kept apart from sockets so that it
// can be unit tested with the RFC 5769 vectors and fuzzed.

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
    Realm = 0x0014,
    Nonce = 0x0015,
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
    void addErrorAttribute(int code, const QString &reason);
    void addSoftware(const QString &software);
    // Wire bytes; withFingerprint appends a FINGERPRINT computed over the rest.
    QByteArray toBytes(bool withFingerprint = false) const;

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
