#include "messages.h"

#include "common/textfilter.h"

#include <QCborArray>
#include <QCborMap>
#include <QCborStreamReader>
#include <QCborValue>

namespace Punchline {

namespace {

// Short string keys: readable in a hex dump, cheap enough for control frames.
const QString kVersion = QStringLiteral("v");
const QString kMinVersion = QStringLiteral("min");
const QString kCaps = QStringLiteral("caps");
const QString kName = QStringLiteral("name");
const QString kSessionId = QStringLiteral("sid");
const QString kNonce = QStringLiteral("n");
const QString kTime = QStringLiteral("t");
const QString kId = QStringLiteral("id");
const QString kText = QStringLiteral("text");
const QString kReason = QStringLiteral("reason");

// Maximum CBOR nesting we accept: our messages are flat maps with one array at most.
constexpr int MaxDepth = 4;

bool fail(Error *error, const QString &message)
{
    if (error)
        *error = Error { ErrorCode::ProtocolError, message };
    return false;
}

int depthOf(const QCborValue &v, int depth)
{
    if (depth > MaxDepth)
        return depth;
    int deepest = depth;
    if (v.isArray()) {
        const QCborArray a = v.toArray();
        for (const auto &e : a)
            deepest = qMax(deepest, depthOf(e, depth + 1));
    } else if (v.isMap()) {
        const QCborMap m = v.toMap();
        for (auto it = m.constBegin(); it != m.constEnd(); ++it)
            deepest
                = qMax(deepest, qMax(depthOf(it.key(), depth + 1), depthOf(it.value(), depth + 1)));
    } else if (v.isTag()) {
        deepest = qMax(deepest, depthOf(v.taggedValue(), depth + 1));
    }
    return deepest;
}

std::optional<QCborMap> parseMap(const QByteArray &payload, const char *what, Error *error)
{
    const QString name = QString::fromLatin1(what);
    QCborStreamReader reader(payload);
    const QCborValue value = QCborValue::fromCbor(reader);
    if (reader.lastError() != QCborError::NoError) {
        fail(error,
            QStringLiteral("unreadable %1 message from the other side (%2)")
                .arg(name, reader.lastError().toString()));
        return std::nullopt;
    }
    if (reader.currentOffset() != payload.size()) {
        fail(error, QStringLiteral("unexpected bytes after the %1 message").arg(name));
        return std::nullopt;
    }
    if (!value.isMap()) {
        fail(error, QStringLiteral("the %1 message is not a CBOR map").arg(name));
        return std::nullopt;
    }
    if (depthOf(value, 0) > MaxDepth) {
        fail(error, QStringLiteral("the %1 message is nested too deeply").arg(name));
        return std::nullopt;
    }
    return value.toMap();
}

bool readInt(const QCborMap &map, const QString &key, qint64 min, qint64 max, qint64 *out,
    const char *what, Error *error)
{
    const QCborValue v = map.value(key);
    if (!v.isInteger())
        return fail(error,
            QStringLiteral("%1: field \"%2\" is missing or not an integer")
                .arg(QString::fromLatin1(what), key));
    const qint64 i = v.toInteger();
    if (i < min || i > max)
        return fail(error,
            QStringLiteral("%1: field \"%2\" is out of range (%3)")
                .arg(QString::fromLatin1(what), key)
                .arg(i));
    *out = i;
    return true;
}

// Qt's CBOR reader already refuses invalid UTF-8 in text strings; this adds the cap.
bool readString(const QCborMap &map, const QString &key, int maxBytes, bool required, QString *out,
    const char *what, Error *error)
{
    const QCborValue v = map.value(key);
    if (v.isUndefined() && !required) {
        out->clear();
        return true;
    }
    if (!v.isString())
        return fail(error,
            QStringLiteral("%1: field \"%2\" is missing or not text")
                .arg(QString::fromLatin1(what), key));
    const QString s = v.toString();
    if (s.size() > maxBytes || s.toUtf8().size() > maxBytes)
        return fail(error,
            QStringLiteral("%1: field \"%2\" is longer than %3 bytes")
                .arg(QString::fromLatin1(what), key)
                .arg(maxBytes));
    *out = s;
    return true;
}

QByteArray toCbor(const QCborMap &map)
{
    return QCborValue(map).toCbor();
}

} // namespace

bool isValidChatId(QStringView id)
{
    if (id.isEmpty() || id.size() > Limits::ChatIdChars)
        return false;
    for (const QChar c : id) {
        const char16_t u = c.unicode();
        const bool ok = (u >= u'0' && u <= u'9') || (u >= u'a' && u <= u'z')
            || (u >= u'A' && u <= u'Z') || u == u'-';
        if (!ok)
            return false;
    }
    return true;
}

QByteArray encodeHello(const HelloMessage &m)
{
    QCborMap map;
    map.insert(kVersion, m.version);
    map.insert(kMinVersion, m.minVersion);
    map.insert(kCaps, QCborArray::fromStringList(m.capabilities));
    map.insert(kName, truncateUtf8(m.displayName, Limits::DisplayNameBytes));
    map.insert(kSessionId, m.sessionId);
    return toCbor(map);
}

std::optional<HelloMessage> decodeHello(const QByteArray &payload, Error *error)
{
    const auto map = parseMap(payload, "hello", error);
    if (!map)
        return std::nullopt;
    HelloMessage m;
    qint64 version = 0;
    qint64 minVersion = 0;
    if (!readInt(*map, kVersion, 1, 0xffff, &version, "hello", error)
        || !readInt(*map, kMinVersion, 1, 0xffff, &minVersion, "hello", error))
        return std::nullopt;
    if (minVersion > version) {
        fail(error,
            QStringLiteral("hello: minimum version %1 above version %2")
                .arg(minVersion)
                .arg(version));
        return std::nullopt;
    }
    m.version = int(version);
    m.minVersion = int(minVersion);

    const QCborValue caps = map->value(kCaps);
    if (!caps.isUndefined()) {
        if (!caps.isArray()) {
            fail(error, QStringLiteral("hello: capabilities are not a list"));
            return std::nullopt;
        }
        const QCborArray list = caps.toArray();
        if (list.size() > Limits::MaxCapabilities) {
            fail(error,
                QStringLiteral("hello: more than %1 capabilities").arg(Limits::MaxCapabilities));
            return std::nullopt;
        }
        for (const auto &c : list) {
            const QString s = c.toString();
            if (!c.isString() || s.isEmpty() || s.size() > Limits::CapabilityChars
                || stripControlCharacters(s, false) != s) {
                fail(error, QStringLiteral("hello: a capability is not a short printable name"));
                return std::nullopt;
            }
            m.capabilities.append(s);
        }
    }

    QString name;
    if (!readString(*map, kName, Limits::DisplayNameBytes, false, &name, "hello", error))
        return std::nullopt;
    m.displayName = sanitizeDisplayName(name, Limits::DisplayNameBytes);

    const QCborValue sid = map->value(kSessionId);
    if (!sid.isByteArray() || sid.toByteArray().size() != Limits::SessionIdBytes) {
        fail(error,
            QStringLiteral("hello: session id missing or not %1 bytes")
                .arg(Limits::SessionIdBytes));
        return std::nullopt;
    }
    m.sessionId = sid.toByteArray();
    return m;
}

QByteArray encodePing(const PingMessage &m)
{
    QCborMap map;
    map.insert(kNonce, qint64(m.nonce & 0x7fffffffffffffffULL));
    map.insert(kTime, m.timeMs);
    return toCbor(map);
}

std::optional<PingMessage> decodePing(const QByteArray &payload, Error *error)
{
    const auto map = parseMap(payload, "ping", error);
    if (!map)
        return std::nullopt;
    qint64 nonce = 0;
    qint64 time = 0;
    if (!readInt(*map, kNonce, 0, std::numeric_limits<qint64>::max(), &nonce, "ping", error)
        || !readInt(*map, kTime, std::numeric_limits<qint64>::min(),
            std::numeric_limits<qint64>::max(), &time, "ping", error))
        return std::nullopt;
    return PingMessage { quint64(nonce), time };
}

QByteArray encodeChat(const ChatMessageWire &m)
{
    QCborMap map;
    map.insert(kId, m.id);
    map.insert(kTime, m.timestampMs);
    map.insert(kText, m.text);
    return toCbor(map);
}

std::optional<ChatMessageWire> decodeChat(const QByteArray &payload, Error *error)
{
    const auto map = parseMap(payload, "chat", error);
    if (!map)
        return std::nullopt;
    ChatMessageWire m;
    // Up to year 9999: enough for any clock, small enough for QDateTime.
    constexpr qint64 MaxTimestamp = 253402300799999LL;
    if (!readString(*map, kId, Limits::ChatIdChars, true, &m.id, "chat", error)
        || !readInt(*map, kTime, 0, MaxTimestamp, &m.timestampMs, "chat", error)
        || !readString(*map, kText, Limits::ChatTextBytes, true, &m.text, "chat", error))
        return std::nullopt;
    if (!isValidChatId(m.id)) {
        fail(error, QStringLiteral("chat: the message id is not valid"));
        return std::nullopt;
    }
    return m;
}

QByteArray encodeChatAck(const ChatAckMessage &m)
{
    QCborMap map;
    map.insert(kId, m.id);
    return toCbor(map);
}

std::optional<ChatAckMessage> decodeChatAck(const QByteArray &payload, Error *error)
{
    const auto map = parseMap(payload, "chat-ack", error);
    if (!map)
        return std::nullopt;
    ChatAckMessage m;
    if (!readString(*map, kId, Limits::ChatIdChars, true, &m.id, "chat-ack", error))
        return std::nullopt;
    if (!isValidChatId(m.id)) {
        fail(error, QStringLiteral("chat-ack: the message id is not valid"));
        return std::nullopt;
    }
    return m;
}

QByteArray encodeDone()
{
    return toCbor(QCborMap());
}

bool decodeDone(const QByteArray &payload, Error *error)
{
    return parseMap(payload, "done", error).has_value();
}

QByteArray encodeProfile(const QString &displayName)
{
    QCborMap map;
    map.insert(kName, truncateUtf8(displayName, Limits::DisplayNameBytes));
    return toCbor(map);
}

std::optional<QString> decodeProfile(const QByteArray &payload, Error *error)
{
    const auto map = parseMap(payload, "profile", error);
    if (!map)
        return std::nullopt;
    QString name;
    if (!readString(*map, kName, Limits::DisplayNameBytes, true, &name, "profile", error))
        return std::nullopt;
    return sanitizeDisplayName(name, Limits::DisplayNameBytes);
}

QByteArray encodeRendezvous(const QByteArray &contribution)
{
    QCborMap map;
    map.insert(QStringLiteral("r"), contribution);
    return toCbor(map);
}

std::optional<QByteArray> decodeRendezvous(const QByteArray &payload, Error *error)
{
    const auto map = parseMap(payload, "rendezvous", error);
    if (!map)
        return std::nullopt;
    const QCborValue r = map->value(QStringLiteral("r"));
    if (!r.isByteArray() || r.toByteArray().size() != RendezvousContributionBytes) {
        if (error)
            *error = { ErrorCode::ProtocolError,
                QStringLiteral("the peer sent a malformed rendezvous frame") };
        return std::nullopt;
    }
    return r.toByteArray();
}

QByteArray encodeBye(const ByeMessage &m)
{
    QCborMap map;
    if (!m.reason.isEmpty())
        map.insert(kReason, truncateUtf8(m.reason, Limits::ByeReasonBytes));
    return toCbor(map);
}

std::optional<ByeMessage> decodeBye(const QByteArray &payload, Error *error)
{
    const auto map = parseMap(payload, "bye", error);
    if (!map)
        return std::nullopt;
    ByeMessage m;
    if (!readString(*map, kReason, Limits::ByeReasonBytes, false, &m.reason, "bye", error))
        return std::nullopt;
    m.reason = stripControlCharacters(m.reason, false);
    return m;
}

} // namespace Punchline
