#include "engine.h"

#include "common/logging.h"
#include "discovery/discovery.h"
#include "identity/identity.h"
#include "identity/knownpeers.h"
#include "identity/peercode.h"
#include "identity/profilesettings.h"
#include "net/nativesocket.h"
#include "net/sharedportserver.h"
#include "punch/puncher.h"
#include "session/session.h"
#include "session/tlshandshake.h"
#include "session/tlslink.h"
#include "transfer/transfermanager.h"

#include <QDir>
#include <QNetworkInterface>
#include <QSet>
#include <QSslSocket>
#include <QThread>

namespace Punchline {

namespace {

// Runs a function with the engine's thread check: every entry point is on the network thread.
#define ASSERT_NETWORK_THREAD() Q_ASSERT(QThread::currentThread() == thread())

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

QString defaultDisplayName()
{
    const QString user = qEnvironmentVariable("USER", qEnvironmentVariable("USERNAME"));
    return user.isEmpty() ? QStringLiteral("Friend") : user;
}

} // namespace

struct Engine::Private
{
    Engine *q = nullptr;
    Settings settings;
    State state = State::Idle;
    std::optional<Identity> identity;
    std::unique_ptr<ProfileSettings> profile;
    std::unique_ptr<KnownPeers> knownPeers;
    QList<Net::SharedPortServer *> listeners;
    quint16 port = 0;
    Discovery *discovery = nullptr;
    bool discoveryDone = false;
    LocalInfo localInfo;

    // The peer we are trying to reach / are connected to.
    bool haveTarget = false;
    QList<Endpoint> targetCandidates;
    QByteArray pinnedFingerprint; // from the code; empty = trust on first use
    QString targetName;
    QElapsedTimer sinceCode; // from "peer code available" to usable session
    bool reconnecting = false;
    bool userDisconnected = false;
    Endpoint lastRemote;
    PathKind lastPath = PathKind::Direct;
    Endpoint lastLocal;
    QByteArray peerFingerprint; // proven by TLS
    bool everConnected = false;

    Puncher *puncher = nullptr;
    TlsHandshake *handshake = nullptr;
    TlsLink *link = nullptr;
    Session *session = nullptr;
    TransferManager *transfers = nullptr;
    Error lastPathError;
    QSet<QString> reportedPathErrors;

    void setState(State s)
    {
        if (state == s)
            return;
        state = s;
        qCInfo(lcEngine) << "state" << stateName(s);
        Q_EMIT q->stateChanged(s);
    }

    void log(const QString &line)
    {
        qCInfo(lcEngine) << line;
        Q_EMIT q->logLine(line);
    }

    void fatal(const Error &e)
    {
        log(QStringLiteral("error: %1").arg(e.message));
        stopPunching();
        // The reason first: whoever reacts to Failed (the CLI exits on it) already has it.
        Q_EMIT q->errorOccurred(e);
        setState(State::Failed);
    }

    bool openListeners(quint16 wanted, Error *error)
    {
        const auto v4 = Net::openListener(QAbstractSocket::IPv4Protocol, wanted);
        if (!v4.ok()) {
            *error = { v4.err == EADDRINUSE ? ErrorCode::PortInUse : ErrorCode::SocketError,
                v4.message };
            return false;
        }
        port = Net::localPort(v4.fd);
        addListener(v4.fd);
        // IPv6 on the same port when the machine has it; IPv4 alone is fine otherwise.
        const auto v6 = Net::openListener(QAbstractSocket::IPv6Protocol, port);
        if (v6.ok())
            addListener(v6.fd);
        return true;
    }

    void addListener(qintptr fd)
    {
        auto *server = new Net::SharedPortServer(q);
        server->setSocketDescriptor(fd);
        QObject::connect(server, &Net::SharedPortServer::incoming, q, [this](qintptr incoming) {
            if (puncher && puncher->isActive())
                puncher->addIncoming(incoming);
            else
                Net::closeFd(incoming); // not punching: nobody is expected
        });
        listeners.append(server);
    }

    void startDiscovery()
    {
        discovery = new Discovery(port, settings.stunServers, settings.ipEchoUrl,
            settings.discoveryTimeoutMs, settings.localAddresses, q);
        QObject::connect(discovery, &Discovery::finished, q,
            [this](const DiscoveryResult &r) { onDiscovered(r); });
        discovery->start();
    }

    void onDiscovered(const DiscoveryResult &r)
    {
        discoveryDone = true;
        localInfo.port = port;
        localInfo.local = r.local;
        localInfo.publicEndpoint = r.publicEndpoint;
        localInfo.publicSource = r.publicSource;
        localInfo.publicPortGuessed = r.portGuessed;
        localInfo.nat = r.nat;
        localInfo.explanation = r.explanation;
        localInfo.displayName = profile->displayName();
        localInfo.fingerprint = identity->fingerprint();
        PeerCode code;
        code.name = localInfo.displayName;
        code.fingerprint = localInfo.fingerprint;
        if (r.publicEndpoint)
            code.candidates.append(*r.publicEndpoint);
        for (const Endpoint &e : r.local) {
            if (!code.candidates.contains(e))
                code.candidates.append(e);
        }
        localInfo.code = code.encode();
        log(QStringLiteral("ready: public %1 via %2, NAT %3")
                .arg(r.publicEndpoint ? r.publicEndpoint->toString() : QStringLiteral("unknown"),
                    publicSourceName(r.publicSource), natName(r.nat)));
        if (state == State::Discovering)
            setState(State::Ready);
        Q_EMIT q->localInfoReady(localInfo);
        if (haveTarget && !puncher && !session->hasLink())
            startPunching(false);
    }

    void startPunching(bool healing)
    {
        stopPunching();
        Puncher::Config c;
        c.localPort = port;
        c.candidates = targetCandidates;
        if (healing && lastRemote.isValid() && !c.candidates.contains(lastRemote))
            c.candidates.prepend(lastRemote);
        c.ourFingerprint = identity->fingerprint();
        c.expectedPeerFingerprint
            = !pinnedFingerprint.isEmpty() ? pinnedFingerprint : peerFingerprint;
        c.attemptTimeoutMs = settings.attemptTimeoutMs;
        c.retryIntervalMs = settings.retryIntervalMs;
        c.backoff = healing;
        c.deadlineMs = healing ? settings.reconnectWindowMs : settings.connectTimeoutMs;
        c.lowTtl = settings.lowTtl;
        lastPathError = {};
        reportedPathErrors.clear();
        puncher = new Puncher(c, q);
        QObject::connect(puncher, &Puncher::progress, q, &Engine::connectProgress);
        QObject::connect(puncher, &Puncher::pathRejected, q, [this](const Error &e) {
            log(QStringLiteral("path rejected: %1").arg(e.message));
            if (e.code == ErrorCode::PeerIdentityMismatch || e.code == ErrorCode::NotPunchline)
                reportPathError(e);
        });
        QObject::connect(puncher, &Puncher::nominated, q,
            [this](const Puncher::Nomination &n) { onNominated(n); });
        QObject::connect(
            puncher, &Puncher::failed, q, [this](const Error &e) { onPunchFailed(e); });
        setState(healing ? State::Reconnecting : State::Connecting);
        log(QStringLiteral("%1 %2 candidate(s)")
                .arg(healing ? QStringLiteral("reconnecting to") : QStringLiteral("punching"))
                .arg(c.candidates.size()));
        puncher->start();
    }

    // The friend to reach from now on (pinned: from a code or the known peers; empty: trust on
    // first use). Punching starts now, or as soon as discovery is done.
    void setTarget(const QList<Endpoint> &candidates, const QByteArray &pinned, const QString &name)
    {
        sinceCode.start();
        haveTarget = true;
        userDisconnected = false;
        reconnecting = false;
        targetCandidates = candidates;
        pinnedFingerprint = pinned;
        targetName = name;
        if (discoveryDone)
            startPunching(false);
    }

    // A path that leads to the wrong program is reported once per attempt, not at every retry.
    void reportPathError(const Error &e)
    {
        const QString key = errorCodeName(e.code) + QLatin1Char('|') + e.message;
        if (reportedPathErrors.contains(key))
            return;
        reportedPathErrors.insert(key);
        Q_EMIT q->errorOccurred(e);
    }

    void stopPunching()
    {
        if (handshake) {
            handshake->disconnect(q);
            handshake->deleteLater();
            handshake = nullptr;
        }
        if (puncher) {
            puncher->disconnect(q);
            puncher->stop();
            puncher->deleteLater();
            puncher = nullptr;
        }
    }

    void onPunchFailed(Error e)
    {
        if (lastPathError.code == ErrorCode::PeerIdentityMismatch)
            e = lastPathError;
        else if (e.code == ErrorCode::ConnectTimeout && localInfo.nat == NatKind::EndpointDependent)
            e = { ErrorCode::SymmetricNat,
                QStringLiteral("your NAT changes ports per destination (symmetric): a direct "
                               "connection is not possible from this network") };
        if (reconnecting && e.code == ErrorCode::ConnectTimeout)
            e = { ErrorCode::ReconnectTimeout,
                QStringLiteral("the connection was lost and could not be restored within %1 s")
                    .arg(settings.reconnectWindowMs / 1000) };
        puncher->deleteLater();
        puncher = nullptr;
        fatal(e);
    }

    void onNominated(const Puncher::Nomination &n)
    {
        setState(State::Securing);
        lastRemote = n.remote;
        lastLocal = n.local;
        lastPath = onLocalSubnet(n.remote.address) ? PathKind::Lan : PathKind::Direct;
        n.socket->setParent(q);
        Net::enableKeepAlive(n.socket->socketDescriptor(), 30, 10, 3);
        Net::setNotSentLowWater(n.socket->socketDescriptor(), 128 * 1024);
        const QByteArray expected
            = !pinnedFingerprint.isEmpty() ? pinnedFingerprint : n.peerFingerprint;
        handshake = new TlsHandshake(n.socket, *identity, n.tlsServer, expected, 10000, q);
        QObject::connect(handshake, &TlsHandshake::succeeded, q,
            [this, socket = n.socket](const QByteArray &fp) {
                handshake->deleteLater();
                handshake = nullptr;
                onSecured(socket, fp);
            });
        QObject::connect(
            handshake, &TlsHandshake::failed, q, [this, socket = n.socket](const Error &e) {
                handshake->deleteLater();
                handshake = nullptr;
                socket->abort();
                socket->deleteLater();
                log(QStringLiteral("secure handshake failed: %1").arg(e.message));
                lastPathError = e;
                if (e.code == ErrorCode::PeerIdentityMismatch) {
                    // Someone else proved (by TLS) to hold another identity at the friend's
                    // address. Do not keep talking to it: this ends the attempt.
                    fatal(e);
                    return;
                }
                reportPathError(e);
                if (puncher) {
                    setState(reconnecting ? State::Reconnecting : State::Connecting);
                    puncher->resume();
                }
            });
        handshake->start();
    }

    void onSecured(QSslSocket *socket, const QByteArray &fp)
    {
        if (!peerFingerprint.isEmpty() && fp != peerFingerprint && !reconnecting) {
            // A different friend than the session so far: start a fresh conversation.
            session->reset();
        }
        peerFingerprint = fp;
        if (puncher) {
            puncher->disconnect(q);
            puncher->stop();
            puncher->deleteLater();
            puncher = nullptr;
        }
        link = new TlsLink(socket, q);
        QObject::connect(
            link, &Link::closed, q, [this, l = link](const Error &why) { onLinkClosed(l, why); });
        session->attachLink(link);
        log(QStringLiteral("secure link %1").arg(link->describe()));
    }

    void onSessionUp(const QString &peerName)
    {
        ConnectionInfo info;
        info.path = lastPath;
        info.local = lastLocal;
        info.remote = lastRemote;
        info.elapsedMs = sinceCode.isValid() ? sinceCode.elapsed() : 0;
        info.peerName = peerName;
        info.peerFingerprint = peerFingerprint;
        info.peerPinnedByCode = !pinnedFingerprint.isEmpty();
        info.resumed = reconnecting;
        reconnecting = false;
        everConnected = true;

        KnownPeer kp;
        kp.fingerprint = peerFingerprint;
        kp.name = peerName;
        kp.candidates = targetCandidates;
        if (lastRemote.isValid() && !kp.candidates.contains(lastRemote))
            kp.candidates.prepend(lastRemote);
        kp.lastSeen = QDateTime::currentDateTimeUtc();
        kp.pinnedByCode = info.peerPinnedByCode;
        knownPeers->remember(kp);
        Error saveError;
        if (!knownPeers->save(&saveError))
            log(QStringLiteral("could not remember this peer: %1").arg(saveError.message));
        log(QStringLiteral("connected to %1 (%2) in %3 ms")
                .arg(peerName, pathName(info.path))
                .arg(info.elapsedMs));
        // Details first: whoever sees the Connected state already has the ConnectionInfo.
        Q_EMIT q->connected(info);
        setState(State::Connected);
    }

    void onLinkClosed(TlsLink *closedLink, const Error &why)
    {
        if (closedLink != link)
            return;
        onLinkLost(why);
    }

    void onLinkLost(const Error &why)
    {
        if (!link)
            return;
        TlsLink *old = link;
        link = nullptr;
        old->disconnect(q);
        session->detachLink();
        old->abortNow(); // RST, no TIME_WAIT: the same 4-tuple is punched again right away
        old->deleteLater();
        if (userDisconnected || why.code == ErrorCode::PeerClosed) {
            setState(State::Disconnected);
            Q_EMIT q->disconnected(why);
            return;
        }
        log(QStringLiteral("link lost: %1").arg(why.message));
        Q_EMIT q->disconnected(why);
        if (why.code == ErrorCode::PeerIdentityMismatch || why.code == ErrorCode::ProtocolError) {
            fatal(why);
            return;
        }
        reconnecting = true;
        sinceCode.start();
        startPunching(true);
    }
};

Engine::Engine(QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Private>())
{
    d->q = this;
}

Engine::~Engine()
{
    shutdown();
}

void Engine::start(const Settings &settings)
{
    ASSERT_NETWORK_THREAD();
    d->settings = settings;
    d->setState(State::Discovering);
    if (settings.profileDir.isEmpty() || !QDir().mkpath(settings.profileDir)) {
        d->fatal({ ErrorCode::IdentityError,
            QStringLiteral("cannot use the profile folder \"%1\"").arg(settings.profileDir) });
        return;
    }
    d->profile = std::make_unique<ProfileSettings>(settings.profileDir);
    Error error;
    if (!d->profile->load(&error))
        d->log(error.message);
    if (!settings.displayName.isEmpty())
        d->profile->setDisplayName(settings.displayName);
    else if (d->profile->displayName().isEmpty())
        d->profile->setDisplayName(defaultDisplayName());

    d->identity = Identity::loadOrCreate(settings.profileDir, &error);
    if (!d->identity) {
        d->fatal(error);
        return;
    }
    d->knownPeers = std::make_unique<KnownPeers>(settings.profileDir);
    if (!d->knownPeers->load(&error))
        Q_EMIT errorOccurred(error);

    // The profile keeps its port so that a code stays valid across restarts; an explicit --port
    // (including 0 = any) is used as given.
    const bool explicitPort = settings.port >= 0;
    const quint16 wanted = explicitPort ? quint16(settings.port) : d->profile->port();
    if (!d->openListeners(wanted, &error)) {
        if (!explicitPort && wanted != 0 && d->openListeners(0, &error)) {
            d->log(QStringLiteral("the profile's port %1 is taken; using %2 for now")
                       .arg(wanted)
                       .arg(d->port));
        } else {
            d->fatal(error);
            return;
        }
    }
    if (!explicitPort || d->profile->port() == 0)
        d->profile->setPort(d->port);
    if (!d->profile->save(&error))
        d->log(error.message);

    d->session = new Session(SessionConfig { d->profile->displayName(),
                                 settings.keepaliveIntervalMs, settings.peerSilentLimitMs },
        this);
    connect(d->session, &Session::established, this,
        [this](const QString &peerName, bool) { d->onSessionUp(peerName); });
    connect(d->session, &Session::chatReceived, this, &Engine::chatReceived);
    connect(d->session, &Session::chatDelivered, this, &Engine::chatDelivered);
    connect(d->session, &Session::rttMeasured, this, &Engine::rttMeasured);
    // Queued like the transfer manager's updates, so "done" events of transfers reach the user
    // before allDone does.
    connect(d->session, &Session::allDone, this, &Engine::allDone, Qt::QueuedConnection);
    connect(d->session, &Session::linkLost, this, [this](const Error &why) { d->onLinkLost(why); });

    d->transfers = new TransferManager(settings.downloadDir,
        QDir(settings.profileDir).filePath(QStringLiteral("transfers")), settings.accept, this);
    connect(d->transfers, &TransferManager::transferUpdated, this, &Engine::transferUpdated);
    d->session->setTransferHandler(d->transfers);

    d->log(QStringLiteral("listening on port %1").arg(d->port));
    d->startDiscovery();
}

void Engine::connectToPeer(const QString &codeOrAddresses)
{
    ASSERT_NETWORK_THREAD();
    if (!d->identity) {
        Q_EMIT errorOccurred({ ErrorCode::Internal, QStringLiteral("not started") });
        return;
    }
    const PeerInput in = parsePeerInput(codeOrAddresses);
    if (!in.isValid()) {
        Q_EMIT errorOccurred(in.error);
        return;
    }
    if (in.code) {
        if (in.code->fingerprint == d->identity->fingerprint()) {
            Q_EMIT errorOccurred({ ErrorCode::ConnectedToSelf,
                QStringLiteral("this is your own code: paste your friend's code instead") });
            return;
        }
        d->setTarget(in.code->candidates, in.code->fingerprint, in.code->name);
    } else {
        d->setTarget(in.addresses, {}, {});
    }
}

void Engine::reconnectKnownPeer(const QByteArray &fingerprint)
{
    ASSERT_NETWORK_THREAD();
    if (!d->knownPeers)
        return;
    const auto peer = d->knownPeers->find(fingerprint);
    if (!peer || peer->candidates.isEmpty()) {
        Q_EMIT errorOccurred({ ErrorCode::BadCode,
            QStringLiteral("no known addresses for this friend: ask for a new code") });
        return;
    }
    d->setTarget(peer->candidates, peer->fingerprint, peer->name);
}

void Engine::cancelConnect()
{
    ASSERT_NETWORK_THREAD();
    if (!d->puncher && !d->handshake)
        return;
    d->stopPunching();
    d->haveTarget = false;
    d->reconnecting = false;
    d->setState(d->discoveryDone ? State::Ready : State::Discovering);
}

void Engine::disconnectFromPeer()
{
    ASSERT_NETWORK_THREAD();
    d->userDisconnected = true;
    d->stopPunching();
    d->haveTarget = false;
    if (d->link) {
        // Bye, then a graceful close (the peer must hear the Bye, or it would start healing);
        // the link is deleted once it has closed.
        TlsLink *link = d->link;
        d->link = nullptr;
        link->disconnect(this);
        connect(link, &Link::closed, link, &QObject::deleteLater);
        d->session->close(QStringLiteral("closed by the user"));
        d->setState(State::Disconnected);
        Q_EMIT disconnected({});
    } else {
        d->setState(d->discoveryDone ? State::Ready : State::Discovering);
    }
}

void Engine::sendChat(const QString &id, const QString &text)
{
    ASSERT_NETWORK_THREAD();
    if (d->session)
        d->session->sendChat(id, text);
}

void Engine::requestDone()
{
    ASSERT_NETWORK_THREAD();
    if (d->session)
        d->session->requestDone();
}

void Engine::sendPaths(const QString &transferId, const QStringList &paths)
{
    ASSERT_NETWORK_THREAD();
    if (!d->transfers)
        return;
    Error error;
    if (d->transfers->offerPaths(transferId, paths, &error).isEmpty())
        Q_EMIT errorOccurred(error);
}

void Engine::acceptTransfer(const QString &transferId, bool accept)
{
    ASSERT_NETWORK_THREAD();
    if (!d->transfers)
        return;
    if (accept)
        d->transfers->accept(transferId);
    else
        d->transfers->decline(transferId);
}

void Engine::cancelTransfer(const QString &transferId)
{
    ASSERT_NETWORK_THREAD();
    if (d->transfers)
        d->transfers->cancel(transferId);
}

void Engine::updateSettings(const Settings &settings)
{
    ASSERT_NETWORK_THREAD();
    d->settings.keepaliveIntervalMs = settings.keepaliveIntervalMs;
    d->settings.peerSilentLimitMs = settings.peerSilentLimitMs;
    d->settings.downloadDir = settings.downloadDir;
    d->settings.accept = settings.accept;
    if (d->transfers) {
        d->transfers->setDownloadDir(settings.downloadDir);
        d->transfers->setAcceptPolicy(settings.accept);
    }
    if (d->session)
        d->session->setKeepalive(settings.keepaliveIntervalMs, settings.peerSilentLimitMs);
    if (!settings.displayName.isEmpty() && d->profile) {
        d->profile->setDisplayName(settings.displayName);
        d->profile->save();
    }
}

void Engine::shutdown()
{
    if (!d->q)
        return;
    if (d->link && d->session) {
        // Leaving on purpose: the peer should hear Bye (and any last Done) rather than see the
        // link die and start healing.
        TlsLink *link = d->link;
        d->link = nullptr;
        link->disconnect(this);
        d->session->sendBye();
        d->session->detachLink();
        link->flushAndClose(1000);
        link->deleteLater();
    }
    d->stopPunching();
    if (d->discovery)
        d->discovery->stop();
    qDeleteAll(d->listeners);
    d->listeners.clear();
}

} // namespace Punchline
