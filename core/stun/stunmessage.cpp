#include "stunmessage.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <QRandomGenerator>
#include <QtEndian>
#include <array>
#include <cstring>

namespace Punchline {

namespace {

constexpr quint32 fingerprintXor = 0x5354554e; // "STUN"
constexpr int attributeHeaderSize = 4;
constexpr int fingerprintAttributeSize = attributeHeaderSize + 4;
constexpr int integritySize = 20; // HMAC-SHA1
constexpr int integrityAttributeSize = attributeHeaderSize + integritySize;

quint16 readU16(QByteArrayView bytes, qsizetype at)
{
    return qFromBigEndian<quint16>(bytes.data() + at);
}

quint32 readU32(QByteArrayView bytes, qsizetype at)
{
    return qFromBigEndian<quint32>(bytes.data() + at);
}

void appendU16(QByteArray *out, quint16 value)
{
    char buf[2];
    qToBigEndian(value, buf);
    out->append(buf, 2);
}

void appendU32(QByteArray *out, quint32 value)
{
    char buf[4];
    qToBigEndian(value, buf);
    out->append(buf, 4);
}

constexpr qsizetype padded(qsizetype length)
{
    return (length + 3) & ~qsizetype(3);
}

QByteArray hmacSha1(QByteArrayView key, QByteArrayView data)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!HMAC(EVP_sha1(), key.data(), int(key.size()),
            reinterpret_cast<const unsigned char *>(data.data()), size_t(data.size()), out,
            &length))
        return {};
    return QByteArray(reinterpret_cast<const char *>(out), int(length));
}

// CRC-32 as in ISO 3309 / zlib (reflected, polynomial 0xEDB88320), which FINGERPRINT uses. Qt
// only offers CRC-16 and linking zlib for twenty lines is not worth a dependency.
constexpr std::array<quint32, 256> makeCrcTable()
{
    std::array<quint32, 256> table {};
    for (quint32 i = 0; i < 256; ++i) {
        quint32 c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    return table;
}

quint32 crc32(QByteArrayView bytes)
{
    static constexpr std::array<quint32, 256> table = makeCrcTable();
    quint32 crc = 0xFFFFFFFFu;
    for (const char ch : bytes)
        crc = table[(crc ^ quint8(ch)) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

quint16 encodeType(StunMessage::Class messageClass, quint16 method)
{
    const auto c = quint16(messageClass);
    return quint16((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2)
        | ((c & 1) << 4) | ((c & 2) << 7));
}

// Attributes we understand or can safely skip. The RFC 3489 ones (0x0002-0x0005, 0x0007,
// 0x000B) are listed because old public servers still send them in Binding responses; treating
// them as unknown would make us reject perfectly good answers.
bool isKnownAttribute(quint16 type)
{
    switch (type) {
    case StunAttribute::MappedAddress:
    case 0x0002: // RESPONSE-ADDRESS
    case 0x0003: // CHANGE-REQUEST
    case 0x0004: // SOURCE-ADDRESS
    case 0x0005: // CHANGED-ADDRESS
    case StunAttribute::Username:
    case 0x0007: // PASSWORD
    case StunAttribute::MessageIntegrity:
    case StunAttribute::ErrorCode:
    case StunAttribute::UnknownAttributes:
    case 0x000B: // REFLECTED-FROM
    case StunAttribute::ChannelNumber:
    case StunAttribute::Lifetime:
    case StunAttribute::XorPeerAddress:
    case StunAttribute::Data:
    case StunAttribute::Realm:
    case StunAttribute::Nonce:
    case StunAttribute::XorRelayedAddress:
    case StunAttribute::RequestedAddressFamily:
    case StunAttribute::EvenPort:
    case StunAttribute::RequestedTransport:
    case StunAttribute::DontFragment:
    case StunAttribute::ReservationToken:
    case StunAttribute::ConnectionId:
    case StunAttribute::MessageIntegritySha256:
    case StunAttribute::PasswordAlgorithm:
    case StunAttribute::UserHash:
    case StunAttribute::XorMappedAddress:
        return true;
    default:
        return false;
    }
}

StunParseResult parseFailure(StunParseError error, const QString &reason)
{
    StunParseResult result;
    result.error = error;
    result.reason = reason;
    return result;
}

StunFrame invalidFrame(StunParseError error, const QString &reason)
{
    StunFrame frame;
    frame.status = StunFrame::Status::Invalid;
    frame.error = error;
    frame.reason = reason;
    return frame;
}

} // namespace

StunMessage::StunMessage(Class messageClass, quint16 method, const QByteArray &transactionId)
    : m_class(messageClass)
    , m_method(method)
    , m_transactionId(transactionId)
{
    Q_ASSERT(transactionId.size() == transactionIdSize);
}

StunMessage StunMessage::bindingRequest()
{
    std::array<quint32, transactionIdSize / 4> words {};
    QRandomGenerator::system()->fillRange(words.data(), words.size());
    const QByteArray id(reinterpret_cast<const char *>(words.data()), transactionIdSize);
    return StunMessage(Class::Request, bindingMethod, id);
}

StunFrame StunMessage::peekFrame(QByteArrayView stream)
{
    const qsizetype have = stream.size();
    if (have >= 1 && (quint8(stream[0]) & 0xC0) != 0)
        return invalidFrame(
            StunParseError::NotStun, QStringLiteral("the data does not start like a STUN message"));
    // Compare as much of the magic cookie as has arrived: an HTTP or TLS answer fails here after
    // a handful of bytes instead of after a whole announced length.
    char cookie[4];
    qToBigEndian(magicCookie, cookie);
    for (qsizetype i = 4; i < qMin<qsizetype>(have, 8); ++i) {
        if (stream[i] != cookie[i - 4])
            return invalidFrame(
                StunParseError::NotStun, QStringLiteral("the data has no STUN magic cookie"));
    }
    if (have < 4)
        return {};
    const quint16 length = readU16(stream, 2);
    if (length % 4 != 0)
        return invalidFrame(StunParseError::BadLength,
            QStringLiteral("the STUN length %1 is not a multiple of 4").arg(length));
    const qsizetype total = headerSize + qsizetype(length);
    if (total > maxSize)
        return invalidFrame(StunParseError::TooLarge,
            QStringLiteral("a STUN message of %1 bytes is larger than the %2 we accept")
                .arg(total)
                .arg(maxSize));
    if (have < total)
        return {};
    StunFrame frame;
    frame.status = StunFrame::Status::Complete;
    frame.size = total;
    return frame;
}

StunParseResult StunMessage::parse(QByteArrayView bytes)
{
    if (bytes.size() < headerSize)
        return parseFailure(StunParseError::Truncated,
            QStringLiteral("%1 bytes are too few for a STUN header").arg(bytes.size()));
    const quint16 type = readU16(bytes, 0);
    if ((type & 0xC000) != 0)
        return parseFailure(
            StunParseError::NotStun, QStringLiteral("the data does not start like a STUN message"));
    if (readU32(bytes, 4) != magicCookie)
        return parseFailure(
            StunParseError::NotStun, QStringLiteral("the data has no STUN magic cookie"));
    const quint16 length = readU16(bytes, 2);
    if (length % 4 != 0)
        return parseFailure(StunParseError::BadLength,
            QStringLiteral("the STUN length %1 is not a multiple of 4").arg(length));
    const qsizetype total = headerSize + qsizetype(length);
    if (total > maxSize)
        return parseFailure(StunParseError::TooLarge,
            QStringLiteral("a STUN message of %1 bytes is larger than the %2 we accept")
                .arg(total)
                .arg(maxSize));
    if (bytes.size() < total)
        return parseFailure(StunParseError::Truncated,
            QStringLiteral("the STUN message announces %1 bytes but only %2 arrived")
                .arg(total)
                .arg(bytes.size()));
    if (bytes.size() > total)
        return parseFailure(StunParseError::BadLength,
            QStringLiteral("%1 bytes follow the STUN message").arg(bytes.size() - total));

    StunMessage message;
    message.m_method = quint16((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
    message.m_class = Class(((type >> 4) & 1) | ((type >> 7) & 2));
    message.m_transactionId = bytes.sliced(8, transactionIdSize).toByteArray();

    bool afterIntegrity = false;
    // at and total are multiples of 4, so a whole attribute header is always there.
    qsizetype at = headerSize;
    while (at < total) {
        if (message.m_hasFingerprint)
            return parseFailure(StunParseError::BadAttribute,
                QStringLiteral("an attribute follows FINGERPRINT, which must be last"));
        const quint16 attrType = readU16(bytes, at);
        const quint16 attrLength = readU16(bytes, at + 2);
        const qsizetype valueAt = at + attributeHeaderSize;
        if (valueAt + attrLength > total)
            return parseFailure(StunParseError::BadAttribute,
                QStringLiteral("STUN attribute 0x%1 runs past the end of the message")
                    .arg(attrType, 4, 16, QLatin1Char('0')));
        const QByteArrayView value = bytes.sliced(valueAt, attrLength);
        // Cannot pass total: both it and valueAt are multiples of 4.
        at = valueAt + padded(attrLength);

        if (attrType == StunAttribute::Fingerprint) {
            if (attrLength != 4)
                return parseFailure(StunParseError::BadAttribute,
                    QStringLiteral("the FINGERPRINT attribute has the wrong size"));
            const quint32 expected
                = crc32(bytes.first(valueAt - attributeHeaderSize)) ^ fingerprintXor;
            if (readU32(value, 0) != expected)
                return parseFailure(StunParseError::BadFingerprint,
                    QStringLiteral("the STUN FINGERPRINT does not match the message"));
            message.m_hasFingerprint = true;
            continue;
        }
        // RFC 8489 §14.5: apart from FINGERPRINT (and the SHA-256 integrity), whatever follows
        // MESSAGE-INTEGRITY is not covered by it and must be ignored.
        if (afterIntegrity && attrType != StunAttribute::MessageIntegritySha256)
            continue;
        if (attrType == StunAttribute::MessageIntegrity
            || attrType == StunAttribute::MessageIntegritySha256)
            afterIntegrity = true;
        if (attrType < 0x8000 && !isKnownAttribute(attrType)
            && !message.m_unknownRequired.contains(attrType))
            message.m_unknownRequired.append(attrType);
        message.m_attributes.append({ attrType, value.toByteArray() });
    }

    StunParseResult result;
    result.message = std::move(message);
    return result;
}

std::optional<QByteArray> StunMessage::attribute(quint16 type) const
{
    for (const Attribute &a : m_attributes) {
        if (a.type == type)
            return a.value;
    }
    return std::nullopt;
}

std::optional<Endpoint> StunMessage::decodeAddress(quint16 type, bool xored) const
{
    const std::optional<QByteArray> value = attribute(type);
    if (!value || value->size() < 4)
        return std::nullopt;
    const QByteArrayView v(*value);
    const quint8 family = quint8(v[1]);
    quint16 port = readU16(v, 2);
    if (xored)
        port ^= quint16(magicCookie >> 16);

    QHostAddress address;
    if (family == 0x01 && v.size() == 8) {
        quint32 ip = readU32(v, 4);
        if (xored)
            ip ^= magicCookie;
        address = QHostAddress(ip);
    } else if (family == 0x02 && v.size() == 20) {
        quint8 ip[16];
        std::memcpy(ip, v.data() + 4, 16);
        if (xored) {
            char mask[16];
            qToBigEndian(magicCookie, mask);
            std::memcpy(mask + 4, m_transactionId.constData(), transactionIdSize);
            for (int i = 0; i < 16; ++i)
                ip[i] ^= quint8(mask[i]);
        }
        address = QHostAddress(ip);
    } else {
        return std::nullopt;
    }
    const Endpoint endpoint { normalizedAddress(address), port };
    if (!endpoint.isValid())
        return std::nullopt;
    return endpoint;
}

QByteArray StunMessage::encodeAddress(const Endpoint &endpoint, bool xored) const
{
    const QHostAddress address = normalizedAddress(endpoint.address);
    const bool v4 = address.protocol() == QAbstractSocket::IPv4Protocol;
    QByteArray value;
    value.append('\0');
    value.append(char(v4 ? 0x01 : 0x02));
    appendU16(&value, xored ? quint16(endpoint.port ^ (magicCookie >> 16)) : endpoint.port);
    if (v4) {
        appendU32(&value, xored ? address.toIPv4Address() ^ magicCookie : address.toIPv4Address());
        return value;
    }
    const Q_IPV6ADDR ip = address.toIPv6Address();
    char mask[16] = {};
    if (xored) {
        qToBigEndian(magicCookie, mask);
        std::memcpy(mask + 4, m_transactionId.constData(), transactionIdSize);
    }
    for (int i = 0; i < 16; ++i)
        value.append(char(ip.c[i] ^ quint8(mask[i])));
    return value;
}

std::optional<Endpoint> StunMessage::xorMappedAddress() const
{
    return decodeAddress(StunAttribute::XorMappedAddress, true);
}

std::optional<Endpoint> StunMessage::xorAddress(quint16 type) const
{
    return decodeAddress(type, true);
}

std::optional<Endpoint> StunMessage::mappedAddress() const
{
    return decodeAddress(StunAttribute::MappedAddress, false);
}

std::optional<Endpoint> StunMessage::reflexiveAddress() const
{
    if (auto endpoint = xorMappedAddress())
        return endpoint;
    return mappedAddress();
}

std::optional<StunMessage::ErrorAttribute> StunMessage::errorAttribute() const
{
    const std::optional<QByteArray> value = attribute(StunAttribute::ErrorCode);
    if (!value || value->size() < 4)
        return std::nullopt;
    const int errorClass = value->at(2) & 0x07;
    const int number = quint8(value->at(3));
    if (errorClass < 3 || errorClass > 6 || number > 99)
        return std::nullopt;
    return ErrorAttribute { errorClass * 100 + number, QString::fromUtf8(value->mid(4)) };
}

QString StunMessage::software() const
{
    return QString::fromUtf8(attribute(StunAttribute::Software).value_or(QByteArray()));
}

bool StunMessage::isResponseTo(const StunMessage &request) const
{
    return (m_class == Class::SuccessResponse || m_class == Class::ErrorResponse)
        && m_method == request.m_method && m_transactionId == request.m_transactionId;
}

void StunMessage::addAttribute(quint16 type, const QByteArray &value)
{
    m_attributes.append({ type, value });
}

void StunMessage::addXorMappedAddress(const Endpoint &endpoint)
{
    addAttribute(StunAttribute::XorMappedAddress, encodeAddress(endpoint, true));
}

void StunMessage::addMappedAddress(const Endpoint &endpoint)
{
    addAttribute(StunAttribute::MappedAddress, encodeAddress(endpoint, false));
}

void StunMessage::addXorAddress(quint16 type, const Endpoint &endpoint)
{
    addAttribute(type, encodeAddress(endpoint, true));
}

void StunMessage::addErrorAttribute(int code, const QString &reason)
{
    QByteArray value(2, '\0');
    value.append(char(code / 100));
    value.append(char(code % 100));
    value.append(reason.toUtf8());
    addAttribute(StunAttribute::ErrorCode, value);
}

void StunMessage::addSoftware(const QString &software)
{
    addAttribute(StunAttribute::Software, software.toUtf8());
}

QByteArray StunMessage::toBytes(bool withFingerprint, QByteArrayView integrityKey) const
{
    QByteArray out;
    appendU16(&out, encodeType(m_class, m_method));
    appendU16(&out, 0); // length, patched below
    appendU32(&out, magicCookie);
    out.append(m_transactionId);
    for (const Attribute &a : m_attributes) {
        appendU16(&out, a.type);
        appendU16(&out, quint16(a.value.size()));
        out.append(a.value);
        out.append(padded(a.value.size()) - a.value.size(), '\0');
    }
    if (!integrityKey.isEmpty()) {
        // The HMAC covers the header with a length that already counts MESSAGE-INTEGRITY but
        // not a FINGERPRINT after it (RFC 8489 §14.5).
        qToBigEndian(quint16(out.size() - headerSize + integrityAttributeSize), out.data() + 2);
        const QByteArray mac = hmacSha1(integrityKey, out);
        appendU16(&out, StunAttribute::MessageIntegrity);
        appendU16(&out, integritySize);
        out.append(mac);
    }
    // The length must already count FINGERPRINT when the CRC is taken (RFC 8489 §14.7).
    const qsizetype length
        = out.size() - headerSize + (withFingerprint ? fingerprintAttributeSize : 0);
    qToBigEndian(quint16(length), out.data() + 2);
    if (withFingerprint) {
        const quint32 crc = crc32(out) ^ fingerprintXor;
        appendU16(&out, StunAttribute::Fingerprint);
        appendU16(&out, 4);
        appendU32(&out, crc);
    }
    return out;
}

QByteArray StunMessage::longTermKey(
    const QString &username, const QString &realm, const QString &password)
{
    const QByteArray input = username.toUtf8() + ':' + realm.toUtf8() + ':' + password.toUtf8();
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(input.constData(), size_t(input.size()), out, &length, EVP_md5(), nullptr) != 1)
        return {};
    return QByteArray(reinterpret_cast<const char *>(out), int(length));
}

bool StunMessage::checkIntegrity(QByteArrayView wire, QByteArrayView key)
{
    if (wire.size() < headerSize || key.isEmpty())
        return false;
    const qsizetype total = qMin<qsizetype>(wire.size(), headerSize + readU16(wire, 2));
    qsizetype at = headerSize;
    while (at + attributeHeaderSize <= total) {
        const quint16 type = readU16(wire, at);
        const quint16 length = readU16(wire, at + 2);
        if (type == StunAttribute::MessageIntegrity) {
            if (length != integritySize || at + integrityAttributeSize > total)
                return false;
            QByteArray covered = wire.first(at).toByteArray();
            qToBigEndian(quint16(at - headerSize + integrityAttributeSize), covered.data() + 2);
            const QByteArray mac = hmacSha1(key, covered);
            const QByteArrayView got = wire.sliced(at + attributeHeaderSize, integritySize);
            // Constant time is not needed: the MAC is over a message the peer already knows.
            return !mac.isEmpty() && got == QByteArrayView(mac);
        }
        at += attributeHeaderSize + padded(length);
    }
    return false;
}

} // namespace Punchline
