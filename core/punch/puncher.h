#pragma once
// Puncher: TCP hole punching by simultaneous open from one shared local port. It dials every
// candidate of the peer at once, again and again on a schedule, while the shared-port listener
// accepts; whichever TCP connections complete run the preamble (see preamble.h), the controller
// nominates one, and that one is handed over for TLS. Everything else is closed.
//
// Roles: the controller (larger fingerprint) nominates. Who opens TLS is chosen so that the
// friend who pasted last has a usable session 2 round trips after its paste (TCP 1, TLS 1.3 1,
// the other side's hello riding with the server's flight as 0.5-RTT data): the late friend is
// the TLS client and sends its ClientHello with its preamble the moment its TCP handshake ends.
// A side that knows the peer's fingerprint and only just started punching (it is the late
// friend, or both pasted together) does so on every connection it dials: the controller with
// 'N' (it nominates that connection at once), the controlled side with 'C' (an offer; the
// controller picks one connection and answers 'n' + its TLS flight, or its own 'N' +
// ClientHello wins). A controller that has punched for a while (the early friend) waits for the
// peer's preamble: an offer is served ('n'), else it opens TLS itself ('N'), as before.
//
// RST-answering NATs: when a full SYN is answered by RST (ECONNREFUSED), our own NAT's mapping
// was just closed by that RST; a low-TTL SYN (STUNT, Guha & Francis 2005) reopens it at once
// without reaching the peer's NAT, so the peer's SYN still finds a way in through our listener.
//
// IPv6 first (Happy Eyeballs, RFC 8305): when the peer has IPv6 and IPv4 candidates, the IPv4
// ones are dialed only after ipv6HeadStartMs (or as soon as every IPv6 dial failed in a way that
// says IPv6 cannot work from here, e.g. no route). Both friends do the same, so where both paths
// can be punched the IPv6 connection completes first and is the one nominated; where IPv6 is
// blocked, IPv4 costs only the head start.

#include "common/types.h"

#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QTimer>

class QSslSocket;

namespace Punchline {

namespace Net {
class Dialer;
}

class Puncher : public QObject
{
    Q_OBJECT
public:
    // RFC 8305 recommends 250 ms between address families for a client; both friends dial at
    // once here and the two paths complete within a few ms of each other, so less is enough.
    static constexpr int DefaultIpv6HeadStartMs = 150;

    struct Config
    {
        quint16 localPort = 0;
        QList<Endpoint> candidates;
        QByteArray ourFingerprint; // 32 bytes
        QByteArray expectedPeerFingerprint; // empty: trust on first use
        int attemptTimeoutMs = 5000;
        int retryIntervalMs = 500;
        int maxRetryIntervalMs = 4000; // backoff cap (reconnecting)
        bool backoff = false;
        int deadlineMs = 0; // 0: until stopped
        int lowTtl = 0; // > 0: re-open after a RST with a low-TTL SYN (lenient NATs)
        int preambleTimeoutMs = 5000;
        // Dialed only laterAfterMs after start() (TURN relays: direct gets a head start and
        // wins when it can, as in Tailscale and magic-wormhole).
        QList<Endpoint> laterCandidates = {};
        int laterAfterMs = 0;
        int ipv6HeadStartMs = DefaultIpv6HeadStartMs; // IPv4 candidates wait this long; 0: none
    };

    struct Nomination
    {
        QSslSocket *socket = nullptr; // plain mode; ownership passes to the receiver
        bool tlsServer = false; // controlled side = TLS server
        QByteArray peerFingerprint; // claimed in the preamble; TLS must prove it
        Endpoint local;
        Endpoint remote;
        bool outgoing = false;
        // The rest of the set-up, folded into the TLS handshake (TlsHandshake::Fold):
        bool readPeerPreamble = false; // the peer's preamble has not been read yet
        bool awaitAnswer = false; // we offered ('C'): the controller answers 'n' or 'N'
        bool skipPeerOffer = false; // we nominated with 'N': skip the peer's offer, if any
    };

    explicit Puncher(const Config &config, QObject *parent = nullptr);
    ~Puncher() override;

    void start();
    // Stops dialing and closes every pending connection. No more signals after this.
    void stop();
    // A nominated connection failed later (its TLS proof): nominate a parked connection at once,
    // if any. (Dialing never pauses: the friend's own connection must be able to get through
    // while an outsider's connection is being proven.)
    void resume();
    // A connection accepted by the shared-port listener whose preamble the engine's dispatcher
    // already read (it claims peerFingerprint); ours is sent here. The
    // puncher owns the socket afterwards. Taken even after a nomination (then it may lead to a
    // second nomination: the caller runs one TLS handshake per nomination and keeps the first
    // that proves the friend), so an outsider who got a connection nominated first cannot lock
    // the friend out. At most MaxPending connections wait here at once.
    void addIncoming(QSslSocket *socket, const QByteArray &peerFingerprint);
    static constexpr int MaxPending = 8;
    static constexpr int MaxPendingPerHost = 2;
    bool isActive() const { return m_active; }
    const Config &config() const { return m_config; }

Q_SIGNALS:
    void progress(const Punchline::ConnectProgress &progress);
    void nominated(const Punchline::Puncher::Nomination &nomination);
    // Non-fatal: one path reached something that is not our peer (another program, another
    // Punchline identity, ourselves). Punching goes on.
    void pathRejected(const Punchline::Error &error);
    // Deadline reached without a connection. Carries the most telling error seen.
    void failed(const Punchline::Error &error);

private:
    struct Pending;

    void tick();
    void abortDialers();
    void dialIdle();
    bool isHeldBack(int index) const;
    void startDial(int index, bool lowTtl);
    void onDialFailed(int index, int err, bool wasLowTtl);
    void adopt(qintptr fd, bool outgoing);
    void track(Pending *p);
    void afterPreamble(Pending *p);
    void onReadable(Pending *p);
    void dropPending(Pending *p, const Error &why, bool report);
    bool pinnedController() const;
    void markNominated();
    void nominate(Pending *p);
    void park(Pending *p);
    void finish(Pending *p, bool tlsServer, const QByteArray &setup = {},
        bool readPeerPreamble = false, bool awaitAnswer = false, bool skipPeerOffer = false);
    void onDeadline();
    void emitProgress();

    Config m_config;
    bool m_active = false;
    QTimer m_tick;
    QTimer m_deadline;
    QTimer m_later; // adds Config::laterCandidates
    QTimer m_ipv6HeadStart; // running: IPv4 candidates are held back
    QElapsedTimer m_since;
    int m_attempts = 0;
    int m_tickCount = 0;
    static constexpr int MinRedialMs = 50;
    static constexpr int EarlyPeerAfterMs = 1000; // punching this long: the peer pasted after us
    // A controller holding a nominated connection whose proof (TLS) has not ended parks further
    // connections this long before nominating them too: a real friend's proof ends well within
    // it, while an outsider who stalls its proof cannot keep the friend's connection out longer.
    static constexpr int ParallelProofAfterMs = 2000;
    QElapsedTimer m_sinceNomination; // since our last nomination (valid until resume())
    QList<QPointer<Net::Dialer>> m_dialers; // one slot per candidate (at most one connect each)
    QList<QElapsedTimer> m_lastDial;
    int m_backoffMs = 0;
    QList<Pending *> m_pending;
    Error m_bestError;
};

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::Puncher::Nomination)
