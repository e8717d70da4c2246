#pragma once
// FriendFinder: friends find each other through OpenDHT without a server of ours (see
// ARCHITECTURE.md "Rendezvous records" for the keys and the sealing).
//
//  - Presence: for every friend we share a pair secret with, we publish a sealed record of where
//    we can be reached now (name, direct/mapped/relay endpoints) at a key only that friend can
//    compute, and listen at the key the friend publishes at. A fresh record means "online"; its
//    expiry (or a "going offline" record) means offline.
//  - Invitations (one-way paste): our code carries a random invitation secret. Whoever holds the
//    code puts a sealed request (its fingerprint, name, endpoints) at a key derived from that
//    secret; we answer with a sealed reply (accepted, declined, revoked) at a key derived from
//    the secret and the requester's fingerprint.
//
// Everything in the DHT is treated as hostile: values that do not open with the expected key,
// replays (sequence not newer than the last one seen), and anything malformed are dropped and
// only counted. The DHT never proves an identity: TLS pinned to the fingerprint does.
// Lives on the network thread.

#include "common/types.h"
#include "rendezvous/dhtclient.h"
#include "rendezvous/record.h"

#include <QDateTime>
#include <QHash>
#include <QObject>
#include <QSet>

class QTimer;

namespace Punchline {

class FriendFinder : public QObject
{
    Q_OBJECT
public:
    enum class ReplyStatus { Accepted = 1, Declined = 2, Revoked = 3, Expired = 4 };

    struct Invitation
    {
        QByteArray secret; // 16 bytes
        qint64 created = 0; // Unix seconds
        qint64 expires = 0; // Unix seconds
        bool singleUse = false;
        bool revoked = false;
        QByteArray usedBy; // single use: the fingerprint that used it
        bool isLive(qint64 now) const { return !revoked && now < expires; }
    };

    static constexpr int MaxInvitations = 8; // the current one plus revoked ones still answered
    static constexpr int MaxPendingRequests = 16; // requests shown and not answered yet
    static constexpr int MaxFriends = 512; // friends we publish for and listen to
    static constexpr int EpochCheckMs = 60 * 1000;
    // The DHT says a friend's newest record expired: the friend counts as gone only if no newer
    // record comes within this long. Every update is a new value (a new id), and the node that
    // drops the one it replaces may tell listeners "expired" before the new one reaches them.
    static constexpr int ExpiredGraceMs = 8000;
    // What every record we put says about its own expiry (Record::expiresMs): a captured record
    // replayed later than this (plus Record::ClockSkewMs) is ignored. We seal every record we
    // keep published again (new seq, new expiry) every RepublishMs, well before that.
    static constexpr qint64 RecordLifetimeMs = 30 * 60 * 1000;
    static constexpr int RepublishMs = 20 * 60 * 1000;
    // friend-finder.json is written at most this often for what strangers can cause (new
    // request values, newer friend records), and always at stop() and destruction.
    static constexpr int SaveDelayMs = 3000;

    FriendFinder(
        const QByteArray &ourFingerprint, const QString &profileDir, QObject *parent = nullptr);
    ~FriendFinder() override;

    // Our identity, to sign the replies we put (requesters drop unsigned ones): the
    // certificate (DER) whose SHA-256 is our fingerprint, and its private key (PEM).
    void setSigningIdentity(const QByteArray &certificateDer, const QByteArray &privateKeyPem);

    void start(const DhtClient::Options &options);
    // Publishes "going offline" to every friend (best effort), then leaves the DHT.
    void stop();
    bool isOnline() const { return m_dht && m_dht->isOnline(); }
    QString status() const { return m_status; }
    DhtClient *dht() const { return m_dht; }

    // Where we can be reached now: republished to every friend when it changes.
    void setSelf(const QString &name, const PeerTargets &targets);

    // Friends whose pair secret is known (from both contributions): publish to, listen for.
    void setFriend(const QByteArray &fingerprint, const QByteArray &pairSecret);
    void removeFriend(const QByteArray &fingerprint);
    static QByteArray pairSecret(const QByteArray &fpA, const QByteArray &contributionA,
        const QByteArray &fpB, const QByteArray &contributionB);

    // Our invitation for the code: the live one, or a new one if there is none.
    Invitation currentInvitation(qint64 lifetimeSeconds, bool singleUse);
    // Revokes every live invitation and makes a new one ("new code").
    Invitation renewInvitation(qint64 lifetimeSeconds, bool singleUse);

    // We pasted a code with an invitation: ask its owner to connect (until cancelRequest()).
    void request(const QByteArray &inviterFingerprint, const QByteArray &inviteSecret);
    void cancelRequest(const QByteArray &inviterFingerprint);
    // Our answer to a request someone made with our code.
    void answer(const QByteArray &requesterFingerprint, bool accept);

    // Counters for tests and the benchmark.
    int droppedValues() const { return m_dropped; }
    int stateWrites() const { return m_stateWrites; } // friend-finder.json written
    // The id of our current request to inviterFingerprint (empty: none), for tests.
    QByteArray requestId(const QByteArray &inviterFingerprint) const
    {
        return m_requests.value(inviterFingerprint).id;
    }

Q_SIGNALS:
    void onlineChanged(bool online, const QString &status);
    // A friend's fresh record: where it is now.
    void friendSeen(
        const QByteArray &fingerprint, const QString &name, const PeerTargets &targets, bool newer);
    // A friend's record expired or said "going offline".
    void friendGone(const QByteArray &fingerprint, const QDateTime &since);
    // Someone holding our code (a live invitation) asks to connect.
    void requestReceived(
        const QByteArray &fingerprint, const QString &name, const PeerTargets &targets);
    // A request we were asked (requestReceived) and did not answer has expired: forget it.
    void requestExpired(const QByteArray &fingerprint);
    // The owner of a code we pasted answered.
    void replyReceived(const QByteArray &inviterFingerprint, ReplyStatus status,
        const QString &name, const PeerTargets &targets);

private:
    struct FriendEntry
    {
        QByteArray secret;
        quint64 lastSeq = 0; // newest record seen from the friend
        bool online = false;
        quint64 expiredSeq = 0; // an "expired" notice for lastSeq waits for ExpiredGraceMs
        // The record with which the friend counted as gone: it (and anything older) never
        // brings the friend back; only a newer record does.
        quint64 goneSeq = 0;
        PeerTargets targets; // in the newest record: a refresh with the same is not news
    };
    // A request we were asked and have not answered.
    struct Pending
    {
        QByteArray secret; // of our invitation it used
        QByteArray requestId; // our reply is signed for it
        QString name;
        PeerTargets targets;
        qint64 expiresMs = 0; // our clock: forgotten then (requestExpired)
    };
    // A reply we keep published (and seal again every RepublishMs).
    struct Reply
    {
        QByteArray secret;
        QByteArray requestId;
        ReplyStatus status = ReplyStatus::Declined;
        qint64 madeMs = 0; // when first answered: the oldest gives way (MaxReplyGroups)
    };
    struct OutgoingRequest
    {
        QByteArray secret;
        QByteArray id; // random, names this attempt: replies must be signed for it
    };
    // What a listened key is for, and how to open what arrives there.
    struct Listened
    {
        enum Kind { Friend, Invite, Reply } kind = Friend;
        QByteArray who; // Friend: the friend; Reply: the inviter; Invite: empty
        QByteArray secret; // Invite/Reply: the invitation secret
        qint64 epoch = 0;
    };

    void onValues(const QByteArray &key, const QList<QByteArray> &values, bool expired);
    void onFriendRecord(const Listened &l, const QByteArray &value, bool expired);
    void onInviteRecord(const Listened &l, const QByteArray &value);
    void onReplyRecord(const Listened &l, const QByteArray &value);
    void onEpochTick();
    // Brings puts and listens in line with the friends, invitations, requests and epochs.
    void refreshKeys();
    void publishAll(bool goingOffline = false);
    void publishTo(const QByteArray &fingerprint, const FriendEntry &entry, bool goingOffline);
    void putRequest(const QByteArray &inviterFp, const OutgoingRequest &request);
    void putReply(const QByteArray &requesterFp, const Reply &reply);
    void republish();
    // Forgets (requestExpired) every pending request whose time is up; waits for the next one.
    void expirePending();
    void put(const QByteArray &group, const QByteArray &key, const QByteArray &value);
    void cancelPuts(const QByteArray &group);
    void listenKey(const QByteArray &key, const Listened &l);
    const Invitation *invitation(const QByteArray &secret) const;
    quint64 nextSeq();
    void drop(const QString &why);
    void loadState();
    void saveState();
    // Writes friend-finder.json within SaveDelayMs (once for any number of changes).
    void scheduleSave();

    QByteArray m_ourFp;
    QString m_profileDir;
    DhtClient *m_dht = nullptr;
    QTimer *m_epochTimer = nullptr;
    QTimer *m_republishTimer = nullptr;
    QTimer *m_saveTimer = nullptr;
    QTimer *m_pendingTimer = nullptr;
    QList<qint64> m_epochs;
    QString m_status;
    QString m_name;
    PeerTargets m_targets;
    quint64 m_lastSeq = 0;
    QHash<QByteArray, FriendEntry> m_friends;
    QList<Invitation> m_invitations;
    QHash<QByteArray, OutgoingRequest> m_requests; // by inviter fingerprint
    QHash<QByteArray, Pending> m_pending; // by requester fingerprint
    QHash<QByteArray, Reply> m_replies; // by requester fingerprint, <= MaxReplyGroups
    QHash<QByteArray, quint64> m_requestSeq; // newest request/reply seq per sender (replay)
    QHash<QByteArray, Listened> m_listened; // by DHT key
    // group ("f"+fp, "q"+fp, "r"+fp) -> (key, value id) we keep published
    QHash<QByteArray, QList<std::pair<QByteArray, quint64>>> m_puts;
    int m_dropped = 0;
    int m_stateWrites = 0;
    Rendezvous::ReplySigner m_signer;
};

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::FriendFinder::ReplyStatus)
