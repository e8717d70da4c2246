#pragma once
// Session: Punchline's conversation with one friend, above whichever Link currently carries it.
// It survives link changes (healing): messages typed while no link is attached wait in the
// outbox and are sent, in order, after the next hello; the receiver acknowledges every chat and
// drops repeats by id, so each message shows exactly once. It also runs the hello (version check,
// size limits), the keepalive (ping/pong, RTT, silence detection), the "both sides done"
// handshake, and routes transfer frames to a TransferHandler.
//
// Links are not owned: the engine creates them, attaches them and deletes them (deleteLater)
// after their closed() signal. All calls on the thread the session lives in.

#include "common/types.h"
#include "protocol/messages.h"
#include "session/sendbudget.h"
#include "session/transferhandler.h"

#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QTimer>
#include <deque>

namespace Punchline {

class Link;
class TransferHandler;

struct SessionConfig
{
    QString displayName;
    int keepaliveIntervalMs = 15000; // a ping this often (also keeps NAT mappings alive)
    int peerSilentLimitMs = 45000; // no frame for longer: the link is lost
    int helloTimeoutMs = 10000; // the peer's hello must arrive within this after attach
    QStringList capabilities { QStringLiteral("chat/1"),
        QLatin1String(TransferHandler::FlowCapability) };
    // What we announce; tests use other values to play a newer or older peer.
    int protocolVersion = Limits::ProtocolVersion;
    int minProtocolVersion = Limits::MinProtocolVersion; // peers below are refused (no downgrade)
};

class Session : public QObject
{
    Q_OBJECT
public:
    // Bulk (transfer) frames are only pulled while the link holds less than this at most; the
    // limit in use is the SendBudget (the link's rate x 3 ms, 32-128 KiB), which the kernel's
    // unsent bytes are held to as well (Link::setUnsentLimit): what a chat line waits behind.
    static constexpr qint64 BulkLowWaterMark = qint64(128) * 1024;
    // The most the peer can make us queue for it (pongs, chat acks, transfer replies: whatever
    // we send in answer to its frames) while it does not read. Beyond this the link fails with
    // a protocol error: a peer asking without reading would grow our memory without bound.
    static constexpr qint64 MaxPeerQueuedBytes = qint64(4) * 1024 * 1024;

    explicit Session(const SessionConfig &config, QObject *parent = nullptr);
    ~Session() override;

    // Starts using a link: sends our hello (pre-hello frame limit 8 KiB), waits for the peer's.
    // A previously attached link is detached first. The link is not owned.
    // helloSent: our hello already went out on this link (as the TLS server's 0.5-RTT data,
    // made with helloPayload()).
    void attachLink(Link *link, bool helloSent = false);
    // Our hello as it is sent now.
    QByteArray helloPayload() const;
    // Stops using the current link without closing it (no signal). Safe to call at any time.
    void detachLink();
    bool hasLink() const { return !m_link.isNull(); }
    Link *link() const { return m_link; }
    // Hello exchanged on the current link.
    bool isEstablished() const { return m_established; }

    // A new message with a fresh id (QUuid), returned at once; empty if refused (*error says
    // why: empty text or more than 64 KiB of UTF-8). Waits in the outbox until acknowledged.
    QString sendChat(const QString &text, Error *error = nullptr);
    // Same with an id chosen by the caller (Node creates ids on the UI thread): 1-36 characters
    // of [0-9A-Za-z-], not already waiting in the outbox.
    bool sendChat(const QString &id, const QString &text, Error *error = nullptr);
    // Messages sent but not acknowledged yet, oldest first.
    QList<ChatMessage> pendingMessages() const;

    // Ask for the "both sides done" handshake; allDone() once both asked and every message and
    // transfer was acknowledged both ways.
    void requestDone();
    // Tells the peer we are leaving on purpose (it will not try to reconnect). The link stays
    // attached; close() is the usual way.
    void sendBye(const QString &reason = QString());
    // Bye, then a graceful close of the link and detach. No linkLost() for this.
    void close(const QString &reason = QString());
    // Forget everything about the current peer (outbox, seen ids, peer session): for talking to
    // a different friend. Detaches the link.
    void reset();

    void setKeepalive(int intervalMs, int silentLimitMs);
    // The link is suspect (our public address changed, or the friend's newer record no longer
    // lists the address we talk to): a Ping now, and the link fails (linkLost, PeerLost) if no
    // frame at all arrives within withinMs, instead of after the silence limit. A live link
    // answers and nothing else happens. A check already running keeps its earlier deadline.
    // Nothing before the hello or without a link.
    void checkAlive(int withinMs);
    // Used in every later hello, and sent to the peer at once when a session is up (Profile).
    void setDisplayName(const QString &name);
    // Our contribution to the pair's friend-finder secret: sent on every session that comes up
    // (and at once if one is up).
    void setRendezvousContribution(const QByteArray &contribution);
    // Not owned; must outlive the session or be replaced (nullptr) first.
    void setTransferHandler(TransferHandler *handler);

    QByteArray sessionId() const { return m_sessionId; }
    // The peer's hello on the current (or last) link; its session id changes if it restarted.
    HelloMessage peerHello() const { return m_peerHello; }
    int negotiatedVersion() const { return m_version; }

Q_SIGNALS:
    // Hello exchanged on a newly attached link. resumed: same peer session as the last link.
    void established(const QString &peerName, bool resumed);
    // The peer renamed itself during the session (filtered like the hello's name); at most once
    // a second, with the latest name.
    void peerRenamed(const QString &name);
    // The peer's contribution to the friend-finder secret, when it differs from the last one.
    void rendezvousReceived(const QByteArray &contribution);
    void chatReceived(const Punchline::ChatMessage &message);
    void chatDelivered(const QString &id);
    void rttMeasured(int milliseconds);
    // The current link is unusable (closed, silent peer, protocol error, peer's Bye with
    // PeerClosed). The session already detached and closed it; messages stay in the outbox.
    void linkLost(const Punchline::Error &why);
    void allDone();

private:
    struct Outgoing
    {
        QString id;
        qint64 timestampMs = 0;
        QString text;
    };

    void onFrame(quint16 type, const QByteArray &payload);
    void dispatchFrame(quint16 type, const QByteArray &payload);
    void onHello(const QByteArray &payload);
    void onChat(const QByteArray &payload);
    void onChatAck(const QByteArray &payload);
    void onPing(const QByteArray &payload);
    void onPong(const QByteArray &payload);
    void onBye(const QByteArray &payload);
    void onPingTimer();
    void onSilenceCheck();
    void sendPing();
    void sendChatFrame(const Outgoing &message);
    void sendTransferControl(quint16 type, const QByteArray &payload);
    void schedulePump();
    void pump();
    void maybeSendDone();
    void maybeFinishDone();
    bool transfersIdle() const;
    void rememberSeen(const QString &id);
    // Detach, close the link with `why`, emit linkLost(why).
    void failLink(const Error &why);
    void protocolError(const QString &message);

    SessionConfig m_config;
    QPointer<Link> m_link;
    const Link *m_attached = nullptr; // identity only (never dereferenced)
    QByteArray m_sessionId;
    QByteArray m_rendezvous; // ours, sent on every session up
    QByteArray m_peerRendezvous; // the last one the peer sent
    bool m_rendezvousOnLink = false; // the peer's contribution on this link was taken
    bool m_established = false;
    int m_version = 0;
    HelloMessage m_peerHello;
    QByteArray m_peerSessionId; // from the last hello seen (any link)

    QList<Outgoing> m_outbox;
    QSet<QString> m_seen; // ids of chats received (bounded)
    std::deque<QString> m_seenOrder;

    QTimer m_helloTimer;
    QTimer m_pingTimer;
    // A peer's renames are announced at most once per RenameIntervalMs (the last name wins), so
    // a flood of Profile frames costs a string each, not a profile write each.
    static constexpr int RenameIntervalMs = 1000;
    QTimer m_renameTimer;
    QString m_announcedPeerName;
    QTimer m_silenceTimer;
    QTimer m_checkTimer; // checkAlive()'s deadline
    QElapsedTimer m_checkStarted;
    QElapsedTimer m_sinceLastFrame;
    QElapsedTimer m_clock; // ping times
    QHash<quint64, qint64> m_pingsInFlight;
    // At least the bytes sent in answer to the peer's frames that the link still holds.
    qint64 m_peerQueued = 0;

    bool m_doneRequested = false;
    bool m_doneSent = false; // on the current link, since our last chat
    bool m_peerDone = false; // on the current link, since the peer's last chat
    bool m_allDoneEmitted = false;

    TransferHandler *m_transfers = nullptr;
    bool m_transfersUp = false;
    bool m_pumpScheduled = false;
    bool m_pumping = false;
    SendBudget m_sendBudget;
    qint64 m_bulkHanded = 0; // bulk bytes handed to the current link
    qint64 m_unsentLimit = 0; // what the link was last asked to keep unsent below it
    void updateSendBudget(bool backlogged);
};

} // namespace Punchline
