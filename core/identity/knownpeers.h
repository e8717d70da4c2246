#pragma once
// Friends this profile has connected to, kept in <profile>/known-peers.json (written atomically):
// their fingerprint, name, last addresses, when they were last seen, and whether the fingerprint
// came from a pasted code (pinned) or was accepted on first use from plain addresses.

#include "common/endpoint.h"
#include "common/types.h"

#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QString>
#include <optional>

namespace Punchline {

struct KnownPeer
{
    QByteArray fingerprint; // 32 bytes, the key
    QString name;
    QList<Endpoint> candidates; // last known, most recent first (at most 8 are kept)
    QDateTime firstSeen;
    QDateTime lastSeen;
    bool pinnedByCode = false; // false: trust on first use
    // The friend finder's pair secret is made of one random 32-byte contribution from each side,
    // exchanged inside the TLS session (never in the DHT). Empty: not made / not received yet.
    QByteArray ourRendezvous;
    QByteArray theirRendezvous;
};

class KnownPeers
{
public:
    static constexpr const char *FileName = "known-peers.json";
    static constexpr int MaxCandidates = 8;

    explicit KnownPeers(const QString &profileDir);

    // A missing file is an empty list. A damaged file is moved aside to
    // known-peers.json.damaged (never silently overwritten), the list starts empty and an
    // IdentityError explains it (the caller may show it as a warning); returns false then.
    bool load(Error *error = nullptr);
    bool save(Error *error = nullptr) const;

    QList<KnownPeer> peers() const { return m_peers; } // most recently seen first
    std::optional<KnownPeer> find(const QByteArray &fingerprint) const;
    // The peer last seen at this address (for trust-on-first-use warnings when it changes).
    std::optional<KnownPeer> findByCandidate(const Endpoint &endpoint) const;
    // Inserts or updates (by fingerprint). Once pinned by a code, a peer stays pinned; an empty
    // name or candidate list keeps the stored one; firstSeen is kept.
    void remember(const KnownPeer &peer);
    bool forget(const QByteArray &fingerprint);
    // Sets the rendezvous contributions of a known peer (an empty one keeps the stored value)
    // without touching its order or times. False if the peer is unknown.
    bool setRendezvous(
        const QByteArray &fingerprint, const QByteArray &ours, const QByteArray &theirs);

private:
    QString m_path;
    QList<KnownPeer> m_peers;
};

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::KnownPeer)
