#include "friend.h"

#include "common/logging.h"
#include "identity/knownpeers.h"
#include "net/nativesocket.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "session/session.h"
#include "session/tlshandshake.h"
#include "session/tlslink.h"
#include "transfer/transferbudget.h"
#include "transfer/transfermanager.h"

#include <QDir>
#include <QNetworkInterface>
#include <QSslSocket>
#include <QTimer>

namespace Punchline {

namespace {

bool onLocalSubnet(const QHostAddress &raw)
{
    const QHostAddress address = normalizedAddress(raw);
    if (address.isLoopback())
        return true;
    const auto interfaces = QNetworkInterface::allInterfaces();
    for (const QNetworkInterface &iface : interfaces) {
        if (!(iface.flags() & QNetworkInterface::IsUp))
            continue;
        const auto entries = iface.addressEntries();
        for (const QNetworkAddressEntry &entry : entries) {
            if (entry.prefixLength() > 0 && address.isInSubnet(entry.ip(), entry.prefixLength()))
                return true;
        }
    }
    return false;
}

} // namespace

// One TLS handshake on one nominated connection. Several may run at once (see MaxProofs); the
// first that proves the friend wins and the others are aborted before anything else happens.
struct Friend::Proof
{
    TlsHandshake *handshake = nullptr;
    QSslSocket *socket = nullptr;
    Puncher::Nomination how;
};

Friend::Friend(const Context &context, const QByteArray &fingerprint, QObject *parent)
    : QObject(parent)
    , m_ctx(context)
    , m_fingerprint(fingerprint)
{
}

Friend::~Friend()
{
    stopPunching();
    if (m_link) {
        TlsLink *link = m_link;
        m_link = nullptr;
        link->disconnect(this);
        if (m_session)
            m_session->detachLink(); // no "link lost" from inside the destructor
        link->abortNow();
        delete link;
    }
}

FriendInfo Friend::info() const
{
    FriendInfo i;
    i.fingerprint = m_fingerprint;
    i.name = m_name;
    i.state = m_state;
    i.pathKnown = m_state == State::Connected;
    i.path = m_path;
    i.remote = i.pathKnown ? m_remote : Endpoint {};
    i.lastSeen = m_state == State::Connected ? QDateTime::currentDateTimeUtc() : m_lastSeen;
    i.pinnedByCode = m_pinnedByCode;
    i.lastError = m_lastError;
    i.online = m_online || m_state == State::Connected;
    // Without the friend finder, presence is the link: online since it came up, offline since
    // it went (m_lastSeen is set at both).
    i.presenceSince = m_presenceSince.isValid() ? m_presenceSince : m_lastSeen;
    i.via = m_via;
    return i;
}

bool Friend::isActive() const
{
    return m_state == State::Connecting || m_state == State::Securing || m_state == State::Connected
        || m_state == State::Reconnecting;
}

void Friend::setState(State s)
{
    if (m_state == s)
        return;
    m_state = s;
    qCInfo(lcEngine).noquote() << "friend" << m_fingerprint.toHex().left(16) << stateName(s);
    Q_EMIT stateChanged(s);
    Q_EMIT infoChanged();
}

void Friend::log(const QString &line)
{
    const QString who
        = m_name.isEmpty() ? QString::fromLatin1(m_fingerprint.toHex().left(8)) : m_name;
    Q_EMIT logLine(QStringLiteral("[%1] %2").arg(who, line));
}

void Friend::setTarget(const PeerTargets &targets, bool pinnedByCode, const QString &name)
{
    if (!targets.direct.isEmpty())
        m_targets.direct = targets.direct;
    if (!targets.mapped.isEmpty())
        m_targets.mapped = targets.mapped;
    if (!targets.relays.isEmpty())
        m_targets.relays = targets.relays;
    m_pinnedByCode = m_pinnedByCode || pinnedByCode;
    if (!name.isEmpty())
        m_name = name;
    Q_EMIT infoChanged();
}

void Friend::ensureSession()
{
    if (m_session || m_fingerprint.isEmpty())
        return;
    m_session
        = new Session(SessionConfig { m_ctx.settings.displayName,
                          m_ctx.settings.keepaliveIntervalMs, m_ctx.settings.peerSilentLimitMs },
            this);
    connect(m_session, &Session::established, this,
        [this](const QString &peerName, bool) { onSessionUp(peerName); });
    connect(m_session, &Session::chatReceived, this, &Friend::chatReceived);
    connect(m_session, &Session::chatDelivered, this, &Friend::chatDelivered);
    connect(m_session, &Session::rttMeasured, this, [this](int ms) {
        m_rttMs = ms;
        Q_EMIT rttMeasured(ms);
    });
    // Queued like the transfer manager's updates, so "done" events of transfers reach the user
    // before allDone does.
    connect(
        m_session, &Session::allDone, this,
        [this] {
            m_allDone = true;
            Q_EMIT allDone();
        },
        Qt::QueuedConnection);
    connect(m_session, &Session::linkLost, this, &Friend::onLinkLost);
    connect(m_session, &Session::rendezvousReceived, this, &Friend::rendezvousReceived);
    if (m_ctx.rendezvousContribution)
        m_session->setRendezvousContribution(m_ctx.rendezvousContribution(m_fingerprint));
    connect(m_session, &Session::peerRenamed, this, [this](const QString &name) {
        log(QStringLiteral("is now called %1").arg(name));
        m_name = name;
        rememberPeer(name);
        Q_EMIT infoChanged();
    });

    // Resume records are this friend's own: another identity offering the same file never
    // gets this friend's partial data or its hash.
    const QString stateDir
        = QDir(m_ctx.profileDir)
              .filePath(
                  QStringLiteral("transfers/%1").arg(QString::fromLatin1(m_fingerprint.toHex())));
    m_transfers
        = new TransferManager(m_ctx.settings.downloadDir, stateDir, m_ctx.settings.accept, this);
    m_transfers->setPeer(m_fingerprint);
    if (m_ctx.transferBudget)
        m_transfers->setBudget(m_ctx.transferBudget);
    connect(m_transfers, &TransferManager::transferUpdated, this, &Friend::transferUpdated);
    m_session->setTransferHandler(m_transfers);
    if (m_doneRequested)
        m_session->requestDone();
}

void Friend::connectNow()
{
    m_userClosed = false;
    m_deadlineMs = -1;
    m_sinceCode.start();
    m_lastError = {};
    if (m_state == State::Connected || m_state == State::Securing)
        return; // already there (or about to be): pasting the code again changes nothing
    m_healing = false;
    if (!m_discovered) {
        m_wantPunch = true; // our addresses are not known yet
        setState(State::Connecting);
        return;
    }
    startPunching(false);
}

void Friend::connectFound()
{
    if (m_userClosed || isActive())
        return;
    m_foundRetries = 0; // a new record: a new series of attempts
    m_via = FoundVia::Dht;
    m_sinceCode.start();
    m_lastError = {};
    m_healing = false;
    m_deadlineMs = FoundAttemptMs;
    if (!m_discovered) {
        m_wantPunch = true;
        setState(State::Connecting);
        return;
    }
    startPunching(false);
}

void Friend::retarget()
{
    if (!m_puncher || !m_puncher->isActive() || m_link || !m_proofs.isEmpty())
        return;
    if (m_retargeted.isValid() && m_retargeted.elapsed() < RetargetIntervalMs) {
        if (!m_retargetQueued) {
            m_retargetQueued = true;
            QTimer::singleShot(int(RetargetIntervalMs - m_retargeted.elapsed()), this, [this] {
                m_retargetQueued = false;
                retarget();
            });
        }
        return;
    }
    m_retargeted.start();
    log(QStringLiteral("new addresses from the friend finder"));
    startPunching(m_healing);
}

bool Friend::recordDropsRemote(const PeerTargets &record, const Endpoint &remote, PathKind path)
{
    if (path != PathKind::Direct && path != PathKind::Mapped)
        return false; // a relay's address is the TURN server's; a LAN path skips the NAT
    if (!remote.isValid() || (record.direct.isEmpty() && record.mapped.isEmpty()))
        return false;
    return !record.direct.contains(remote) && !record.mapped.contains(remote);
}

int Friend::linkCheckMs(int rttMs)
{
    return qBound(LinkCheckMinMs, 2 * qMax(0, rttMs) + 1000, LinkCheckMaxMs);
}

void Friend::checkLink(const QString &why)
{
    if (m_state != State::Connected || !m_link || !m_session)
        return;
    const int withinMs = linkCheckMs(m_rttMs);
    log(QStringLiteral("%1: checking the link (an answer is due within %2 ms)")
            .arg(why)
            .arg(withinMs));
    m_session->checkAlive(withinMs);
}

void Friend::checkRecord(const PeerTargets &record)
{
    if (m_state != State::Connected || !recordDropsRemote(record, m_remote, m_path))
        return;
    checkLink(QStringLiteral("the friend's new record no longer has %1").arg(m_remote.toString()));
}

void Friend::ourAddressChanged(bool addressChanged)
{
    if (m_state != State::Connected || !m_link)
        return;
    if (!addressChanged || m_path == PathKind::Lan) {
        // Only the port moved (the NAT may have given the STUN connection another one while our
        // flows live on), or a path that never crossed the NAT: ask rather than cut.
        checkLink(QStringLiteral("our public address changed"));
        return;
    }
    onLinkLost({ ErrorCode::PeerLost,
        QStringLiteral("our public address changed: the connection through the old one is "
                       "gone") });
}

void Friend::refuse(const Error &e)
{
    if (m_state == State::Connected || m_link)
        return;
    fail(e);
}

void Friend::setPresence(bool online, const QDateTime &since)
{
    if (online == m_online && m_presenceSince.isValid())
        return;
    m_online = online;
    m_presenceSince = since.isValid() ? since : QDateTime::currentDateTimeUtc();
    log(online ? QStringLiteral("is online") : QStringLiteral("went offline"));
    Q_EMIT infoChanged();
}

void Friend::discoveryReady()
{
    m_discovered = true;
    if (m_wantPunch) {
        m_wantPunch = false;
        startPunching(m_healing);
    }
}

void Friend::startPunching(bool healing)
{
    stopPunching();
    if (m_targets.isEmpty()) {
        fail({ ErrorCode::BadCode,
            QStringLiteral("no known addresses for this friend: ask for a new code") });
        return;
    }
    Puncher::Config c;
    c.localPort = m_ctx.port;
    c.candidates = m_targets.direct + m_targets.mapped;
    if (healing && m_remote.isValid() && !c.candidates.contains(m_remote))
        c.candidates.prepend(m_remote);
    // Relays after a head start: a direct path, when there is one, wins.
    for (const Endpoint &e : std::as_const(m_targets.relays)) {
        if (!c.candidates.contains(e))
            c.laterCandidates.append(e);
    }
    c.laterAfterMs = RelayHeadStartMs;
    c.ourFingerprint = m_ctx.identity->fingerprint();
    c.expectedPeerFingerprint = m_fingerprint;
    c.attemptTimeoutMs = m_ctx.settings.attemptTimeoutMs;
    c.retryIntervalMs = m_ctx.settings.retryIntervalMs;
    c.backoff = healing;
    c.deadlineMs = healing ? m_ctx.settings.reconnectWindowMs : m_ctx.settings.connectTimeoutMs;
    if (m_deadlineMs >= 0 && !healing)
        c.deadlineMs = c.deadlineMs > 0 ? qMin(c.deadlineMs, m_deadlineMs) : m_deadlineMs;
    c.lowTtl = m_ctx.settings.lowTtl;
    m_reported.clear();
    m_healing = healing;
    m_puncher = new Puncher(c, this);
    connect(m_puncher, &Puncher::progress, this, &Friend::connectProgress);
    connect(m_puncher, &Puncher::pathRejected, this, [this](const Error &e) {
        log(QStringLiteral("path rejected: %1").arg(e.message));
        if (e.code == ErrorCode::PeerIdentityMismatch || e.code == ErrorCode::NotPunchline)
            reportOnce(e, {});
    });
    connect(m_puncher, &Puncher::nominated, this, &Friend::onNominated);
    connect(m_puncher, &Puncher::failed, this, &Friend::onPunchFailed);
    setState(healing ? State::Reconnecting : State::Connecting);
    log(QStringLiteral("%1 %2 candidate(s)%3")
            .arg(healing ? QStringLiteral("reconnecting to") : QStringLiteral("punching"))
            .arg(c.candidates.size())
            .arg(c.laterCandidates.isEmpty() ? QString()
                                             : QStringLiteral(", %1 relay(s) after %2 ms")
                                                   .arg(c.laterCandidates.size())
                                                   .arg(RelayHeadStartMs)));
    m_puncher->start();
}

void Friend::dropProof(Proof *p)
{
    m_proofs.removeOne(p);
    p->handshake->disconnect(this);
    p->handshake->deleteLater();
    p->socket->abort();
    p->socket->deleteLater();
    delete p;
}

void Friend::abortProofs()
{
    while (!m_proofs.isEmpty())
        dropProof(m_proofs.first());
}

void Friend::stopPunching()
{
    m_wantPunch = false;
    stopUpgrade();
    abortProofs();
    if (m_puncher) {
        m_puncher->disconnect(this);
        m_puncher->stop();
        m_puncher->deleteLater();
        m_puncher = nullptr;
    }
}

bool Friend::offerIncoming(QSslSocket *socket, const QByteArray &claimedFingerprint)
{
    // Only while punching: once a session is up, nothing but its own link carries it (a second
    // connection claiming the friend, proven or not, never replaces it), and a friend who is not
    // being reached expects nobody.
    bool fromCandidate = !m_fingerprint.isEmpty();
    if (!fromCandidate) {
        // Trust on first use trusts the addresses the user typed, not whoever calls first.
        const QHostAddress from = normalizedAddress(socket->peerAddress());
        for (const Endpoint &c : m_targets.all())
            fromCandidate = fromCandidate || normalizedAddress(c.address) == from;
    }
    if (m_upgrade && m_link
        && !(m_ctx.isRelayServer
            && m_ctx.isRelayServer(
                Endpoint { normalizedAddress(socket->peerAddress()), socket->peerPort() }))) {
        // On a relay: the friend's direct connection may take the session over.
        m_upgrade->addIncoming(socket, claimedFingerprint);
        return true;
    }
    if (!m_puncher || !m_puncher->isActive() || m_link || !fromCandidate) {
        socket->abort();
        socket->deleteLater();
        return false;
    }
    m_puncher->addIncoming(socket, claimedFingerprint);
    return true;
}

void Friend::onNominated(const Puncher::Nomination &n)
{
    if (m_link) {
        // A session is up: a stale nomination changes nothing.
        n.socket->abort();
        n.socket->deleteLater();
        return;
    }
    // One proof per host (the newest: a friend reconnecting from there), and the oldest gives
    // way when all are taken, so connections that stall their TLS cannot hold the friend out.
    for (Proof *p : std::as_const(m_proofs)) {
        if (p->how.remote.address == n.remote.address) {
            noteStranger(QStringLiteral("%1 opened another connection while its proof ran")
                             .arg(n.remote.address.toString()));
            dropProof(p);
            break;
        }
    }
    if (m_proofs.size() >= MaxProofs) {
        noteStranger(QStringLiteral("the proof of %1 gave way to a newer connection")
                         .arg(m_proofs.first()->how.remote.address.toString()));
        dropProof(m_proofs.first());
    }
    setState(State::Securing);
    auto *proof = new Proof;
    makeProof(proof, n, !m_fingerprint.isEmpty() ? m_fingerprint : n.peerFingerprint);
    m_proofs.append(proof);
    connect(proof->handshake, &TlsHandshake::succeeded, this,
        [this, proof](const QByteArray &fp) { onProven(proof, fp); });
    connect(proof->handshake, &TlsHandshake::failed, this,
        [this, proof](const Error &e) { onProofFailed(proof, e); });
    // The puncher keeps taking connections meanwhile (dialing waits): if this one is an
    // outsider's, the friend's own connection still gets its proof.
    proof->handshake->start();
}

TlsHandshake *Friend::makeProof(Proof *proof, const Puncher::Nomination &n, const QByteArray &pin)
{
    n.socket->setParent(this);
    proof->socket = n.socket;
    proof->how = n;
    proof->handshake
        = new TlsHandshake(n.socket, *m_ctx.identity, n.tlsServer, pin, ProofTimeoutMs, this);
    TlsHandshake::Fold fold;
    fold.readPeerPreamble = n.readPeerPreamble;
    fold.awaitAnswer = n.awaitAnswer;
    fold.skipPeerOffer = n.skipPeerOffer;
    proof->handshake->setFold(fold);
    // A pinned friend's session exists before the proof: if we end up serving TLS, our hello
    // rides with the server's flight (0.5-RTT data; it holds nothing the code does not show).
    ensureSession();
    if (m_session && !m_fingerprint.isEmpty())
        proof->handshake->setHalfRttData(encodeFrame(FrameType::Hello, m_session->helloPayload()));
    return proof->handshake;
}

void Friend::onProofFailed(Proof *proof, const Error &e)
{
    if (!m_proofs.contains(proof))
        return;
    const Endpoint remote = proof->how.remote;
    dropProof(proof);
    log(QStringLiteral("secure handshake with %1 failed: %2").arg(remote.toString(), e.message));
    // Someone at this address could not prove to be the friend (or is another program): that
    // connection is closed, reported once per host and kind (never with the sender's bytes, so
    // an outsider cannot make each report new), and the attempt goes on.
    Error shown = e;
    if (e.code == ErrorCode::PeerIdentityMismatch)
        shown.message = QStringLiteral("someone at %1 claimed to be this friend but could not "
                                       "prove it: that connection was closed")
                            .arg(remote.address.toString());
    else
        shown.message = QStringLiteral("a connection from %1 failed the secure handshake (%2)")
                            .arg(remote.address.toString(), errorCodeName(e.code));
    reportOnce(shown, remote.address);
    if (m_proofs.isEmpty() && !m_link && m_puncher) {
        setState(m_healing ? State::Reconnecting : State::Connecting);
        m_puncher->resume();
    }
}

void Friend::onProven(Proof *proof, const QByteArray &fp)
{
    if (!m_proofs.removeOne(proof))
        return;
    TlsStream *stream = proof->handshake->takeStream();
    const bool helloSent = proof->handshake->halfRttSent();
    const Puncher::Nomination how = proof->how;
    proof->handshake->disconnect(this);
    proof->handshake->deleteLater();
    proof->socket->deleteLater(); // its descriptor went to the handshake
    delete proof;
    if (!stream)
        return;
    stream->setParent(this);
    // The first proof wins; every other connection still being proven is closed before anything
    // else can happen, so a stale handshake never touches the session.
    stopPunching();
    if (m_fingerprint.isEmpty()) {
        const Resolution r = m_ctx.resolveIdentity ? m_ctx.resolveIdentity(this, fp, stream, how)
                                                   : Resolution::Adopt;
        if (r == Resolution::HandedOver)
            return; // the engine deletes this attempt
        if (r == Resolution::Refuse) {
            delete stream;
            return;
        }
        m_fingerprint = fp;
        // Everything from here on is under the proven fingerprint: say where we are again.
        Q_EMIT stateChanged(m_state);
        Q_EMIT infoChanged();
    } else if (fp != m_fingerprint) {
        // TlsHandshake pins it; this cannot happen, but never attach an unproven identity.
        delete stream;
        return;
    }
    attach(stream, how, helloSent);
}

void Friend::takeProven(TlsStream *stream, const Puncher::Nomination &how)
{
    stopPunching();
    if (m_link) {
        delete stream;
        return;
    }
    m_sinceCode.start();
    attach(stream, how);
}

void Friend::attach(TlsStream *stream, const Puncher::Nomination &how, bool helloSent)
{
    stream->setParent(this);
    m_local = how.local;
    m_remote = how.remote;
    m_path = pathFor(how.remote);
    Net::enableKeepAlive(stream->fd(), 30, 10, 3);
    Net::setNotSentLowWater(stream->fd(), 128 * 1024);
    Net::preferLossBasedCongestionControl(stream->fd());
    ensureSession();
    setState(State::Securing);
    m_link = new TlsLink(stream, this);
    connect(m_link, &Link::closed, this, [this, l = m_link](const Error &why) {
        if (l == m_link)
            onLinkLost(why);
    });
    m_session->attachLink(m_link, helloSent);
    log(QStringLiteral("secure link %1").arg(m_link->describe()));
}

PathKind Friend::pathFor(const Endpoint &remote) const
{
    if (m_targets.relays.contains(remote) || (m_ctx.isRelayServer && m_ctx.isRelayServer(remote)))
        return PathKind::Relay;
    if (m_targets.mapped.contains(remote))
        return PathKind::Mapped;
    return onLocalSubnet(remote.address) ? PathKind::Lan : PathKind::Direct;
}

void Friend::startUpgrade()
{
    stopUpgrade();
    Puncher::Config c;
    c.localPort = m_ctx.port;
    c.candidates = m_targets.direct + m_targets.mapped;
    if (c.candidates.isEmpty() || m_fingerprint.isEmpty())
        return;
    c.ourFingerprint = m_ctx.identity->fingerprint();
    c.expectedPeerFingerprint = m_fingerprint;
    c.attemptTimeoutMs = m_ctx.settings.attemptTimeoutMs;
    c.retryIntervalMs = UpgradeRetryMs;
    c.maxRetryIntervalMs = UpgradeMaxRetryMs;
    c.backoff = true;
    m_upgrade = new Puncher(c, this);
    connect(m_upgrade, &Puncher::nominated, this, &Friend::onUpgradeNominated);
    log(QStringLiteral("on a relay: still looking for a direct path (%1 candidate(s))")
            .arg(c.candidates.size()));
    m_upgrade->start();
}

void Friend::stopUpgrade()
{
    while (!m_upgradeProofs.isEmpty())
        dropUpgradeProof(m_upgradeProofs.first());
    if (m_upgrade) {
        m_upgrade->disconnect(this);
        m_upgrade->stop();
        m_upgrade->deleteLater();
        m_upgrade = nullptr;
    }
}

void Friend::dropUpgradeProof(Proof *p)
{
    m_upgradeProofs.removeOne(p);
    p->handshake->disconnect(this);
    p->handshake->deleteLater();
    p->socket->abort();
    p->socket->deleteLater();
    delete p;
}

void Friend::onUpgradeNominated(const Puncher::Nomination &n)
{
    // One proof at a time (per host the newest), MaxProofs in all, as for the first connection.
    for (Proof *p : std::as_const(m_upgradeProofs)) {
        if (p->how.remote.address == n.remote.address) {
            dropUpgradeProof(p);
            break;
        }
    }
    if (m_upgradeProofs.size() >= MaxProofs)
        dropUpgradeProof(m_upgradeProofs.first());
    auto *proof = new Proof;
    makeProof(proof, n, m_fingerprint);
    m_upgradeProofs.append(proof);
    connect(proof->handshake, &TlsHandshake::succeeded, this,
        [this, proof](const QByteArray &fp) { onUpgradeProven(proof, fp); });
    connect(proof->handshake, &TlsHandshake::failed, this, [this, proof](const Error &e) {
        if (!m_upgradeProofs.contains(proof))
            return;
        log(QStringLiteral("direct path to %1 did not prove the friend: %2")
                .arg(proof->how.remote.toString(), e.message));
        dropUpgradeProof(proof);
        if (m_upgrade)
            m_upgrade->resume();
    });
    proof->handshake->start();
}

void Friend::onUpgradeProven(Proof *proof, const QByteArray &fp)
{
    if (!m_upgradeProofs.removeOne(proof))
        return;
    TlsStream *stream = proof->handshake->takeStream();
    const bool helloSent = proof->handshake->halfRttSent();
    const Puncher::Nomination how = proof->how;
    proof->handshake->disconnect(this);
    proof->handshake->deleteLater();
    proof->socket->deleteLater(); // its descriptor went to the handshake
    delete proof;
    stopUpgrade();
    if (!stream)
        return;
    if (fp != m_fingerprint || !m_link) {
        delete stream;
        return;
    }
    // The session moves over: anything in flight on the relayed link is sent again from the
    // outbox after the new hello, and transfers resume from what arrived. The relayed link is
    // closed only after the friend's own proof of the direct connection had time to end: closing
    // it at once would make the friend heal instead of move.
    log(QStringLiteral("a direct path to %1 works: leaving the relay").arg(how.remote.toString()));
    TlsLink *old = m_link;
    m_link = nullptr;
    old->disconnect(this);
    m_session->detachLink();
    QTimer::singleShot(ProofTimeoutMs, old, [old] {
        old->abortNow();
        old->deleteLater();
    });
    m_healing = true; // the connected event says "resumed"
    m_sinceCode.start();
    attach(stream, how, helloSent);
}

void Friend::onPunchFailed(Error e)
{
    m_puncher->deleteLater();
    m_puncher = nullptr;
    abortProofs();
    if (m_healing && e.code == ErrorCode::ConnectTimeout)
        e = { ErrorCode::ReconnectTimeout,
            QStringLiteral("the connection was lost and could not be restored within %1 s")
                .arg(m_ctx.settings.reconnectWindowMs / 1000) };
    const bool found = m_deadlineMs == FoundAttemptMs && !m_healing;
    fail(e);
    // An attempt the friend finder started failed, but the friend's record still says it is
    // online: try again a few times (both apps restarted at once leave the last 4-tuple in
    // TIME_WAIT for up to 60 s, which can hold the first attempt off).
    if (found && m_online && !m_userClosed && m_foundRetries < MaxFoundRetries) {
        ++m_foundRetries;
        QTimer::singleShot(FoundRetryMs, this, [this] {
            if (m_online && !m_userClosed && !isActive()) {
                const int retries = m_foundRetries;
                connectFound();
                m_foundRetries = retries;
            }
        });
    }
}

void Friend::fail(const Error &e)
{
    log(QStringLiteral("error: %1").arg(e.message));
    stopPunching();
    m_healing = false;
    m_lastError = e;
    // The reason first: whoever reacts to Failed (the CLI exits on it) already has it.
    Q_EMIT errorOccurred(e);
    setState(State::Failed);
}

void Friend::reportOnce(const Error &e, const QHostAddress &host)
{
    // Keyed by kind and host, or (for our own dials, whose address is the candidate's) by the
    // message; past a few distinct ones the rest only count in the strangers' summary.
    const QString key
        = errorCodeName(e.code) + QLatin1Char('|') + (host.isNull() ? e.message : host.toString());
    if (m_reported.contains(key))
        return;
    if (m_reported.size() >= MaxReports) {
        noteStranger(e.message);
        return;
    }
    m_reported.insert(key);
    Q_EMIT errorOccurred(e);
}

void Friend::noteStranger(const QString &detail)
{
    if (m_ctx.noteStranger)
        m_ctx.noteStranger(detail);
}

void Friend::onSessionUp(const QString &peerName)
{
    ConnectionInfo info;
    info.path = m_path;
    info.local = m_local;
    info.remote = m_remote;
    info.elapsedMs = m_sinceCode.isValid() ? m_sinceCode.elapsed() : 0;
    info.peerName = peerName;
    info.peerFingerprint = m_fingerprint;
    info.peerPinnedByCode = m_pinnedByCode;
    info.resumed = m_healing;
    info.via = m_via;
    m_healing = false;
    m_deadlineMs = -1;
    m_lastError = {};
    m_allDone = false; // a new session runs the "done" handshake again
    if (!peerName.isEmpty())
        m_name = peerName;
    m_lastSeen = QDateTime::currentDateTimeUtc();
    m_foundRetries = 0;
    if (!m_online) {
        m_online = true; // connected is online, whatever the friend finder last said
        m_presenceSince = m_lastSeen;
    }
    rememberPeer(peerName);
    log(QStringLiteral("connected (%1) in %2 ms").arg(pathName(info.path)).arg(info.elapsedMs));
    if (m_path == PathKind::Relay)
        startUpgrade();
    // Details first: whoever sees the Connected state already has the ConnectionInfo.
    Q_EMIT connected(info);
    setState(State::Connected);
}

void Friend::rememberPeer(const QString &peerName)
{
    if (!m_ctx.knownPeers)
        return;
    KnownPeer kp;
    kp.fingerprint = m_fingerprint;
    kp.name = peerName;
    kp.candidates = m_targets.direct;
    // Only an address that answered as this proven friend is remembered for it.
    if (m_remote.isValid() && !kp.candidates.contains(m_remote))
        kp.candidates.prepend(m_remote);
    kp.lastSeen = m_lastSeen;
    kp.pinnedByCode = m_pinnedByCode;
    m_ctx.knownPeers->remember(kp);
    Error saveError;
    if (!m_ctx.knownPeers->save(&saveError))
        log(QStringLiteral("could not remember this friend: %1").arg(saveError.message));
}

void Friend::onLinkLost(const Error &why)
{
    if (!m_link)
        return;
    TlsLink *old = m_link;
    m_link = nullptr;
    old->disconnect(this);
    if (m_session)
        m_session->detachLink();
    old->abortNow(); // RST, no TIME_WAIT: the same 4-tuple is punched again right away
    old->deleteLater();
    if (m_state == State::Connected)
        m_lastSeen = QDateTime::currentDateTimeUtc();
    if (why.code == ErrorCode::PeerClosed) {
        m_lastError = {};
        setState(State::Disconnected);
        Q_EMIT disconnected(why);
        return;
    }
    log(QStringLiteral("link lost: %1").arg(why.message));
    Q_EMIT disconnected(why);
    if (why.code == ErrorCode::ProtocolError) {
        // The proven friend's program broke the protocol: healing would only repeat it.
        fail(why);
        return;
    }
    m_sinceCode.start();
    startPunching(true);
}

void Friend::cancel()
{
    stopPunching();
    if (m_link && m_state != State::Connected) {
        // Proven but the hello is still on its way: the user said stop, so stop.
        TlsLink *link = m_link;
        m_link = nullptr;
        link->disconnect(this);
        if (m_session)
            m_session->detachLink();
        link->abortNow();
        link->deleteLater();
    }
    if (m_state == State::Connecting || m_state == State::Reconnecting
        || m_state == State::Securing) {
        m_healing = false;
        setState(State::Idle);
    }
}

void Friend::disconnectByUser()
{
    m_userClosed = true;
    stopPunching();
    m_healing = false;
    if (m_link) {
        // Bye, then a graceful close (the friend must hear the Bye, or it would start healing);
        // the link is deleted once it has closed.
        TlsLink *link = m_link;
        m_link = nullptr;
        link->disconnect(this);
        connect(link, &Link::closed, link, &QObject::deleteLater);
        m_session->close(QStringLiteral("closed by the user"));
        m_lastSeen = QDateTime::currentDateTimeUtc();
        setState(State::Disconnected);
        Q_EMIT disconnected({});
    } else if (m_state != State::Idle) {
        setState(State::Disconnected);
    }
}

void Friend::shutdown(int timeoutMs)
{
    if (m_link && m_session) {
        // Leaving on purpose: the friend should hear Bye (and any last Done) rather than see the
        // link die and start healing.
        TlsLink *link = m_link;
        m_link = nullptr;
        link->disconnect(this);
        m_session->sendBye();
        m_session->detachLink();
        // A direct path is closed with a RST once the Bye is acknowledged (no TIME_WAIT for a
        // restart to run into); a relayed one gracefully, so the TURN server passes all on.
        link->flushAndClose(timeoutMs, m_path != PathKind::Relay);
        link->deleteLater();
    }
    stopPunching();
}

QString Friend::sendChat(const QString &id, const QString &text, Error *error)
{
    ensureSession();
    if (!m_session) {
        *error = { ErrorCode::BadUsage,
            QStringLiteral("this friend is not connected yet: wait until it is") };
        return {};
    }
    m_allDone = false;
    return m_session->sendChat(id, text, error) ? id : QString();
}

bool Friend::sendPaths(const QString &transferId, const QStringList &paths, Error *error)
{
    ensureSession();
    if (!m_transfers) {
        *error = { ErrorCode::BadUsage,
            QStringLiteral("this friend is not connected yet: wait until it is") };
        return false;
    }
    m_allDone = false;
    return !m_transfers->offerPaths(transferId, paths, error).isEmpty();
}

void Friend::acceptTransfer(const QString &transferId, bool accept)
{
    if (!m_transfers)
        return;
    if (accept)
        m_transfers->accept(transferId);
    else
        m_transfers->decline(transferId);
}

void Friend::cancelTransfer(const QString &transferId)
{
    if (m_transfers)
        m_transfers->cancel(transferId);
}

void Friend::requestDone()
{
    m_doneRequested = true;
    if (m_session)
        m_session->requestDone();
}

void Friend::applySettings(const Settings &settings)
{
    m_ctx.settings = settings;
    if (m_transfers) {
        m_transfers->setDownloadDir(settings.downloadDir);
        m_transfers->setAcceptPolicy(settings.accept);
    }
    if (m_session) {
        m_session->setKeepalive(settings.keepaliveIntervalMs, settings.peerSilentLimitMs);
        m_session->setDisplayName(settings.displayName);
    }
}

} // namespace Punchline
