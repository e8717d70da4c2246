#pragma once
// What friends put into the public DHT to find each other again (ARCHITECTURE.md, "Rendezvous
// records"): keys derived from a secret only the two friends (or the holders of one invitation
// code) know, values encrypted and authenticated under it. Pure functions and values: no I/O.
//
// Value (what the DHT stores; nothing in clear text, not even a version):
//   12-byte random nonce | AES-256-GCM ciphertext | 16-byte tag,
//   key Channel::encKey, AAD "PLR1" || Channel::dhtKey(epoch).
// Plaintext, version 2:
//   u8 version (2) | u8 type | u64 seq | u64 expiresMs | u8 flags | u8 status
//   | u8 n + n bytes UTF-8 name | u8 fpLen (0|32) + fp | u8 idLen (0|16) + requestId
//   | 3 lists (direct, mapped, relays), each u8 count (<= 8; replies <= 6) + count x
//   (u8 family 4|6, 4|16 address bytes, u16 port) | u16 certLen + certificate DER (replies)
//   | u8 sigLen + signature (replies) | zero bytes up to a multiple of 256, or to 996 bytes (the
//   last bucket: a value is never more than 1024 bytes).
// Integers are big-endian.

#include "common/endpoint.h"
#include "common/types.h"

#include <QByteArray>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <memory>
#include <optional>

typedef struct evp_pkey_st EVP_PKEY; // <openssl/types.h>

namespace Punchline::Rendezvous {

// Keys rotate every UTC day: epochOf(t) = floor(t / 86400).
constexpr qint64 EpochSeconds = 86400;
// Both sides look at the neighbouring day too when their clocks may straddle midnight.
constexpr qint64 EpochSkewSeconds = 15 * 60;

qint64 epochOf(qint64 unixSeconds);
// The distinct epochs of t - 15 min, t and t + 15 min, oldest first (one or two of them).
QList<qint64> epochsAround(qint64 unixSeconds);

// One direction of one shared secret: where records go in the DHT (keyKey) and how they are
// sealed (encKey). Empty keys (isValid() false) when the inputs have the wrong sizes.
struct Channel
{
    static constexpr int SecretBytes = 32; // a friend pair's secret
    static constexpr int InviteSecretBytes = 16; // the secret inside an invitation code
    static constexpr int FingerprintBytes = 32;
    static constexpr int KeyBytes = 32;
    static constexpr int DhtKeyBytes = 20; // an OpenDHT InfoHash

    QByteArray keyKey;
    QByteArray encKey;

    bool isValid() const { return keyKey.size() == KeyBytes && encKey.size() == KeyBytes; }

    // What sender publishes for receiver (presence: where the sender can be reached now).
    static Channel friendDirection(const QByteArray &pairSecret32, const QByteArray &senderFp32,
        const QByteArray &receiverFp32);
    // Where anyone holding the inviter's code asks to connect.
    static Channel inviteRequests(const QByteArray &inviteSecret16, const QByteArray &inviterFp32);
    // Where the inviter answers one requester.
    static Channel inviteReplies(const QByteArray &inviteSecret16, const QByteArray &inviterFp32,
        const QByteArray &requesterFp32);

    // The DHT key (20 bytes) of this channel during one epoch: HMAC-SHA256(keyKey, "k" ||
    // be64(epoch)), first 20 bytes. Empty for an invalid channel.
    QByteArray dhtKey(qint64 epoch) const;
};

struct Record
{
    enum Type : quint8 { Presence = 1, InviteRequest = 2, InviteReply = 3 };
    enum Flag : quint8 { Online = 0x01, GoingOffline = 0x02 };
    enum Status : quint8 { NoStatus = 0, Accepted = 1, Declined = 2, Revoked = 3, Expired = 4 };

    static constexpr int Version = 2;
    static constexpr int MaxNameBytes = 64;
    static constexpr int MaxEndpoints = 8; // per list
    // A signed reply carries a certificate and a signature: its lists are cut to this many so
    // the largest reply still fits MaxValueBytes (20 + 65 + 2 + 3 + 18 x 19 + 2 + 480 + 1 + 72
    // = 987 plaintext bytes <= MaxPlaintextBytes).
    static constexpr int MaxReplyEndpoints = 6;
    static constexpr int RequestIdBytes = 16;
    static constexpr int MaxCertificateBytes = 480; // our P-256 certificates are about 300
    static constexpr int MaxSignatureBytes = 72; // ECDSA P-256, DER
    static constexpr int PaddingBlock = 256;
    static constexpr int NonceBytes = 12;
    static constexpr int TagBytes = 16;
    static constexpr int MaxValueBytes = 1024;
    // Plaintexts are padded to whole blocks (256, 512, 768) or to this last, shorter bucket.
    static constexpr int MaxPlaintextBytes = MaxValueBytes - NonceBytes - TagBytes; // 996
    // The smallest value seal() makes: one padding block.
    static constexpr int MinValueBytes = NonceBytes + PaddingBlock + TagBytes;
    // A record says how long it means anything (expiresMs): at most this long after its seq.
    static constexpr qint64 MaxLifetimeMs = 24 * 3600 * 1000;
    // How far the sender's clock may be behind ours when we judge its expiry (isCurrent).
    static constexpr qint64 ClockSkewMs = 5 * 60 * 1000;
    // How far the sender's clock may be ahead of ours (seq from the future).
    static constexpr qint64 MaxAheadMs = 10 * 60 * 1000;

    quint8 type = Presence;
    quint64 seq = 0; // sender's ms since the Unix epoch, strictly increasing (nextSeq)
    // Sender's ms since the Unix epoch from which the record means nothing (a captured record
    // replayed later is ignored: isCurrent). seq < expiresMs <= seq + MaxLifetimeMs.
    quint64 expiresMs = 0;
    quint8 flags = 0; // Flag bits; bits not defined here are kept and must be ignored
    quint8 status = NoStatus; // InviteReply: Accepted ... Expired; NoStatus for the other types
    QString name; // <= 64 UTF-8 bytes (seal cuts at a character boundary)
    QByteArray fingerprint; // InviteRequest: the requester's 32-byte fingerprint; else empty
    QList<Endpoint> direct; // the sender's own addresses (local interfaces, public via STUN)
    QList<Endpoint> mapped; // port mappings the router made for it (UPnP, NAT-PMP)
    QList<Endpoint> relays; // relays it can be reached through
    QByteArray requestId; // InviteRequest: 16 random bytes naming one attempt; else empty
    // InviteReply: the inviter's certificate (DER; its SHA-256 is the fingerprint in the code)
    // and its signature over replyMessage() (sealReply, verifyReply). Else empty.
    QByteArray certificate;
    QByteArray signature;
    // open() fills it: the plaintext bytes the signature covers (everything before the
    // signature). Not part of the record's value (not compared, not sealed).
    QByteArray signedPart;

    // A sequence number after previous: nowMs, or previous + 1 if the clock has not moved on
    // (or went back).
    static quint64 nextSeq(quint64 previous, qint64 nowMs);

    friend bool operator==(const Record &a, const Record &b)
    {
        return a.type == b.type && a.seq == b.seq && a.flags == b.flags && a.status == b.status
            && a.name == b.name && a.fingerprint == b.fingerprint && a.direct == b.direct
            && a.mapped == b.mapped && a.relays == b.relays && a.expiresMs == b.expiresMs
            && a.requestId == b.requestId && a.certificate == b.certificate
            && a.signature == b.signature;
    }
    friend bool operator!=(const Record &a, const Record &b) { return !(a == b); }
};

// The value to put at c.dhtKey(epoch). The name is cut to MaxNameBytes, invalid endpoints are
// left out and each list is cut to its first MaxEndpoints (MaxReplyEndpoints in a reply). Empty
// when the record cannot be sealed: invalid channel, unknown type, a status, fingerprint,
// request id, certificate or signature that does not fit the type or its size, an expiry not
// in (seq, seq + MaxLifetimeMs], or no random nonce. A reply sealed here carries whatever
// certificate and signature r has: use sealReply() to sign it.
QByteArray seal(const Channel &c, qint64 epoch, const Record &r);

// The record in a value found at c.dhtKey(epoch), or nullopt and why: BadRecord for anything
// forged, moved from another key or epoch, tampered with, too short or too long or malformed;
// RecordVersion for an authentic record of a newer version or type. Never reads outside value.
// The name comes back filtered like every name a peer sends (sanitizeDisplayName).
std::optional<Record> open(const Channel &c, qint64 epoch, const QByteArray &value, Error *error);

// The highest sequence number seen per sender, so a replayed (older) record is dropped. Bounded:
// at most maxEntries senders, the one accepted least recently gives way. Persist it with
// toJson()/fromJson() so replays stay dropped after a restart.
// True while r means something at our time nowMs: not yet expired (allowing the sender's clock
// ClockSkewMs behind ours) and not from more than MaxAheadMs in the future.
bool isCurrent(const Record &r, qint64 nowMs);

// The inviter's identity, to sign replies with: its certificate (DER) and private key.
class ReplySigner
{
public:
    ReplySigner() = default;
    // Invalid (isValid() false) if the key cannot be read or does not belong to the certificate.
    static ReplySigner fromIdentity(const QByteArray &certificateDer, const QByteArray &keyPem);
    bool isValid() const { return m_key && !m_certificate.isEmpty(); }
    QByteArray certificate() const { return m_certificate; }
    // ECDSA-SHA256 (DER) of message; empty on failure.
    QByteArray sign(const QByteArray &message) const;

private:
    QByteArray m_certificate;
    std::shared_ptr<EVP_PKEY> m_key;
};

// What a reply answers: the inviter (whose fingerprint the requester pinned from the code), the
// requester, and the attempt (the request id in the requester's request records).
struct ReplyBinding
{
    QByteArray inviterFp; // 32
    QByteArray requesterFp; // 32
    QByteArray requestId; // Record::RequestIdBytes
    bool isValid() const
    {
        return inviterFp.size() == Channel::FingerprintBytes
            && requesterFp.size() == Channel::FingerprintBytes
            && requestId.size() == Record::RequestIdBytes;
    }
};

// What a reply's signature covers: "punchline/rendezvous/reply-signature/v1\0" || inviterFp ||
// requesterFp || requestId || signedPart (the reply's plaintext up to its signature: version,
// type, seq, expiry, flags, status, name, addresses, certificate).
QByteArray replyMessage(const ReplyBinding &b, const QByteArray &signedPart);

// seal() of a reply carrying signer's certificate and its signature bound to b. Empty if r is
// not a reply, b or signer is invalid, or it cannot be sealed.
QByteArray sealReply(const Channel &c, qint64 epoch, const Record &r, const ReplySigner &signer,
    const ReplyBinding &b);

// After open(): true if reply r is signed by the inviter of b for exactly this requester and
// attempt: SHA-256(certificate) == b.inviterFp (checked before the certificate is parsed), and
// the signature verifies with its public key over replyMessage(b, r.signedPart). Otherwise false
// and why (BadRecord).
bool verifyReply(const Record &r, const ReplyBinding &b, Error *error);

class ReplayGuard
{
public:
    static constexpr int DefaultMaxEntries = 4096;
    static constexpr qint64 MaxAgeMs = 24 * 3600 * 1000; // older records are stale
    static constexpr qint64 MaxAheadMs = 10 * 60 * 1000; // sender's clock ahead of ours

    explicit ReplayGuard(int maxEntries = DefaultMaxEntries);

    // True (and seq remembered) if seq is newer than the last one accepted from sender and
    // within [nowMs - MaxAgeMs, nowMs + MaxAheadMs].
    bool accept(const QByteArray &sender, quint64 seq, qint64 nowMs);
    // The last sequence number accepted from sender (0: none).
    quint64 lastSeq(const QByteArray &sender) const;
    int size() const { return int(m_entries.size()); }
    int maxEntries() const { return m_maxEntries; }

    // {"v": 1, "senders": [{"id": hex, "seq": "decimal", "seen": "decimal ms"}, ...]}
    QJsonObject toJson() const;
    // Entries that cannot be read are skipped; at most maxEntries are kept (the most recent).
    static ReplayGuard fromJson(const QJsonObject &json, int maxEntries = DefaultMaxEntries);

private:
    struct Entry
    {
        quint64 seq = 0;
        qint64 seenMs = 0; // our clock when seq was accepted: the eviction order
    };
    void evictOne(qint64 nowMs);

    int m_maxEntries;
    QHash<QByteArray, Entry> m_entries;
};

// The secret part of an invitation code, and how long the code is valid.
struct Invitation
{
    QByteArray secret16; // random, Channel::InviteSecretBytes
    qint64 createdUnix = 0;
    qint64 expiresUnix = 0; // the code is refused from this second on
    bool singleUse = true; // revoked once one friend has been accepted

    bool isValid() const { return secret16.size() == Channel::InviteSecretBytes; }
    bool isExpired(qint64 nowUnix) const { return nowUnix >= expiresUnix; }

    // A fresh secret from RAND_bytes (isValid() false in the unlikely case OpenSSL has none).
    static Invitation create(qint64 nowUnix, qint64 lifetimeSeconds, bool singleUse);
};

} // namespace Punchline::Rendezvous
