#include "engine.h"

#include "common/logging.h"
#include "discovery/discovery.h"
#include "engine/friend.h"
#include "identity/identity.h"
#include "identity/knownpeers.h"
#include "identity/peercode.h"
#include "identity/profilesettings.h"
#include "net/nativesocket.h"
#include "net/sharedportserver.h"
#include "punch/incomingdispatcher.h"
#include "reach/portmapper.h"
#include "reach/relaypool.h"
#include "rendezvous/friendfinder.h"
#include "transfer/transferbudget.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QElapsedTimer>
#include <QHash>
#include <QRandomGenerator>
#include <QSslSocket>
#include <QThread>
#include <QTimer>
#include <map>

namespace Punchline {

namespace {

// Every entry point is on the network thread.
#define ASSERT_NETWORK_THREAD() Q_ASSERT(QThread::currentThread() == thread())

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
    IncomingDispatcher *dispatcher = nullptr;
    std::shared_ptr<TransferBudget> transferBudget = std::make_shared<TransferBudget>();

    std::map<QByteArray, Friend *> friends; // by fingerprint
    Friend *tofu = nullptr; // plain addresses, not proven yet (at most one)
    bool doneRequested = false;
    bool allDoneEmitted = false;
    QTimer *friendsChangedTimer
        = nullptr; // coalesces list updates into one signal per event-loop turn

    // The friend finder (OpenDHT rendezvous), when settings.dht is on.
    FriendFinder *finder = nullptr;
    FriendFinder::Invitation invitation; // the one in our code
    QTimer *inviteTimer = nullptr; // renews the code when its invitation expires
    struct PendingRequest
    {
        QString name;
        PeerTargets targets;
    };
    QHash<QByteArray, PendingRequest> requests; // asked through the DHT, not answered yet
    QHash<QByteArray, QByteArray> contributions; // made this run, not saved with a friend yet

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
        qCInfo(lcEngine).noquote() << line;
        Q_EMIT q->logLine(line);
    }

    void fatal(const Error &e)
    {
        log(QStringLiteral("error: %1").arg(e.message));
        Q_EMIT q->errorOccurred({}, e);
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
        QObject::connect(server, &Net::SharedPortServer::incoming, q,
            [this](qintptr incoming) { dispatcher->addConnection(incoming); });
        listeners.append(server);
    }

    // A connection whose preamble claims `fp`: to that friend if it is being reached, to the
    // trust-on-first-use attempt if the fingerprint is nobody's, else closed.
    void route(QSslSocket *socket, const QByteArray &fp)
    {
        const QString from
            = Endpoint { normalizedAddress(socket->peerAddress()), socket->peerPort() }.toString();
        const auto it = friends.find(fp);
        if (it != friends.end()) {
            if (!it->second->offerIncoming(socket, fp))
                qCDebug(lcEngine).noquote() << from << "claims a friend not being reached now";
            return;
        }
        if (tofu && tofu->isActive() && tofu->offerIncoming(socket, fp))
            return;
        // Often a friend who pasted our code before we pasted theirs: it keeps trying, and gets in
        // once the user adds it. Not an error to show.
        qCDebug(lcEngine).noquote() << from << "speaks Punchline but is nobody we are reaching";
        socket->abort();
        socket->deleteLater();
    }

    void startDiscovery()
    {
        discovery = new Discovery(port, settings.stunServers, settings.ipEchoUrl,
            settings.discoveryTimeoutMs, settings.localAddresses, q);
        QObject::connect(discovery, &Discovery::finished, q,
            [this](const DiscoveryResult &r) { onDiscovered(r); });
        // Our NAT gave us a new public mapping (it rebooted, or dropped the old one): the code
        // given out from now on carries the new address, and so do our friends' records.
        QObject::connect(
            discovery, &Discovery::publicMappingChanged, q, [this](const Endpoint &now) {
                const std::optional<Endpoint> before = localInfo.publicEndpoint;
                const DiscoveryResult &r = discovery->result();
                localInfo.publicEndpoint = r.publicEndpoint;
                localInfo.nat = r.nat;
                localInfo.explanation = r.explanation;
                localInfo.stunAnswered = stunAnswered(r);
                updateCode();
                log(QStringLiteral("public address changed to %1: your code is updated")
                        .arg(now.toString()));
                Q_EMIT q->localInfoReady(localInfo);
                onOurAddressChanged(before, now);
            });
        discovery->start();
    }

    // A new public IP address means the NAT forgot every flow through it (a re-dialled line, a
    // rebooted router): sessions through it heal at once instead of after the silence limit, and
    // punch from the new address (our record already carries it). A new port alone is checked.
    void onOurAddressChanged(const std::optional<Endpoint> &before, const Endpoint &now)
    {
        const bool addressChanged
            = !before || normalizedAddress(before->address) != normalizedAddress(now.address);
        for (const auto &[fp, f] : friends)
            f->ourAddressChanged(addressChanged);
        if (tofu)
            tofu->ourAddressChanged(addressChanged);
    }

    PeerTargets ourTargets() const
    {
        PeerTargets t;
        if (localInfo.publicEndpoint)
            t.direct.append(*localInfo.publicEndpoint);
        for (const Endpoint &e : std::as_const(localInfo.local)) {
            if (!t.direct.contains(e))
                t.direct.append(e);
        }
        if (localInfo.mappedEndpoint)
            t.mapped.append(*localInfo.mappedEndpoint);
        t.relays = localInfo.relayEndpoints;
        return t;
    }

    void updateCode()
    {
        PeerCode code;
        code.name = localInfo.displayName;
        code.fingerprint = localInfo.fingerprint;
        const PeerTargets t = ourTargets();
        code.candidates = t.direct;
        code.mapped = t.mapped;
        code.relays = t.relays;
        if (finder) {
            code.inviteSecret = invitation.secret;
            code.inviteExpires = invitation.expires;
            code.inviteSingleUse = invitation.singleUse;
            localInfo.codeExpires = QDateTime::fromSecsSinceEpoch(invitation.expires, Qt::UTC);
            localInfo.codeSingleUse = invitation.singleUse;
            finder->setSelf(localInfo.displayName, t);
        }
        localInfo.code = code.encode();
    }

    // --- friend finder -------------------------------------------------------------------

    void startFinder()
    {
        finder = new FriendFinder(identity->fingerprint(), settings.profileDir, q);
        finder->setSigningIdentity(identity->certificate().toDer(), identity->privateKey().toPem());
        QObject::connect(
            finder, &FriendFinder::onlineChanged, q, [this](bool online, const QString &status) {
                localInfo.dhtOnline = online;
                localInfo.dhtStatus = status;
                log(status);
                if (!online)
                    Q_EMIT q->errorOccurred({}, { ErrorCode::RendezvousOffline, status });
                if (discoveryDone)
                    Q_EMIT q->localInfoReady(localInfo);
            });
        QObject::connect(finder, &FriendFinder::friendSeen, q,
            [this](const QByteArray &fp, const QString &, const PeerTargets &t, bool newer) {
                onFriendSeen(fp, t, newer);
            });
        QObject::connect(finder, &FriendFinder::friendGone, q,
            [this](const QByteArray &fp, const QDateTime &since) {
                if (Friend *f = find(fp))
                    f->setPresence(false, since);
            });
        QObject::connect(finder, &FriendFinder::requestReceived, q,
            [this](const QByteArray &fp, const QString &name, const PeerTargets &t) {
                onRequest(fp, name, t);
            });
        QObject::connect(finder, &FriendFinder::requestExpired, q, [this](const QByteArray &fp) {
            const auto it = requests.find(fp);
            if (it == requests.end())
                return;
            log(QStringLiteral("the request to connect from %1 expired unanswered").arg(it->name));
            requests.erase(it);
            Q_EMIT q->friendRequestExpired(fp);
        });
        QObject::connect(finder, &FriendFinder::replyReceived, q,
            [this](const QByteArray &fp, FriendFinder::ReplyStatus status, const QString &name,
                const PeerTargets &t) { onReply(fp, status, name, t); });
        invitation
            = finder->currentInvitation(settings.inviteLifetimeSeconds, settings.inviteSingleUse);
        inviteTimer = new QTimer(q);
        inviteTimer->setSingleShot(true);
        QObject::connect(inviteTimer, &QTimer::timeout, q, [this] { renewCode(false); });
        scheduleInviteExpiry();
        localInfo.dhtEnabled = true;
        localInfo.dhtStatus = QStringLiteral("friend finder starting");
        DhtClient::Options o;
        o.port = quint16(qBound(0, settings.dhtPort, 65535));
        o.bootstrap = settings.dhtBootstrap;
        o.localDiscovery = settings.dhtLocalDiscovery;
        finder->start(o);
        const auto known = knownPeers->peers();
        for (const KnownPeer &kp : known)
            finder->setFriend(kp.fingerprint,
                FriendFinder::pairSecret(
                    identity->fingerprint(), kp.ourRendezvous, kp.fingerprint, kp.theirRendezvous));
    }

    void scheduleInviteExpiry()
    {
        const qint64 left = invitation.expires - QDateTime::currentSecsSinceEpoch();
        // QTimer takes an int: a long lifetime is checked again once a day.
        inviteTimer->start(int(qBound(qint64(1), left, qint64(24 * 3600)) * 1000));
    }

    // A new invitation (and so a new code): on request (revokes the old one), when the old one
    // expired, or when a single-use one was used.
    void renewCode(bool revoke)
    {
        if (!finder)
            return;
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        if (!revoke && invitation.expires > now && !invitation.singleUse) {
            scheduleInviteExpiry(); // not yet (a long lifetime is checked once a day)
            return;
        }
        invitation = revoke
            ? finder->renewInvitation(settings.inviteLifetimeSeconds, settings.inviteSingleUse)
            : finder->currentInvitation(settings.inviteLifetimeSeconds, settings.inviteSingleUse);
        scheduleInviteExpiry();
        if (discoveryDone) {
            updateCode();
            log(QStringLiteral("new code, valid until %1")
                    .arg(localInfo.codeExpires.toString(Qt::ISODate)));
            Q_EMIT q->localInfoReady(localInfo);
        }
    }

    QByteArray contributionFor(const QByteArray &fp)
    {
        if (knownPeers) {
            const auto kp = knownPeers->find(fp);
            if (kp && kp->ourRendezvous.size() == 32)
                return kp->ourRendezvous;
        }
        QByteArray &c = contributions[fp];
        if (c.size() != 32) {
            c.resize(32);
            QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(c.data()), 8);
        }
        return c;
    }

    void onContribution(Friend *f, const QByteArray &theirs)
    {
        const QByteArray fp = f->fingerprint();
        if (fp.isEmpty() || !knownPeers)
            return;
        const QByteArray ours = contributionFor(fp);
        if (!knownPeers->setRendezvous(fp, ours, theirs))
            return;
        Error e;
        if (!knownPeers->save(&e))
            log(e.message);
        contributions.remove(fp);
        if (finder)
            finder->setFriend(
                fp, FriendFinder::pairSecret(identity->fingerprint(), ours, fp, theirs));
    }

    void onFriendSeen(const QByteArray &fp, const PeerTargets &targets, bool newer)
    {
        Friend *f = find(fp);
        if (!f)
            return;
        f->setPresence(true, QDateTime::currentDateTimeUtc());
        f->setTarget(targets, false, QString());
        updateRelayPermissions(); // the friend may come through our relay from there
        if (f->state() == State::Connected && newer)
            f->checkRecord(targets); // the friend's address moved away from our session's?
        if (f->state() == State::Connected || f->userClosed())
            return;
        if (!f->isActive()) {
            allDoneEmitted = false;
            f->connectFound();
        } else if (newer) {
            f->retarget();
        }
    }

    void onRequest(const QByteArray &fp, const QString &name, const PeerTargets &targets)
    {
        if (fp == identity->fingerprint())
            return;
        if (Friend *f = find(fp)) {
            // Someone we already know pasted our code again: no question to ask. But anyone who
            // has the code can claim a known fingerprint: a friend the user closed stays closed,
            // a friend being reached keeps its addresses, and the attempt is bounded like one a
            // presence record starts (connectFound).
            finder->answer(fp, true);
            if (f->userClosed() || f->isActive())
                return;
            f->setTarget(targets, false, QString());
            updateRelayPermissions();
            allDoneEmitted = false;
            f->connectFound();
            return;
        }
        switch (settings.acceptFriends) {
        case AcceptPolicy::All:
            if (!makeRoomForAutoAccepted()) {
                log(QStringLiteral("declined a request to connect from %1: %2 new friends are "
                                   "being reached already")
                        .arg(name)
                        .arg(MaxAutoAccepted));
                finder->answer(fp, false);
                return;
            }
            autoAccepted.insert(fp);
            acceptRequest(fp, name, targets, true);
            return;
        case AcceptPolicy::None:
            log(QStringLiteral("declined a request to connect from %1 (new friends: none)")
                    .arg(name));
            finder->answer(fp, false);
            return;
        case AcceptPolicy::Ask:
            break;
        }
        requests.insert(fp, PendingRequest { name, targets });
        log(QStringLiteral("%1 wants to connect (fingerprint %2)")
                .arg(name, QString::fromLatin1(fp.toHex())));
        Q_EMIT q->friendRequest(FriendRequest { fp, name, QDateTime::currentDateTimeUtc() });
    }

    // Accepting every new friend (--accept-friends all): whoever has the code can make up
    // fingerprints, so at most MaxAutoAccepted friends accepted that way are being reached at
    // once (each for at most Friend::FoundAttemptMs), and one whose attempt ended without a
    // proven connection is forgotten again.
    static constexpr int MaxAutoAccepted = 4;
    QSet<QByteArray> autoAccepted; // accepted automatically, not proven yet

    bool makeRoomForAutoAccepted()
    {
        const QList<QByteArray> fps(autoAccepted.cbegin(), autoAccepted.cend());
        for (const QByteArray &fp : fps) {
            Friend *f = find(fp);
            const bool proven = knownPeers && knownPeers->find(fp);
            if (f && f->isActive() && !proven)
                continue; // still being reached
            autoAccepted.remove(fp);
            if (f && !proven) {
                friends.erase(fp);
                f->disconnect(q);
                f->deleteLater();
                scheduleFriendsChanged();
            }
        }
        return autoAccepted.size() < MaxAutoAccepted;
    }

    void acceptRequest(
        const QByteArray &fp, const QString &name, const PeerTargets &targets, bool bounded = false)
    {
        Friend *f = find(fp);
        if (!f) {
            f = makeFriend(fp);
            friends[fp] = f;
        }
        // Not pinned by a code: the fingerprint is the one the request claimed, which the TLS
        // handshake must prove (trust on first use, shown to the user to compare).
        f->setTarget(targets, false, name);
        updateRelayPermissions();
        f->setVia(FoundVia::Dht);
        finder->answer(fp, true);
        allDoneEmitted = false;
        if (bounded)
            f->connectFound();
        else
            f->connectNow();
        f->setVia(FoundVia::Dht);
        scheduleFriendsChanged();
        if (invitation.singleUse)
            renewCode(false); // used up: the window shows the next code
    }

    void onReply(const QByteArray &fp, FriendFinder::ReplyStatus status, const QString &name,
        const PeerTargets &targets)
    {
        Friend *f = find(fp);
        if (!f)
            return;
        const QString who = name.isEmpty() ? QStringLiteral("your friend") : name;
        switch (status) {
        case FriendFinder::ReplyStatus::Accepted:
            log(QStringLiteral("%1 accepted: connecting").arg(who));
            f->setTarget(targets, false, QString());
            updateRelayPermissions();
            f->retarget();
            return;
        case FriendFinder::ReplyStatus::Declined:
            f->refuse({ ErrorCode::RequestDeclined,
                QStringLiteral("%1 declined your request to connect").arg(who) });
            break;
        case FriendFinder::ReplyStatus::Revoked:
            f->refuse({ ErrorCode::CodeRevoked,
                QStringLiteral("this code no longer works: %1 made a new one. Ask for the new "
                               "code.")
                    .arg(who) });
            break;
        case FriendFinder::ReplyStatus::Expired:
            f->refuse({ ErrorCode::CodeExpired,
                QStringLiteral("this code has expired: ask %1 for a new one").arg(who) });
            break;
        }
        finder->cancelRequest(fp);
    }

    // Router port mapping (UPnP IGD / NAT-PMP), once our port is known: fills
    // localInfo.mappedEndpoint and mappingStatus, then updateCode() and localInfoReady.
    // It runs beside discovery; unless STUN saw an endpoint-independent mapping, the first code
    // waits for the router's answer (at most until MappingWaitMs after the start), because a
    // code is pasted once and a friend can then only reach us through the mapped endpoint in it.
    static constexpr int MappingWaitMs = 2500;
    static constexpr int RelayDrainMs = 400;
    PortMapper *portMapper = nullptr;
    PortMapStatus mapping;
    QDeadlineTimer mappingDeadline;
    bool readyHeldForMapping = false;

    void startPortMapping()
    {
        if (!settings.portMapping || port == 0)
            return;
        portMapper = new PortMapper(PortMapper::systemBackends(), q);
        QObject::connect(portMapper, &PortMapper::statusChanged, q,
            [this](const PortMapStatus &status) { onPortMapping(status); });
        mappingDeadline = QDeadlineTimer(MappingWaitMs);
        portMapper->start(port);
    }

    void applyPortMapping()
    {
        localInfo.mappingStatus = mapping.text;
        localInfo.mappingProtocol = mapping.state == PortMapStatus::State::Mapped
            ? mappingProtocolName(mapping.protocol)
            : QString();
        localInfo.mappedEndpoint = mapping.external;
        // A router that did not tell its address: it is the one STUN saw (we are behind it).
        if (mapping.state == PortMapStatus::State::Mapped && !mapping.external
            && mapping.routerAddress.isNull() && localInfo.publicEndpoint)
            localInfo.mappedEndpoint
                = Endpoint { localInfo.publicEndpoint->address, mapping.externalPort };
    }

    void onPortMapping(const PortMapStatus &status)
    {
        mapping = status;
        const std::optional<Endpoint> before = localInfo.mappedEndpoint;
        const QString beforeText = localInfo.mappingStatus;
        applyPortMapping();
        if (localInfo.mappingStatus != beforeText)
            log(localInfo.mappingStatus);
        if (readyHeldForMapping) {
            if (status.state != PortMapStatus::State::Searching) {
                readyHeldForMapping = false;
                announceReady();
            }
            return;
        }
        if (!discoveryDone || state == State::Failed)
            return;
        if (before != localInfo.mappedEndpoint || beforeText != localInfo.mappingStatus) {
            updateCode();
            Q_EMIT q->localInfoReady(localInfo);
        }
    }

    // After discovery: true if the first code waits for the router (announceReady() follows).
    // Not when STUN saw an endpoint-independent mapping: a friend can punch to that endpoint, so
    // the code is good enough at once (issue 15 target 6: the router's silence cost 2.1 s of
    // every start), and a mapped port that comes later goes into an updated code. Behind an
    // endpoint-dependent NAT, or when that is not known, the mapped port may be the only way in.
    bool holdReadyForPortMapping()
    {
        if (!portMapper || mapping.state != PortMapStatus::State::Searching
            || mappingDeadline.hasExpired() || localInfo.nat == NatKind::EndpointIndependent)
            return false;
        readyHeldForMapping = true;
        QTimer::singleShot(int(mappingDeadline.remainingTime()), q, [this] {
            if (!readyHeldForMapping)
                return;
            readyHeldForMapping = false;
            log(QStringLiteral("the router has not answered yet; the code gets the mapped "
                               "port if it does"));
            announceReady();
        });
        return true;
    }

    // TURN relays (RFC 6062) from settings.turnServers: one TurnClient per server (RelayPool),
    // started with discovery so that the first code already carries the relayed addresses
    // (onDiscovered waits for every server's first answer, at most RelayWaitMs). Fills
    // localInfo.relayEndpoints and relayStatus, then updateCode() and localInfoReady.
    void startRelay()
    {
        if (settings.turnServers.isEmpty())
            return;
        RelayPool::Options o;
        o.client.timeoutMs = qMax(3000, settings.discoveryTimeoutMs);
        relays = new RelayPool(settings.turnServers, o, q);
        QObject::connect(relays, &RelayPool::dataConnection, q,
            [this](qintptr fd, const Endpoint &, const Endpoint &server) {
                onIncomingRelayed(fd, server);
            });
        QObject::connect(relays, &RelayPool::changed, q, [this] { onRelaysChanged(); });
        QObject::connect(relays, &RelayPool::errorOccurred, q, [this](const Error &e) {
            log(QStringLiteral("relay: %1").arg(e.message));
            Q_EMIT q->errorOccurred({}, e);
        });
        QObject::connect(relays, &RelayPool::logLine, q,
            [this](const QString &line) { qCInfo(lcEngine).noquote() << line; });
        relayWait = new QTimer(q);
        relayWait->setSingleShot(true);
        QObject::connect(relayWait, &QTimer::timeout, q, [this] { releaseDiscovery(); });
        updateRelayPermissions();
        relays->start();
    }

    void onRelaysChanged()
    {
        relayServers = relays->serverEndpoints();
        localInfo.relayEndpoints = relays->relayedEndpoints();
        localInfo.relayStatus = relays->status();
        if (pendingDiscovery) {
            if (relays->settled())
                releaseDiscovery();
            return;
        }
        // (While ready waits for the router, announceReady() puts the relays in.)
        if (discoveryDone && !readyHeldForMapping) {
            updateCode();
            Q_EMIT q->localInfoReady(localInfo);
        }
    }

    // Discovery finished before every TURN server answered: the code waits (a code without the
    // relayed addresses would be useless to a friend behind a symmetric NAT).
    bool holdDiscovery(const DiscoveryResult &r)
    {
        if (!relays || relays->settled() || relayWaitOver)
            return false;
        pendingDiscovery = r;
        relayWait->start(qMax(3000, settings.discoveryTimeoutMs) + 500);
        return true;
    }

    void releaseDiscovery()
    {
        relayWaitOver = true;
        relayWait->stop();
        if (const std::optional<DiscoveryResult> r = std::exchange(pendingDiscovery, std::nullopt))
            onDiscovered(*r);
    }

    // Friends may reach us through our relays from their addresses (public and local).
    void updateRelayPermissions()
    {
        if (!relays)
            return;
        QList<QHostAddress> peers;
        for (Friend *f : allFriends()) {
            const PeerTargets &t = f->targets();
            for (const Endpoint &e : t.direct + t.mapped) {
                if (!peers.contains(e.address))
                    peers.append(e.address);
            }
        }
        relays->setPermissions(peers);
    }

    RelayPool *relays = nullptr;
    QTimer *relayWait = nullptr;
    bool relayWaitOver = false;
    std::optional<DiscoveryResult> pendingDiscovery;

    // A relayed data connection (ConnectionBind answered, read byte-exactly so that none of the
    // friend's bytes sit in a Qt buffer): from here on it is like an accepted connection. Its
    // remote is our TURN server (in relayServers), so the friend reports path Relay. (With
    // turns: fd is a local bridge's end and has no address of its own: server is given.)
    void onIncomingRelayed(qintptr fd, const Endpoint &server)
    {
        dispatcher->addRelayedConnection(fd, server);
    }
    QList<Endpoint> relayServers; // the TURN servers our relayed connections come from

    // The STUN servers that answered, as configured ("host:port"), for the window.
    static QStringList stunAnswered(const DiscoveryResult &r)
    {
        QStringList out;
        for (const StunAnswer &a : r.answers) {
            if (!out.contains(a.server))
                out.append(a.server);
        }
        return out;
    }

    void onDiscovered(const DiscoveryResult &r)
    {
        if (holdDiscovery(r))
            return;
        discoveryDone = true;
        localInfo.port = port;
        localInfo.local = r.local;
        localInfo.publicEndpoint = r.publicEndpoint;
        localInfo.publicSource = r.publicSource;
        localInfo.publicPortGuessed = r.portGuessed;
        localInfo.nat = r.nat;
        localInfo.explanation = r.explanation;
        localInfo.stunAnswered = stunAnswered(r);
        localInfo.displayName = profile->displayName();
        localInfo.fingerprint = identity->fingerprint();
        applyPortMapping(); // the router may have answered first
        if (holdReadyForPortMapping())
            return;
        announceReady();
    }

    void announceReady()
    {
        updateCode();
        log(QStringLiteral("ready: public %1 via %2, NAT %3")
                .arg(localInfo.publicEndpoint ? localInfo.publicEndpoint->toString()
                                              : QStringLiteral("unknown"),
                    publicSourceName(localInfo.publicSource), natName(localInfo.nat)));
        if (state == State::Discovering)
            setState(State::Ready);
        Q_EMIT q->localInfoReady(localInfo);
        const auto all = allFriends();
        for (Friend *f : all)
            f->discoveryReady();
    }

    QList<Friend *> allFriends() const
    {
        QList<Friend *> out;
        for (const auto &[fp, f] : friends)
            out.append(f);
        if (tofu)
            out.append(tofu);
        return out;
    }

    Friend::Context context()
    {
        Friend::Context c;
        c.identity = identity;
        c.port = port;
        c.settings = settings;
        c.settings.displayName = profile->displayName();
        c.profileDir = settings.profileDir;
        c.knownPeers = knownPeers.get();
        c.transferBudget = transferBudget;
        c.noteStranger = [this](const QString &detail) {
            if (dispatcher)
                dispatcher->noteStranger(detail);
        };
        c.rendezvousContribution = [this](const QByteArray &fp) { return contributionFor(fp); };
        c.isRelayServer = [this](const Endpoint &remote) { return relayServers.contains(remote); };
        c.resolveIdentity
            = [this](Friend *self, const QByteArray &fp, TlsStream *stream,
                  const Puncher::Nomination &how) { return resolveTofu(self, fp, stream, how); };
        return c;
    }

    Friend *makeFriend(const QByteArray &fp)
    {
        auto *f = new Friend(context(), fp, q);
        // The fingerprint is read when a signal is sent: a trust-on-first-use friend gets its
        // fingerprint only once proven.
        QObject::connect(f, &Friend::stateChanged, q, [this, f](State s) {
            Q_EMIT q->friendStateChanged(f->fingerprint(), s);
            maybeAllDone(); // a friend that stopped being reached no longer holds "all done" up
        });
        QObject::connect(f, &Friend::infoChanged, q, [this] { scheduleFriendsChanged(); });
        QObject::connect(f, &Friend::connectProgress, q, [this, f](const ConnectProgress &p) {
            Q_EMIT q->connectProgress(f->fingerprint(), p);
        });
        QObject::connect(f, &Friend::connected, q, [this, f](const ConnectionInfo &i) {
            if (finder)
                finder->cancelRequest(f->fingerprint()); // found: no need to ask any more
            Q_EMIT q->connected(f->fingerprint(), i);
            scheduleFriendsChanged();
        });
        QObject::connect(f, &Friend::rendezvousReceived, q,
            [this, f](const QByteArray &theirs) { onContribution(f, theirs); });
        QObject::connect(f, &Friend::disconnected, q,
            [this, f](const Error &e) { Q_EMIT q->disconnected(f->fingerprint(), e); });
        QObject::connect(f, &Friend::errorOccurred, q,
            [this, f](const Error &e) { Q_EMIT q->errorOccurred(f->fingerprint(), e); });
        QObject::connect(f, &Friend::chatReceived, q,
            [this, f](const ChatMessage &m) { Q_EMIT q->chatReceived(f->fingerprint(), m); });
        QObject::connect(f, &Friend::chatDelivered, q,
            [this, f](const QString &id) { Q_EMIT q->chatDelivered(f->fingerprint(), id); });
        QObject::connect(f, &Friend::rttMeasured, q,
            [this, f](int ms) { Q_EMIT q->rttMeasured(f->fingerprint(), ms); });
        QObject::connect(f, &Friend::transferUpdated, q,
            [this, f](const TransferInfo &t) { Q_EMIT q->transferUpdated(f->fingerprint(), t); });
        QObject::connect(f, &Friend::allDone, q, [this] { maybeAllDone(); });
        QObject::connect(f, &Friend::logLine, q, [this](const QString &l) { log(l); });
        if (discoveryDone)
            f->discoveryReady();
        if (doneRequested)
            f->requestDone();
        return f;
    }

    void dropTofu()
    {
        if (!tofu)
            return;
        Friend *old = tofu;
        tofu = nullptr;
        old->cancel(); // its last state (offline) still reaches the user
        old->disconnect(q);
        old->deleteLater();
    }

    Friend::Resolution resolveTofu(
        Friend *self, const QByteArray &fp, TlsStream *stream, const Puncher::Nomination &how)
    {
        if (self != tofu)
            return Friend::Resolution::Refuse;
        const auto it = friends.find(fp);
        if (it == friends.end()) {
            // A new friend, accepted on first use: the user is shown its fingerprint.
            friends[fp] = self;
            tofu = nullptr;
            scheduleFriendsChanged();
            return Friend::Resolution::Adopt;
        }
        Friend *existing = it->second;
        // Deleted from the event loop, not under the caller's feet; only this very attempt (a
        // new one may have been started meanwhile).
        QTimer::singleShot(0, q, [this, self] {
            if (tofu == self)
                dropTofu();
        });
        if (existing->state() == State::Connected) {
            log(QStringLiteral("already connected to the friend at %1").arg(how.remote.toString()));
            return Friend::Resolution::Refuse;
        }
        existing->takeProven(stream, how);
        return Friend::Resolution::HandedOver;
    }

    void scheduleFriendsChanged()
    {
        if (!friendsChangedTimer->isActive())
            friendsChangedTimer->start();
    }

    void emitFriendsChanged()
    {
        QList<FriendInfo> list;
        for (const auto &[fp, f] : friends)
            list.append(f->info());
        std::sort(list.begin(), list.end(),
            [](const FriendInfo &a, const FriendInfo &b) { return a.lastSeen > b.lastSeen; });
        Q_EMIT q->friendsChanged(list);
    }

    void maybeAllDone()
    {
        if (!doneRequested || allDoneEmitted)
            return;
        bool any = false;
        for (const auto &[fp, f] : friends) {
            if (!f->isActive()) {
                // A friend that said Done and then left counts as done: its Bye can be read in
                // the same pass as its Done, before the queued "done" reaches us, and it must
                // not keep --exit-when-done waiting for ever.
                any = any || f->isDone();
                continue;
            }
            if (!f->isDone())
                return;
            any = true;
        }
        if (tofu && tofu->isActive())
            return;
        if (!any)
            return;
        allDoneEmitted = true;
        Q_EMIT q->allDone();
    }

    Friend *find(const QByteArray &fp) const
    {
        const auto it = friends.find(fp);
        return it == friends.end() ? nullptr : it->second;
    }

    Friend *findOrComplain(const QByteArray &fp)
    {
        Friend *f = fp.isEmpty() ? tofu : find(fp);
        if (!f)
            Q_EMIT q->errorOccurred(fp,
                { ErrorCode::BadUsage,
                    QStringLiteral("no friend with the fingerprint %1")
                        .arg(QString::fromLatin1(fp.toHex())) });
        return f;
    }
};

Engine::Engine(QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Private>())
{
    d->q = this;
    // A child, so it moves to the network thread with the engine.
    d->friendsChangedTimer = new QTimer(this);
    d->friendsChangedTimer->setSingleShot(true);
    d->friendsChangedTimer->setInterval(0);
    connect(d->friendsChangedTimer, &QTimer::timeout, this, [this] { d->emitFriendsChanged(); });
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
    const QString loadedName = d->profile->displayName();
    const quint16 loadedPort = d->profile->port();
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
        Q_EMIT errorOccurred({}, error);

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
    // Written only when it changed: a write is synced to disk, and every start waited for that
    // before it asked STUN (issue 15 target 6).
    if ((d->profile->displayName() != loadedName || d->profile->port() != loadedPort)
        && !d->profile->save(&error))
        d->log(error.message);

    d->dispatcher = new IncomingDispatcher(d->identity->fingerprint(), this);
    connect(d->dispatcher, &IncomingDispatcher::arrived, this,
        [this](QSslSocket *socket, const QByteArray &fp) { d->route(socket, fp); });
    connect(d->dispatcher, &IncomingDispatcher::strangersDropped, this,
        [this](int, const QString &summary) {
            Q_EMIT errorOccurred({}, { ErrorCode::StrangerDropped, summary });
        });

    // Every known friend is in the list from the start, offline until reached.
    const auto known = d->knownPeers->peers();
    for (const KnownPeer &kp : known) {
        if (kp.fingerprint == d->identity->fingerprint() || d->find(kp.fingerprint))
            continue;
        Friend *f = d->makeFriend(kp.fingerprint);
        f->setTarget(PeerTargets { kp.candidates, {}, {} }, kp.pinnedByCode, kp.name);
        f->setLastSeen(kp.lastSeen);
        d->friends[kp.fingerprint] = f;
    }
    d->scheduleFriendsChanged();

    d->log(QStringLiteral("listening on port %1").arg(d->port));
    d->startRelay();
    if (settings.dht)
        d->startFinder();
    d->startPortMapping();
    d->startDiscovery();
}

void Engine::connectToPeer(const QString &codeOrAddresses)
{
    ASSERT_NETWORK_THREAD();
    if (!d->identity) {
        Q_EMIT errorOccurred({}, { ErrorCode::Internal, QStringLiteral("not started") });
        return;
    }
    const PeerInput in = parsePeerInput(codeOrAddresses);
    if (!in.isValid()) {
        Q_EMIT errorOccurred({}, in.error);
        return;
    }
    if (!in.code) {
        // Plain addresses: trust on first use. One such attempt at a time.
        d->dropTofu();
        d->tofu = d->makeFriend({});
        d->tofu->setTarget(PeerTargets { in.addresses, {}, {} }, false, {});
        d->tofu->connectNow();
        return;
    }
    const QByteArray fp = in.code->fingerprint;
    if (in.code->hasInvitation() && in.code->inviteExpires > 0
        && QDateTime::currentSecsSinceEpoch() >= in.code->inviteExpires) {
        Q_EMIT errorOccurred({},
            { ErrorCode::CodeExpired,
                QStringLiteral("this code expired on %1: ask %2 for a new one")
                    .arg(QDateTime::fromSecsSinceEpoch(in.code->inviteExpires)
                             .toString(QStringLiteral("d MMM yyyy, HH:mm")),
                        in.code->name.isEmpty() ? QStringLiteral("your friend") : in.code->name) });
        return;
    }
    if (fp == d->identity->fingerprint()) {
        Q_EMIT errorOccurred({},
            { ErrorCode::ConnectedToSelf,
                QStringLiteral("this is your own code: paste your friend's code instead") });
        return;
    }
    Friend *f = d->find(fp);
    if (!f) {
        f = d->makeFriend(fp);
        d->friends[fp] = f;
    }
    f->setTarget(in.code->targets(), true, in.code->name);
    d->updateRelayPermissions();
    d->allDoneEmitted = false;
    f->setVia(FoundVia::Paste);
    f->connectNow();
    // One-way paste: the friend learns through the DHT that we want to connect.
    if (d->finder && in.code->hasInvitation())
        d->finder->request(fp, in.code->inviteSecret);
    d->scheduleFriendsChanged();
}

void Engine::answerRequest(const QByteArray &fingerprint, bool accept)
{
    ASSERT_NETWORK_THREAD();
    const auto it = d->requests.find(fingerprint);
    if (it == d->requests.end() || !d->finder)
        return;
    const Private::PendingRequest r = it.value();
    d->requests.erase(it);
    if (accept)
        d->acceptRequest(fingerprint, r.name, r.targets);
    else
        d->finder->answer(fingerprint, false);
}

void Engine::newCode()
{
    ASSERT_NETWORK_THREAD();
    d->renewCode(true);
}

void Engine::reconnectFriend(const QByteArray &fingerprint)
{
    ASSERT_NETWORK_THREAD();
    if (Friend *f = d->findOrComplain(fingerprint)) {
        d->allDoneEmitted = false;
        f->connectNow();
    }
}

void Engine::cancelConnect(const QByteArray &fingerprint)
{
    ASSERT_NETWORK_THREAD();
    if (fingerprint.isEmpty() && d->tofu) {
        d->dropTofu();
        return;
    }
    if (Friend *f = d->findOrComplain(fingerprint))
        f->cancel();
}

void Engine::disconnectFriend(const QByteArray &fingerprint)
{
    ASSERT_NETWORK_THREAD();
    if (fingerprint.isEmpty() && d->tofu) {
        d->dropTofu();
        return;
    }
    if (Friend *f = d->findOrComplain(fingerprint))
        f->disconnectByUser();
}

void Engine::forgetFriend(const QByteArray &fingerprint)
{
    ASSERT_NETWORK_THREAD();
    if (fingerprint.isEmpty()) { // the trust-on-first-use attempt: nothing to remember
        d->dropTofu();
        return;
    }
    Friend *f = d->findOrComplain(fingerprint);
    if (!f)
        return;
    f->disconnectByUser();
    if (d->finder) {
        d->finder->removeFriend(fingerprint);
        d->finder->cancelRequest(fingerprint);
    }
    d->friends.erase(fingerprint);
    f->disconnect(this);
    f->deleteLater();
    if (d->knownPeers) {
        d->knownPeers->forget(fingerprint);
        Error e;
        if (!d->knownPeers->save(&e))
            Q_EMIT errorOccurred({}, e);
    }
    d->scheduleFriendsChanged();
}

void Engine::sendChat(const QByteArray &fingerprint, const QString &id, const QString &text)
{
    ASSERT_NETWORK_THREAD();
    Friend *f = d->findOrComplain(fingerprint);
    if (!f)
        return;
    Error error;
    d->allDoneEmitted = false;
    if (f->sendChat(id, text, &error).isEmpty())
        Q_EMIT errorOccurred(fingerprint, error);
}

void Engine::requestDone()
{
    ASSERT_NETWORK_THREAD();
    d->doneRequested = true;
    d->allDoneEmitted = false;
    const auto all = d->allFriends();
    for (Friend *f : all)
        f->requestDone();
    d->maybeAllDone();
}

void Engine::sendPaths(
    const QByteArray &fingerprint, const QString &transferId, const QStringList &paths)
{
    ASSERT_NETWORK_THREAD();
    Friend *f = d->findOrComplain(fingerprint);
    if (!f)
        return;
    Error error;
    d->allDoneEmitted = false;
    if (!f->sendPaths(transferId, paths, &error))
        Q_EMIT errorOccurred(fingerprint, error);
}

void Engine::acceptTransfer(const QByteArray &fingerprint, const QString &transferId, bool accept)
{
    ASSERT_NETWORK_THREAD();
    if (Friend *f = d->findOrComplain(fingerprint))
        f->acceptTransfer(transferId, accept);
}

void Engine::cancelTransfer(const QByteArray &fingerprint, const QString &transferId)
{
    ASSERT_NETWORK_THREAD();
    if (Friend *f = d->findOrComplain(fingerprint))
        f->cancelTransfer(transferId);
}

void Engine::updateSettings(const Settings &settings)
{
    ASSERT_NETWORK_THREAD();
    d->settings.keepaliveIntervalMs = settings.keepaliveIntervalMs;
    d->settings.peerSilentLimitMs = settings.peerSilentLimitMs;
    d->settings.downloadDir = settings.downloadDir;
    d->settings.accept = settings.accept;
    d->settings.acceptFriends = settings.acceptFriends; // new friends: applies to the next request
    if (d->profile) {
        bool save = false;
        if (!settings.displayName.isEmpty() && settings.displayName != d->profile->displayName()) {
            d->profile->setDisplayName(settings.displayName);
            d->localInfo.displayName = d->profile->displayName();
            save = true;
        }
        // The port is the profile's; a new one is used from the next start (a code given out
        // carries the current one).
        // 0: any free port at the next start (saved then); -1: unchanged.
        if (settings.port >= 0 && settings.port <= 65535 && settings.port != d->profile->port()) {
            d->profile->setPort(quint16(settings.port));
            save = true;
        }
        if (save) {
            Error e;
            if (!d->profile->save(&e))
                Q_EMIT errorOccurred({}, e);
            if (d->discoveryDone) {
                d->updateCode();
                Q_EMIT localInfoReady(d->localInfo);
            }
        }
    }
    Settings perFriend = d->settings;
    perFriend.displayName = d->profile ? d->profile->displayName() : settings.displayName;
    const auto all = d->allFriends();
    for (Friend *f : all)
        f->applySettings(perFriend);
}

void Engine::shutdown()
{
    if (!d->q)
        return;
    // Bye and the last frames to every friend, within one second for all of them together.
    QElapsedTimer budget;
    budget.start();
    const auto all = d->allFriends();
    bool relayed = false;
    for (Friend *f : all)
        relayed = relayed || (f->state() == State::Connected && f->info().path == PathKind::Relay);
    for (Friend *f : all)
        f->shutdown(int(qMax<qint64>(50, 1000 - budget.elapsed())));
    if (d->discovery)
        d->discovery->stop();
    // Our last frames (Done, Bye) may still sit in the TURN server on their way to the friend:
    // stopping the relay deletes the allocation and every connection through it at once, so
    // give the server a moment to pass them on (else the friend sees a cut and starts healing).
    if (d->relays && relayed)
        QThread::msleep(Private::RelayDrainMs);
    if (d->relays)
        d->relays->stop();
    if (d->finder)
        d->finder->stop(); // "going offline" to every friend, then leaves the DHT
    if (d->portMapper)
        d->portMapper->stop(); // removes the mapping from the router (waits at most 1 s)
    qDeleteAll(d->listeners);
    d->listeners.clear();
}

} // namespace Punchline
