#pragma once
// Friend: everything about one friend on the network thread: punching their candidates, the TLS
// handshakes that must prove their fingerprint, the session (chat, outbox, keepalive) with its
// transfers, and healing a lost link. The Engine keeps one per friend and routes to it the
// incoming connections that claim its fingerprint; a later relay link or DHT rendezvous plugs in
// here as one more way the link comes up.
//
// State (FriendInfo::state), one machine, no loose flags:
//
//   Idle ──connect()──▶ Connecting ──nominated──▶ Securing ──proven + hello──▶ Connected
//     ▲                    │  ▲                      │ (every proof failed)       │
//     │ cancel()           │  └──────────────────────┘                            │ link lost
//     │                    ▼ deadline                                             ▼
//   Disconnected ◀──user/Bye── Connected          Failed ◀──deadline── Reconnecting (heal)
//
// Securing goes back to Connecting or Reconnecting (whichever it came from) when every running
// proof failed. A proof that fails (someone else holds the connection, claims the friend's
// fingerprint and cannot prove it) closes only that connection and is reported once per address:
// it never ends the attempt or the session. Once a session is up no other connection can replace
// it: connections claiming the friend arriving meanwhile are refused.
//
// A friend added by plain addresses (trust on first use) starts without a fingerprint; the first
// proven connection gives it one (see Context::resolveIdentity).

#include "common/types.h"
#include "engine/settings.h"
#include "identity/identity.h"
#include "punch/puncher.h"

#include <QElapsedTimer>
#include <QHostAddress>
#include <QObject>
#include <QSet>
#include <functional>
#include <memory>

class QSslSocket;

namespace Punchline {

class KnownPeers;
class Session;
class TlsHandshake;
class TlsLink;
class TlsStream;
class TransferBudget;
class TransferManager;

class Friend : public QObject
{
    Q_OBJECT
public:
    // What a trust-on-first-use friend does with the identity its first connection proved.
    enum class Resolution {
        Adopt, // become this friend
        HandedOver, // the engine gave the connection to the friend who already has it
        Refuse, // e.g. that friend is already connected: drop this connection
    };

    struct Context
    {
        std::optional<Identity> identity; // always set by the engine
        quint16 port = 0;
        Settings settings;
        QString profileDir;
        KnownPeers *knownPeers = nullptr; // the engine's; saved on every session up
        std::shared_ptr<TransferBudget> transferBudget; // one per device, shared by every friend
        // Counts something an outsider did into the device's strangers' summary.
        std::function<void(const QString &detail)> noteStranger;
        // Our 32-byte contribution to this friend's friend-finder pair secret (made once, kept).
        std::function<QByteArray(const QByteArray &fingerprint)> rendezvousContribution;
        // True for the address of one of our TURN servers (a relayed connection arrives from it).
        std::function<bool(const Endpoint &remote)> isRelayServer;
        // Only for a friend without a fingerprint yet. May call takeProven() on another friend.
        std::function<Resolution(Friend *self, const QByteArray &fingerprint, TlsStream *stream,
            const Puncher::Nomination &how)>
            resolveIdentity;
    };

    // At most this many TLS proofs run at once for one friend (an outsider claiming the friend's
    // fingerprint can hold one each; the real friend gets the next).
    static constexpr int MaxProofs = 4;
    // A TLS 1.3 handshake is two round trips: a proof that takes longer is given up.
    static constexpr int ProofTimeoutMs = 5000;
    // Distinct path errors shown per attempt; more only count in the strangers' summary.
    static constexpr int MaxReports = 16;
    // An attempt the friend finder started (the friend's record says it is online) gives up
    // after this long unless a newer record comes; a user's attempt follows the settings.
    static constexpr int FoundAttemptMs = 60000;
    // ... and is tried again after this long, at most MaxFoundRetries times, while the friend's
    // record says it is online.
    static constexpr int FoundRetryMs = 5000;
    static constexpr int MaxFoundRetries = 3;
    // New records restart the attempt at most this often (the latest targets win): a friend
    // that publishes a record per second or faster does not make us redial everything per record.
    static constexpr int RetargetIntervalMs = 2000;
    // Relay candidates are dialed this long after the direct ones (direct wins when it can).
    static constexpr int RelayHeadStartMs = 1000;
    // While a session runs over a relay, the direct candidates are punched again in the
    // background, this often at first and backing off to UpgradeMaxRetryMs; a proven direct
    // connection takes the session over (the outbox is sent again once, transfers resume).
    static constexpr int UpgradeRetryMs = 3000;
    static constexpr int UpgradeMaxRetryMs = 15000;

    // A link that is suspect (see checkLink) must show a sign of life within this bound:
    // 2 round trips + 1 s, at least LinkCheckMinMs (a Ping answered takes one round trip).
    static constexpr int LinkCheckMinMs = 2000;
    static constexpr int LinkCheckMaxMs = 10000;

    Friend(const Context &context, const QByteArray &fingerprint, QObject *parent = nullptr);
    ~Friend() override;

    QByteArray fingerprint() const { return m_fingerprint; }
    State state() const { return m_state; }
    FriendInfo info() const;
    bool isActive() const; // Connecting, Securing, Connected or Reconnecting

    // Where to reach the friend (from a code, the known peers or plain addresses) and what to
    // call it until its hello says otherwise.
    // Empty lists in targets keep what is known of that kind.
    void setTarget(const PeerTargets &targets, bool pinnedByCode, const QString &name);
    const PeerTargets &targets() const { return m_targets; }
    void setLastSeen(const QDateTime &when) { m_lastSeen = when; }
    // Punch now (first contact), or as soon as the engine calls discoveryReady().
    void connectNow();
    void discoveryReady();
    // The friend finder saw the friend online: punch, for at most FoundAttemptMs.
    void connectFound();
    // New targets arrived while punching: start over with them (keeps healing a heal), at most
    // once per RetargetIntervalMs (a later call within it is done at its end, once).
    void retarget();
    // Our public address changed (the home's NAT re-addressed): every flow through the NAT is
    // dead. A session on a path through it (direct, mapped, relay) heals at once, as when the
    // link is lost (RST close, punch the friend's candidates again); a LAN path does not go
    // through the NAT and is only checked (checkLink). Nothing happens unless connected.
    void ourAddressChanged(bool addressChanged);
    // The friend's newer presence record no longer lists the address our session runs to: on a
    // direct or mapped path its address moved, so the link is checked (a Ping, heal if nothing
    // arrives within linkCheckMs). A forged record costs at most that one Ping.
    void checkRecord(const PeerTargets &record);
    // Asks the session for a sign of life within linkCheckMs(); no answer heals the link.
    void checkLink(const QString &why);
    // Whether a record makes the session on `path` to `remote` suspect: a direct or mapped path
    // whose remote the record (which lists something) no longer has.
    static bool recordDropsRemote(const PeerTargets &record, const Endpoint &remote, PathKind path);
    static int linkCheckMs(int rttMs);
    // The friend answered our request through the DHT with a refusal    // The friend answered our
    // request through the DHT with a refusal (declined, revoked, ...).
    void refuse(const Error &e);
    void setPresence(bool online, const QDateTime &since);
    void setVia(FoundVia via) { m_via = via; }
    // The user closed this conversation's link: the friend finder does not reopen it until the
    // user connects again.
    bool userClosed() const { return m_userClosed; }
    void cancel();
    void disconnectByUser();
    // Leaving the program: Bye and the last queued frames, then close (blocks up to timeoutMs).
    void shutdown(int timeoutMs = 1000);

    // A connection claiming this friend, preambles exchanged (from the dispatcher). Taken while
    // punching; refused (closed) otherwise. Returns false if refused.
    bool offerIncoming(QSslSocket *socket, const QByteArray &claimedFingerprint);
    // A connection another (trust-on-first-use) attempt already proved to be this friend.
    void takeProven(TlsStream *stream, const Puncher::Nomination &how);

    QString sendChat(const QString &id, const QString &text, Error *error);
    bool sendPaths(const QString &transferId, const QStringList &paths, Error *error);
    void acceptTransfer(const QString &transferId, bool accept);
    void cancelTransfer(const QString &transferId);
    void requestDone();
    bool isDone() const { return m_allDone; }
    void applySettings(const Settings &settings);

Q_SIGNALS:
    void stateChanged(Punchline::State state);
    void infoChanged(); // name, path, last seen, state: the conversation list redraws
    void connectProgress(const Punchline::ConnectProgress &progress);
    void connected(const Punchline::ConnectionInfo &info);
    void disconnected(const Punchline::Error &why);
    void errorOccurred(const Punchline::Error &error);
    void chatReceived(const Punchline::ChatMessage &message);
    void chatDelivered(const QString &id);
    void rttMeasured(int milliseconds);
    void transferUpdated(const Punchline::TransferInfo &info);
    void allDone();
    void logLine(const QString &line);
    // The friend's contribution to the pair's friend-finder secret (inside the TLS session).
    void rendezvousReceived(const QByteArray &contribution);

private:
    struct Proof;

    void setState(State s);
    void log(const QString &line);
    void ensureSession();
    void startPunching(bool healing);
    void stopPunching();
    void abortProofs();
    void dropProof(Proof *proof);
    void onNominated(const Puncher::Nomination &n);
    void onProofFailed(Proof *proof, const Error &e);
    void onProven(Proof *proof, const QByteArray &fingerprint);
    void attach(TlsStream *stream, const Puncher::Nomination &how, bool helloSent = false);
    TlsHandshake *makeProof(Proof *proof, const Puncher::Nomination &n, const QByteArray &pin);
    void startUpgrade();
    void stopUpgrade();
    void onUpgradeNominated(const Puncher::Nomination &n);
    void onUpgradeProven(Proof *proof, const QByteArray &fingerprint);
    void dropUpgradeProof(Proof *proof);
    void onPunchFailed(Error e);
    void onSessionUp(const QString &peerName);
    void onLinkLost(const Error &why);
    PathKind pathFor(const Endpoint &remote) const;
    void reportOnce(const Error &e, const QHostAddress &host);
    void noteStranger(const QString &detail);
    void fail(const Error &e);
    void rememberPeer(const QString &peerName);

    Context m_ctx;
    QByteArray m_fingerprint; // empty until proven (trust on first use)
    State m_state = State::Idle;
    bool m_healing = false; // the current attempt restores a lost link (Reconnecting)
    bool m_discovered = false; // the engine knows our addresses (and NAT mapping) now
    bool m_wantPunch = false; // waiting for discovery
    PeerTargets m_targets;
    bool m_pinnedByCode = false;
    QString m_name;
    QDateTime m_lastSeen;
    Error m_lastError;
    QElapsedTimer m_sinceCode; // from "code available" to a usable session
    Endpoint m_local;
    Endpoint m_remote;
    PathKind m_path = PathKind::Direct;
    int m_rttMs = -1; // the session's last round trip

    Puncher *m_puncher = nullptr;
    Puncher *m_upgrade = nullptr; // on a relay: looking for a direct path meanwhile
    QList<Proof *> m_upgradeProofs;
    QList<Proof *> m_proofs;
    TlsLink *m_link = nullptr;
    Session *m_session = nullptr;
    TransferManager *m_transfers = nullptr;
    QSet<QString> m_reported; // path errors already shown in this attempt
    bool m_doneRequested = false;
    bool m_userClosed = false;
    int m_foundRetries = 0;
    QElapsedTimer m_retargeted; // the last retarget()
    bool m_retargetQueued = false;
    bool m_online = false; // presence from the friend finder
    QDateTime m_presenceSince;
    FoundVia m_via = FoundVia::Paste;
    int m_deadlineMs = -1; // >= 0: this attempt's deadline instead of the settings'
    bool m_allDone = false;
};

} // namespace Punchline
