#pragma once
// Frame type numbers and the CBOR payloads of the session's own frames. Decoders trust nothing:
// every field's type and range is checked, strings are UTF-8 validated and capped, unknown map
// keys are ignored (newer peers may add some), trailing bytes after the CBOR item are refused.

#include "common/types.h"

#include <QByteArray>
#include <QDateTime>
#include <QString>
#include <QStringList>
#include <optional>

namespace Punchline {

namespace FrameType {
// Session range 0x0001-0x00FF (owned by Session).
constexpr quint16 Hello = 0x0001;
constexpr quint16 Ping = 0x0002;
constexpr quint16 Pong = 0x0003;
constexpr quint16 Chat = 0x0004;
constexpr quint16 ChatAck = 0x0005;
constexpr quint16 Done = 0x0006;
constexpr quint16 Bye = 0x0007;
constexpr quint16 Profile = 0x0008; // the sender's display name changed (peers without it skip it)
// The sender's 32-byte contribution to the pair's friend-finder secret (peers without it skip it).
constexpr quint16 Rendezvous = 0x0009;
constexpr quint16 SessionFirst = 0x0001;
constexpr quint16 SessionLast = 0x00FF;
// Transfer range 0x0100-0x01FF (owned by the transfer module, see session/transferhandler.h).
constexpr quint16 TransferFirst = 0x0100;
constexpr quint16 TransferLast = 0x01FF;

constexpr bool isTransfer(quint16 type)
{
    return type >= TransferFirst && type <= TransferLast;
}
} // namespace FrameType

namespace Limits {
constexpr int ProtocolVersion = 1;
constexpr int MinProtocolVersion = 1; // peers below this are refused (no downgrade)
constexpr int PreHelloMaxPayload = 8 * 1024; // until the peer's hello was accepted
constexpr int MaxPayload = 1024 * 1024; // afterwards (bulk transfer chunks included)
constexpr int DisplayNameBytes = 64;
constexpr int SessionIdBytes = 16;
constexpr int MaxCapabilities = 32;
constexpr int CapabilityChars = 64;
constexpr int ChatIdChars = 36;
constexpr int ChatTextBytes = 64 * 1024;
constexpr int ByeReasonBytes = 256;
} // namespace Limits

struct HelloMessage
{
    int version = Limits::ProtocolVersion;
    int minVersion = Limits::MinProtocolVersion;
    QStringList capabilities;
    QString displayName;
    QByteArray sessionId; // random per Session object: the same value after a heal = resume
};

// Ping and Pong carry the same fields; Pong echoes the Ping.
struct PingMessage
{
    quint64 nonce = 0;
    qint64 timeMs = 0; // sender's monotonic clock, only meaningful to the sender
};

struct ChatMessageWire
{
    QString id;
    qint64 timestampMs = 0; // ms since the epoch, sender's clock
    QString text;
};

struct ChatAckMessage
{
    QString id;
};

struct ByeMessage
{
    QString reason;
};

QByteArray encodeHello(const HelloMessage &m);
std::optional<HelloMessage> decodeHello(const QByteArray &payload, Error *error);

QByteArray encodePing(const PingMessage &m); // also for Pong
std::optional<PingMessage> decodePing(const QByteArray &payload, Error *error);

QByteArray encodeChat(const ChatMessageWire &m);
std::optional<ChatMessageWire> decodeChat(const QByteArray &payload, Error *error);

QByteArray encodeChatAck(const ChatAckMessage &m);
std::optional<ChatAckMessage> decodeChatAck(const QByteArray &payload, Error *error);

QByteArray encodeDone();
bool decodeDone(const QByteArray &payload, Error *error);

// Profile: {name}, the same rules as the hello's name.
QByteArray encodeProfile(const QString &displayName);
// Rendezvous: {r: 32 bytes}.
constexpr int RendezvousContributionBytes = 32;
QByteArray encodeRendezvous(const QByteArray &contribution);
std::optional<QByteArray> decodeRendezvous(const QByteArray &payload, Error *error);
std::optional<QString> decodeProfile(const QByteArray &payload, Error *error);

QByteArray encodeBye(const ByeMessage &m);
std::optional<ByeMessage> decodeBye(const QByteArray &payload, Error *error);

// A chat id as Punchline makes them (QUuid without braces) or any other 1..36 characters of
// [0-9A-Za-z-]; anything else is refused so ids are safe to log and to use as keys.
bool isValidChatId(QStringView id);

} // namespace Punchline
