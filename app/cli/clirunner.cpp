#include "clirunner.h"

#include "common/textfilter.h"
#include "engine/commandline.h"
#include "identity/peercode.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSaveFile>
#include <QSocketNotifier>
#include <QStandardPaths>
#include <cstdio>
#include <unistd.h>

namespace Punchline {

namespace {

int exitCodeFor(ErrorCode code)
{
    switch (code) {
    case ErrorCode::BadUsage:
    case ErrorCode::BadCode:
    case ErrorCode::CodeChecksum:
    case ErrorCode::CodeVersion:
    case ErrorCode::CodeExpired:
        return CliRunner::BadInput;
    case ErrorCode::ConnectTimeout:
    case ErrorCode::ReconnectTimeout:
    case ErrorCode::SymmetricNat:
        return CliRunner::NoConnection;
    default:
        return CliRunner::Other;
    }
}

void writeOut(const QByteArray &line)
{
    std::fwrite(line.constData(), 1, size_t(line.size()), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

} // namespace

CliRunner::CliRunner(QObject *parent)
    : QObject(parent)
{
    connect(&m_node, &Node::localInfoReady, this, &CliRunner::onLocalInfo);
    connect(&m_node, &Node::stateChanged, this, &CliRunner::onState);
    connect(&m_node, &Node::friendStateChanged, this, &CliRunner::onFriendState);
    connect(&m_node, &Node::connected, this, &CliRunner::onConnected);
    connect(&m_node, &Node::errorOccurred, this, &CliRunner::onError);
    connect(&m_node, &Node::disconnected, this, &CliRunner::onDisconnected);
    connect(&m_node, &Node::transferUpdated, this, &CliRunner::onTransfer);
    connect(
        &m_node, &Node::chatReceived, this, [this](const QByteArray &peer, const ChatMessage &m) {
            emitEvent(
                withPeer({ { QStringLiteral("event"), QStringLiteral("message") },
                             { QStringLiteral("id"), m.id }, { QStringLiteral("text"), m.text },
                             { QStringLiteral("time"), m.time.toString(Qt::ISODateWithMs) } },
                    peer));
            // One message, one line: a friend's newlines cannot fake lines of this program.
            human(QStringLiteral("%1: %2").arg(who(peer), toSingleLine(m.text)));
        });
    connect(&m_node, &Node::chatDelivered, this, [this](const QByteArray &peer, const QString &id) {
        emitEvent(withPeer({ { QStringLiteral("event"), QStringLiteral("delivered") },
                               { QStringLiteral("id"), id } },
            peer));
        human(QStringLiteral("(delivered %1 to %2)").arg(id.left(8), who(peer)));
    });
    connect(&m_node, &Node::rttMeasured, this, [this](const QByteArray &peer, int ms) {
        emitEvent(withPeer(
            { { QStringLiteral("event"), QStringLiteral("rtt") }, { QStringLiteral("ms"), ms } },
            peer));
    });
    connect(&m_node, &Node::friendRequest, this, [this](const FriendRequest &r) {
        emitEvent({ { QStringLiteral("event"), QStringLiteral("request") },
            { QStringLiteral("peer"), QString::fromLatin1(r.fingerprint.toHex()) },
            { QStringLiteral("name"), r.name } });
        human(QStringLiteral("%1 wants to connect (fingerprint %2): /accept-friend %3 or "
                             "/decline-friend %3")
                  .arg(toSingleLine(r.name), QString::fromLatin1(r.fingerprint.toHex()),
                      QString::fromLatin1(r.fingerprint.toHex().left(16))));
        m_requests.insert(r.fingerprint);
    });
    connect(&m_node, &Node::friendRequestExpired, this, [this](const QByteArray &fp) {
        if (!m_requests.remove(fp))
            return;
        emitEvent({ { QStringLiteral("event"), QStringLiteral("request-expired") },
            { QStringLiteral("peer"), QString::fromLatin1(fp.toHex()) } });
        human(QStringLiteral("the request from %1 expired unanswered")
                  .arg(QString::fromLatin1(fp.toHex().left(16))));
    });
    connect(&m_node, &Node::friendsChanged, this, [this](const QList<FriendInfo> &list) {
        for (const FriendInfo &fi : list) {
            FriendSeen &f = m_friends[fi.fingerprint];
            if (f.name.isEmpty())
                f.name = fi.name;
            if (f.presenceKnown && f.online == fi.online)
                continue;
            if (!f.presenceKnown && !fi.online && !fi.presenceSince.isValid())
                continue; // nothing known yet
            f.presenceKnown = true;
            f.online = fi.online;
            emitEvent(withPeer(
                { { QStringLiteral("event"), QStringLiteral("presence") },
                    { QStringLiteral("online"), fi.online },
                    { QStringLiteral("since"), fi.presenceSince.toString(Qt::ISODateWithMs) } },
                fi.fingerprint));
            human(QStringLiteral("%1 is %2")
                      .arg(who(fi.fingerprint),
                          fi.online ? QStringLiteral("online") : QStringLiteral("offline")));
        }
    });
    connect(&m_node, &Node::allDone, this, [this] {
        if (m_exitWhenDone)
            finish(Done);
    });
    // Two scripted peers swapping codes through files: a short poll keeps the gap between their
    // starts (and so the later one's wait) small.
    m_peerFilePoll.setInterval(20);
    connect(&m_peerFilePoll, &QTimer::timeout, this, &CliRunner::waitForPeerFiles);
    m_overallTimer.setSingleShot(true);
    connect(&m_overallTimer, &QTimer::timeout, this, [this] {
        fail(NoConnection,
            { ErrorCode::ConnectTimeout,
                allPeersGiven()
                    ? QStringLiteral("could not connect within %1 s").arg(m_timeoutSec)
                    : QStringLiteral("no code from the peer within %1 s").arg(m_timeoutSec) });
    });
}

int CliRunner::start(const QStringList &arguments)
{
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral("Connect directly to a friend through both of your "
                                               "home routers, then chat and send files."));
    p.addHelpOption();
    p.addVersionOption();
    const SharedOptions shared; // --profile, --port, --stun, --ip-echo: as in the window
    const QCommandLineOption name(QStringLiteral("name"),
        QStringLiteral("Display name your friend sees."), QStringLiteral("NAME"));
    const QCommandLineOption local(QStringLiteral("local"),
        QStringLiteral("Offer only this local address (repeatable)."), QStringLiteral("IP"));
    const QCommandLineOption writeCode(QStringLiteral("write-code"),
        QStringLiteral("Write this side's code to FILE once discovery is done."),
        QStringLiteral("FILE"));
    const QCommandLineOption peer(QStringLiteral("peer"),
        QStringLiteral(
            "A friend's code, @FILE to wait for a file holding it, or host:port[,host:port...] "
            "(repeatable: several friends at once)."),
        QStringLiteral("CODE"));
    const QCommandLineOption say(QStringLiteral("say"),
        QStringLiteral("Send TEXT to every friend once connected (repeatable)."),
        QStringLiteral("TEXT"));
    const QCommandLineOption sayTo(QStringLiteral("say-to"),
        QStringLiteral("Send TEXT to one friend once connected: PEER is a fingerprint prefix (8+ "
                       "hex digits) or the friend's name (repeatable)."),
        QStringLiteral("PEER=TEXT"));
    const QCommandLineOption send(QStringLiteral("send"),
        QStringLiteral("Offer a file or folder to every friend once connected (repeatable)."),
        QStringLiteral("PATH"));
    const QCommandLineOption sendTo(QStringLiteral("send-to"),
        QStringLiteral("Offer a file or folder to one friend (PEER as for --say-to; repeatable)."),
        QStringLiteral("PEER=PATH"));
    const QCommandLineOption downloadDir(QStringLiteral("download-dir"),
        QStringLiteral("Where received files go."), QStringLiteral("DIR"));
    const QCommandLineOption accept(QStringLiteral("accept"),
        QStringLiteral(
            "Incoming offers: all, none or ask (answer with /accept ID or /decline ID on stdin)."),
        QStringLiteral("POLICY"));
    const QCommandLineOption timeout(QStringLiteral("timeout"),
        QStringLiteral("Give up connecting after SEC seconds (exit 3)."), QStringLiteral("SEC"));
    const QCommandLineOption exitWhenDone(QStringLiteral("exit-when-done"),
        QStringLiteral("Exit 0 once everything sent both ways was acknowledged."));
    const QCommandLineOption json(
        QStringLiteral("json"), QStringLiteral("One JSON object per line on stdout."));
    const QCommandLineOption keepalive(QStringLiteral("keepalive"),
        QStringLiteral("Ping interval in seconds (default 15)."), QStringLiteral("SEC"));
    const QCommandLineOption peerTimeout(QStringLiteral("peer-timeout"),
        QStringLiteral("A peer silent this long counts as lost (default 45)."),
        QStringLiteral("SEC"));
    const QCommandLineOption reconnect(QStringLiteral("reconnect-window"),
        QStringLiteral("How long to keep trying after the link is lost (default 600)."),
        QStringLiteral("SEC"));
    const QCommandLineOption lowTtl(QStringLiteral("low-ttl"),
        QStringLiteral("After a RST, reopen our NAT mapping with a SYN of this TTL (0 = off, the "
                       "default; helps only behind lenient NATs)."),
        QStringLiteral("N"));
    const QCommandLineOption attemptTimeout(QStringLiteral("attempt-timeout"),
        QStringLiteral("One connect attempt lasts at most MS milliseconds (default 5000)."),
        QStringLiteral("MS"));
    const QCommandLineOption retryInterval(QStringLiteral("retry-interval"),
        QStringLiteral("New attempts at least every MS milliseconds (default 500)."),
        QStringLiteral("MS"));
    p.addOptions(shared.options());
    p.addOptions({ name, local, writeCode, peer, say, sayTo, send, sendTo, downloadDir, accept,
        timeout, exitWhenDone, json, keepalive, peerTimeout, reconnect, lowTtl, attemptTimeout,
        retryInterval });

    if (!p.parse(arguments)) {
        fail(BadInput, { ErrorCode::BadUsage, p.errorText() });
        return BadInput;
    }
    if (p.isSet(QStringLiteral("help"))) {
        writeOut(p.helpText().toUtf8());
        return Done;
    }
    if (p.isSet(QStringLiteral("version"))) {
        writeOut(QByteArrayLiteral("punchline-cli " PUNCHLINE_VERSION));
        return Done;
    }
    m_json = p.isSet(json);
    if (!p.positionalArguments().isEmpty()) {
        fail(BadInput,
            { ErrorCode::BadUsage,
                QStringLiteral("unexpected argument \"%1\"")
                    .arg(p.positionalArguments().first()) });
        return BadInput;
    }

    auto intOption = [&](const QCommandLineOption &o, int min, int max, int *out) -> bool {
        if (!p.isSet(o))
            return true;
        bool ok = false;
        const int v = p.value(o).toInt(&ok);
        if (!ok || v < min || v > max) {
            fail(BadInput,
                { ErrorCode::BadUsage,
                    QStringLiteral("--%1 needs a number from %2 to %3")
                        .arg(o.names().first())
                        .arg(min)
                        .arg(max) });
            return false;
        }
        *out = v;
        return true;
    };

    Settings &s = m_settings;
    NetworkOptions net;
    Error netError;
    if (!shared.read(p, &net, &netError)) {
        fail(BadInput, netError);
        return BadInput;
    }
    s.profileDir = net.profileDir.value_or(
        QStandardPaths::writableLocation(QStandardPaths::AppDataLocation));
    s.displayName = p.value(name);
    int keepaliveSec = 15, peerTimeoutSec = 45, reconnectSec = 600, ttl = 0;
    if (!intOption(timeout, 1, 86400, &m_timeoutSec)
        || !intOption(keepalive, 1, 3600, &keepaliveSec)
        || !intOption(peerTimeout, 2, 86400, &peerTimeoutSec)
        || !intOption(reconnect, 0, 86400, &reconnectSec) || !intOption(lowTtl, 0, 64, &ttl)
        || !intOption(attemptTimeout, 100, 600000, &s.attemptTimeoutMs)
        || !intOption(retryInterval, 50, 60000, &s.retryIntervalMs))
        return BadInput;
    s.port = net.port.value_or(-1);
    s.keepaliveIntervalMs = keepaliveSec * 1000;
    s.peerSilentLimitMs = peerTimeoutSec * 1000;
    s.reconnectWindowMs = reconnectSec * 1000;
    s.lowTtl = ttl;
    s.connectTimeoutMs = m_timeoutSec * 1000;

    s.stunServers = net.stunServers.value_or(Settings::defaultStunServers());
    s.ipEchoUrl = net.ipEchoUrl.value_or(Settings::defaultIpEchoUrl());
    // The friend finder is on for users, with the public bootstrap and LAN discovery; tests pass
    // --dht none or lab nodes (and --dht-local-discovery off outside a lab namespace).
    s.dht = true;
    s.dhtBootstrap = Settings::defaultDhtBootstrap();
    s.dhtLocalDiscovery = true;
    net.applyTo(&s);
    s.portMapping = net.portMapping.value_or(true); // users' machines: on, like STUN
    Error turnError;
    s.turnServers = turnServersFor(net, s.profileDir, &turnError);
    if (turnError.isError())
        human(turnError.message);
    for (const QString &a : p.values(local)) {
        if (QHostAddress(a).isNull()) {
            fail(BadInput,
                { ErrorCode::BadUsage,
                    QStringLiteral("--local needs an IP address, got \"%1\"").arg(a) });
            return BadInput;
        }
        s.localAddresses.append(a);
    }
    s.downloadDir = p.isSet(downloadDir)
        ? QDir(p.value(downloadDir)).absolutePath()
        : QStandardPaths::writableLocation(QStandardPaths::DownloadLocation);
    const QString policy = p.value(accept);
    if (policy.isEmpty() || policy == QLatin1String("ask"))
        s.accept = AcceptPolicy::Ask;
    else if (policy == QLatin1String("all"))
        s.accept = AcceptPolicy::All;
    else if (policy == QLatin1String("none"))
        s.accept = AcceptPolicy::None;
    else {
        fail(BadInput, { ErrorCode::BadUsage, QStringLiteral("--accept takes all, none or ask") });
        return BadInput;
    }
    auto readable = [&](const QString &path, QString *absolute) {
        const QFileInfo fi(path);
        if (!fi.exists() || !fi.isReadable()) {
            fail(BadInput, { ErrorCode::BadUsage, QStringLiteral("cannot read \"%1\"").arg(path) });
            return false;
        }
        *absolute = fi.absoluteFilePath();
        return true;
    };
    auto directed = [&](const QString &value, const QString &flag, Directed *out) {
        const qsizetype eq = value.indexOf(QLatin1Char('='));
        if (eq <= 0) {
            fail(BadInput,
                { ErrorCode::BadUsage,
                    QStringLiteral("--%1 needs PEER=VALUE (PEER: 8+ hex digits of the friend's "
                                   "fingerprint, or its name), got \"%2\"")
                        .arg(flag, value) });
            return false;
        }
        out->peer = value.left(eq).trimmed();
        out->value = value.mid(eq + 1);
        return true;
    };
    for (const QString &path : p.values(send)) {
        QString absolute;
        if (!readable(path, &absolute))
            return BadInput;
        m_send.append(absolute);
    }
    for (const QString &v : p.values(sendTo)) {
        Directed d;
        if (!directed(v, QStringLiteral("send-to"), &d) || !readable(d.value, &d.value))
            return BadInput;
        m_sendTo.append(d);
    }
    for (const QString &v : p.values(sayTo)) {
        Directed d;
        if (!directed(v, QStringLiteral("say-to"), &d))
            return BadInput;
        m_sayTo.append(d);
    }
    m_say = p.values(say);
    m_exitWhenDone = p.isSet(exitWhenDone);
    m_writeCodeFile = p.value(writeCode);

    for (const QString &value : p.values(peer)) {
        PeerArg a;
        if (value.startsWith(QLatin1Char('@'))) {
            a.file = value.mid(1);
        } else {
            // Check a pasted code before doing anything else: a damaged one is exit 2 at once.
            const PeerInput in = parsePeerInput(value);
            if (!in.isValid()) {
                fail(BadInput, in.error);
                return BadInput;
            }
            a.text = value;
        }
        m_peers.append(a);
    }

    if (m_timeoutSec > 0)
        m_overallTimer.start(m_timeoutSec * 1000);
    m_stdin = new QSocketNotifier(STDIN_FILENO, QSocketNotifier::Read, this);
    connect(m_stdin, &QSocketNotifier::activated, this, &CliRunner::readStdin);
    m_node.start(s);
    return -1;
}

namespace {
QJsonArray relaysJson(const LocalInfo &info)
{
    QJsonArray out;
    for (const Endpoint &e : info.relayEndpoints)
        out.append(e.toString());
    return out;
}
} // namespace

// Router port mapping: one `mapping` event per change of what the router said.
void CliRunner::showMapping(const LocalInfo &info)
{
    if (info.mappingStatus.isEmpty() || info.mappingStatus == m_mappingShown)
        return;
    m_mappingShown = info.mappingStatus;
    emitEvent({ { QStringLiteral("event"), QStringLiteral("mapping") },
        { QStringLiteral("status"), info.mappingStatus },
        { QStringLiteral("endpoint"),
            info.mappedEndpoint ? QJsonValue(info.mappedEndpoint->toString()) : QJsonValue() },
        { QStringLiteral("protocol"),
            info.mappingProtocol.isEmpty() ? QJsonValue() : QJsonValue(info.mappingProtocol) } });
    human(QStringLiteral("Port mapping: %1").arg(info.mappingStatus));
}

void CliRunner::onLocalInfo(const LocalInfo &info)
{
    m_localReady = true;
    QJsonArray local;
    for (const Endpoint &e : info.local)
        local.append(e.toString());
    emitEvent({ { QStringLiteral("event"), QStringLiteral("addresses") },
        { QStringLiteral("local"), local },
        { QStringLiteral("public"),
            info.publicEndpoint ? QJsonValue(info.publicEndpoint->toString()) : QJsonValue() },
        { QStringLiteral("public_source"), publicSourceName(info.publicSource) },
        { QStringLiteral("public_port_guessed"), info.publicPortGuessed },
        { QStringLiteral("nat"), natName(info.nat) },
        { QStringLiteral("explanation"), info.explanation },
        { QStringLiteral("name"), info.displayName },
        { QStringLiteral("fingerprint"), QString::fromLatin1(info.fingerprint.toHex()) },
        { QStringLiteral("code"), info.code },
        { QStringLiteral("stun_answered"), QJsonArray::fromStringList(info.stunAnswered) },
        { QStringLiteral("code_expires"),
            info.codeExpires.isValid() ? QJsonValue(info.codeExpires.toString(Qt::ISODate))
                                       : QJsonValue() },
        { QStringLiteral("dht"),
            QJsonObject { { QStringLiteral("enabled"), info.dhtEnabled },
                { QStringLiteral("online"), info.dhtOnline },
                { QStringLiteral("status"), info.dhtStatus } } },
        { QStringLiteral("relays"), relaysJson(info) },
        { QStringLiteral("relay_status"), info.relayStatus } });
    if (!info.relayStatus.isEmpty())
        human(QStringLiteral("Relays: %1").arg(info.relayStatus));
    if (info.dhtEnabled && (info.dhtOnline != m_dhtOnline || info.dhtStatus != m_dhtStatus)) {
        m_dhtOnline = info.dhtOnline;
        m_dhtStatus = info.dhtStatus;
        emitEvent({ { QStringLiteral("event"), QStringLiteral("dht") },
            { QStringLiteral("online"), info.dhtOnline },
            { QStringLiteral("status"), info.dhtStatus } });
        human(info.dhtStatus);
    }
    QStringList locals;
    for (const Endpoint &e : info.local)
        locals << e.toString();
    human(QStringLiteral("Local addresses: %1").arg(locals.join(QStringLiteral(", "))));
    human(
        QStringLiteral("Public address: %1 (%2%3), NAT: %4")
            .arg(info.publicEndpoint ? info.publicEndpoint->toString() : QStringLiteral("unknown"),
                publicSourceName(info.publicSource),
                info.publicPortGuessed ? QStringLiteral(", port guessed") : QString(),
                natName(info.nat)));
    if (!info.explanation.isEmpty())
        human(info.explanation);
    showMapping(info);
    human(QStringLiteral("Your code (send it to your friend):\n%1").arg(info.code));

    if (!m_writeCodeFile.isEmpty()) {
        QSaveFile f(m_writeCodeFile);
        if (!f.open(QIODevice::WriteOnly) || f.write(info.code.toUtf8() + '\n') < 0
            || !f.commit()) {
            fail(Other,
                { ErrorCode::FileError,
                    QStringLiteral("cannot write the code to %1: %2")
                        .arg(m_writeCodeFile, f.errorString()) });
            return;
        }
    }
    bool waitForFiles = false;
    for (PeerArg &a : m_peers) {
        if (!a.file.isEmpty())
            waitForFiles = true;
        else if (!a.given && usePeerText(a.text))
            a.given = true;
    }
    if (waitForFiles) {
        m_peerFilePoll.start();
        waitForPeerFiles();
    }
}

void CliRunner::waitForPeerFiles()
{
    bool waiting = false;
    for (PeerArg &a : m_peers) {
        if (a.given || a.file.isEmpty())
            continue;
        if (!QFileInfo::exists(a.file)) {
            waiting = true;
            continue;
        }
        QFile f(a.file);
        if (!f.open(QIODevice::ReadOnly)) {
            fail(BadInput,
                { ErrorCode::BadCode,
                    QStringLiteral("cannot read %1: %2").arg(a.file, f.errorString()) });
            return;
        }
        a.given = true;
        if (!usePeerText(QString::fromUtf8(f.read(64 * 1024))))
            return;
    }
    if (!waiting)
        m_peerFilePoll.stop();
}

bool CliRunner::usePeerText(const QString &text)
{
    const PeerInput in = parsePeerInput(text);
    if (!in.isValid()) {
        fail(BadInput, in.error);
        return false;
    }
    // The same friend named twice is one friend to wait for.
    if (in.code) {
        m_friends[in.code->fingerprint].name = in.code->name;
        m_expected.insert(QString::fromLatin1(in.code->fingerprint.toHex()));
    } else {
        m_expected.insert(text.trimmed());
    }
    m_node.connectToPeer(text);
    return true;
}

void CliRunner::onState(State state)
{
    // The device: idle, discovering, ready, failed (no "peer").
    emitEvent({ { QStringLiteral("event"), QStringLiteral("state") },
        { QStringLiteral("state"), stateName(state) } });
    if (state == State::Failed) {
        // The engine could not start (port, identity); its last error says why.
        finish(m_lastError.isError() ? exitCodeFor(m_lastError.code) : int(Other));
        return;
    }
    if (state == State::Ready)
        human(QStringLiteral("[%1]").arg(stateName(state)));
}

void CliRunner::onFriendState(const QByteArray &peer, State state)
{
    if (!peer.isEmpty() && !m_friends.contains(peer))
        m_friends.remove(QByteArray()); // the trust-on-first-use attempt now has its fingerprint
    FriendSeen &f = m_friends[peer];
    f.state = state;
    emitEvent(withPeer({ { QStringLiteral("event"), QStringLiteral("state") },
                           { QStringLiteral("state"), stateName(state) } },
        peer));
    if (state == State::Connecting || state == State::Reconnecting)
        human(QStringLiteral("[%1 %2]").arg(stateName(state), who(peer)));
    if (state == State::Failed || state == State::Disconnected || state == State::Idle)
        checkAllGone();
}

void CliRunner::onConnected(const QByteArray &peer, const ConnectionInfo &info)
{
    m_everConnected = true;
    m_friends.remove(QByteArray()); // a trust-on-first-use attempt now has its fingerprint
    FriendSeen &f = m_friends[peer];
    f.name = info.peerName;
    emitEvent(withPeer({ { QStringLiteral("event"), QStringLiteral("connected") },
                           { QStringLiteral("path"), pathName(info.path) },
                           { QStringLiteral("local"), info.local.toString() },
                           { QStringLiteral("remote"), info.remote.toString() },
                           { QStringLiteral("elapsed_ms"), info.elapsedMs },
                           { QStringLiteral("peer_name"), info.peerName },
                           { QStringLiteral("peer_fingerprint"),
                               QString::fromLatin1(info.peerFingerprint.toHex()) },
                           { QStringLiteral("pinned"), info.peerPinnedByCode },
                           { QStringLiteral("resumed"), info.resumed },
                           { QStringLiteral("via"), foundViaName(info.via) } },
        peer));
    human(QStringLiteral("Connected to %1 (%2, %3 -> %4) in %5 ms%6")
              .arg(who(peer), pathName(info.path), info.local.toString(), info.remote.toString())
              .arg(info.elapsedMs)
              .arg(info.peerPinnedByCode
                      ? QString()
                      : QStringLiteral("\nFirst connection to this peer: compare its fingerprint "
                                       "out of band: %1")
                            .arg(QString::fromLatin1(info.peerFingerprint.toHex()))));
    if (!f.connectedOnce) {
        f.connectedOnce = true;
        for (const QString &text : std::as_const(m_say))
            m_node.sendChat(peer, text);
        for (const Directed &d : std::as_const(m_sayTo)) {
            if (matches(d.peer, peer, f.name))
                m_node.sendChat(peer, d.value);
        }
        for (const QString &path : std::as_const(m_send))
            m_node.sendPaths(peer, { path });
        for (const Directed &d : std::as_const(m_sendTo)) {
            if (matches(d.peer, peer, f.name))
                m_node.sendPaths(peer, { d.value });
        }
    }
    // Every friend named on the command line is connected: the deadline is met, and the "all
    // done" handshake can start (it covers every friend).
    int connectedOnce = 0;
    for (const FriendSeen &s : std::as_const(m_friends))
        connectedOnce += s.connectedOnce ? 1 : 0;
    if (connectedOnce >= m_expected.size() && allPeersGiven()) {
        m_overallTimer.stop();
        if (m_exitWhenDone && !m_doneRequested) {
            m_doneRequested = true;
            m_node.requestDone();
        }
    }
}

void CliRunner::onError(const QByteArray &peer, const Error &error)
{
    // What someone else did (a stranger dropped, an outsider failing a friend's proof, a path
    // to another program) is shown but never decides this run's exit code.
    const bool outsider = error.code == ErrorCode::StrangerDropped
        || error.code == ErrorCode::PeerIdentityMismatch || error.code == ErrorCode::NotPunchline
        || error.code == ErrorCode::TlsError || error.code == ErrorCode::RendezvousOffline;
    if (!outsider) {
        // An empty fingerprint is the device, or the trust-on-first-use attempt (both, then).
        if (peer.isEmpty())
            m_lastError = error;
        if (!peer.isEmpty() || m_friends.contains(peer))
            m_friends[peer].lastError = error;
    }
    emitEvent(withPeer({ { QStringLiteral("event"), QStringLiteral("error") },
                           { QStringLiteral("code"), errorCodeName(error.code) },
                           { QStringLiteral("message"), error.message } },
        peer));
    if (!m_json)
        std::fprintf(stderr, "punchline-cli: %s%s\n",
            peer.isEmpty() ? "" : qPrintable(QStringLiteral("%1: ").arg(who(peer))),
            qPrintable(toSingleLine(error.message)));
    switch (error.code) {
    case ErrorCode::PortInUse:
    case ErrorCode::IdentityError:
    case ErrorCode::BadCode:
    case ErrorCode::CodeChecksum:
    case ErrorCode::CodeVersion:
    case ErrorCode::CodeExpired:
    case ErrorCode::ConnectedToSelf:
        // A problem of this run itself (not of one friend's connection): nothing to wait for.
        if (peer.isEmpty())
            finish(exitCodeFor(error.code));
        break;
    default:
        break;
    }
}

void CliRunner::onDisconnected(const QByteArray &peer, const Error &why)
{
    human(QStringLiteral("Disconnected from %1%2")
              .arg(who(peer), why.isError() ? QStringLiteral(": ") + why.message : QString()));
    if (!why.isError() || why.code == ErrorCode::PeerClosed) {
        m_friends[peer].state = State::Disconnected;
        checkAllGone();
    }
}

// The run ends by itself once no friend of it is being reached any more: each left on purpose
// (exit 0) or the engine gave up on it (its error's exit code).
void CliRunner::checkAllGone()
{
    if (m_peers.isEmpty() || !allPeersGiven())
        return;
    bool anyFailed = false;
    Error why;
    int settled = 0;
    for (const FriendSeen &f : std::as_const(m_friends)) {
        if (f.state == State::Connecting || f.state == State::Securing
            || f.state == State::Connected || f.state == State::Reconnecting)
            return;
        if (f.state == State::Failed) {
            anyFailed = true;
            if (f.lastError.isError())
                why = f.lastError;
        }
        if (f.state == State::Failed || f.state == State::Disconnected)
            ++settled;
    }
    if (settled == 0)
        return;
    if (anyFailed)
        finish(why.isError() ? exitCodeFor(why.code) : int(Other));
    else
        finish(Done);
}

void CliRunner::onTransfer(const QByteArray &peer, const TransferInfo &t)
{
    m_transferPeer.insert(t.id, peer);
    QJsonObject o { { QStringLiteral("event"), QStringLiteral("transfer") },
        { QStringLiteral("id"), t.id },
        { QStringLiteral("direction"),
            t.direction == TransferDirection::In ? QStringLiteral("in") : QStringLiteral("out") },
        { QStringLiteral("name"), t.name }, { QStringLiteral("bytes"), t.bytes },
        { QStringLiteral("total"), t.total }, { QStringLiteral("files"), int(t.files.size()) },
        { QStringLiteral("state"), transferStateName(t.state) } };
    if (t.resumedFrom >= 0)
        o.insert(QStringLiteral("resumed_from"), t.resumedFrom);
    if (t.state == TransferState::Progress) {
        o.insert(QStringLiteral("rate"), t.rateBytesPerSec);
        o.insert(QStringLiteral("eta_ms"), t.etaMs);
    }
    if (t.state == TransferState::Done) {
        o.insert(QStringLiteral("path"), t.path);
        o.insert(QStringLiteral("sha256"), t.sha256);
        o.insert(QStringLiteral("elapsed_ms"), t.elapsedMs);
    }
    if (t.error.isError()) {
        o.insert(QStringLiteral("error"), errorCodeName(t.error.code));
        o.insert(QStringLiteral("message"), t.error.message);
    }
    // "name" is the transfer's here (as before); the friend's goes as "peer_name".
    o.insert(QStringLiteral("peer"), QString::fromLatin1(peer.toHex()));
    o.insert(QStringLiteral("peer_name"), m_friends.value(peer).name);
    emitEvent(o);
    if (t.state != TransferState::Progress)
        human(
            QStringLiteral("transfer %1 %2 %3: %4 (%5/%6 bytes)%7")
                .arg(t.id.left(8),
                    t.direction == TransferDirection::In ? QStringLiteral("from")
                                                         : QStringLiteral("to"),
                    who(peer), transferStateName(t.state))
                .arg(t.bytes)
                .arg(t.total)
                .arg(t.error.isError()
                        ? QStringLiteral(": ") + toSingleLine(t.error.message)
                        : (t.state == TransferState::Offered && t.direction == TransferDirection::In
                                ? QStringLiteral(" — answer /accept %1 or /decline %1").arg(t.id)
                                : QString())));
}

void CliRunner::readStdin()
{
    char buffer[4096];
    const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof(buffer));
    if (n <= 0) {
        m_stdin->setEnabled(false); // EOF (or /dev/null): nothing more to send from stdin
        return;
    }
    m_stdinBuffer.append(buffer, n);
    if (m_stdinBuffer.size() > 1024 * 1024)
        m_stdinBuffer.clear(); // a line this long is not chat; drop it rather than grow
    qsizetype nl;
    while ((nl = m_stdinBuffer.indexOf('\n')) >= 0) {
        const QString line = QString::fromUtf8(m_stdinBuffer.left(nl));
        m_stdinBuffer.remove(0, nl + 1);
        handleInputLine(line);
    }
}

bool CliRunner::allPeersGiven() const
{
    for (const PeerArg &a : std::as_const(m_peers)) {
        if (!a.given)
            return false;
    }
    return true;
}

QList<QByteArray> CliRunner::activeFriends() const
{
    QList<QByteArray> out;
    for (auto it = m_friends.cbegin(); it != m_friends.cend(); ++it) {
        const State s = it.value().state;
        if (!it.key().isEmpty()
            && (s == State::Connecting || s == State::Securing || s == State::Connected
                || s == State::Reconnecting))
            out.append(it.key());
    }
    return out;
}

bool CliRunner::matches(const QString &peer, const QByteArray &fingerprint, const QString &name)
{
    const QString hex = QString::fromLatin1(fingerprint.toHex());
    static const QRegularExpression hexPrefix(QStringLiteral("^[0-9A-Fa-f]{8,64}$"));
    if (hexPrefix.match(peer).hasMatch() && hex.startsWith(peer.toLower()))
        return true;
    return !name.isEmpty() && name.compare(peer, Qt::CaseInsensitive) == 0;
}

QList<QByteArray> CliRunner::matchFriends(const QString &peer) const
{
    QList<QByteArray> out;
    for (auto it = m_friends.cbegin(); it != m_friends.cend(); ++it) {
        if (!it.key().isEmpty() && matches(peer, it.key(), it.value().name))
            out.append(it.key());
    }
    return out;
}

void CliRunner::handleInputLine(const QString &line)
{
    if (line.startsWith(QLatin1String("/accept-friend "))
        || line.startsWith(QLatin1String("/decline-friend "))) {
        const bool yes = line.startsWith(QLatin1String("/accept-friend "));
        const QByteArray prefix = line.section(QLatin1Char(' '), 1).trimmed().toLower().toLatin1();
        QList<QByteArray> match;
        for (const QByteArray &fp : std::as_const(m_requests)) {
            if (prefix.size() >= 8 && fp.toHex().startsWith(prefix))
                match.append(fp);
        }
        if (match.size() != 1) {
            onError({},
                { ErrorCode::BadUsage,
                    QStringLiteral("no single request matches \"%1\" (give at least 8 hex digits "
                                   "of the fingerprint)")
                        .arg(QString::fromLatin1(prefix)) });
            return;
        }
        m_requests.remove(match.first());
        m_node.answerRequest(match.first(), yes);
        return;
    }
    if (line.trimmed() == QLatin1String("/new-code")) {
        m_node.newCode();
        return;
    }
    if (line.startsWith(QLatin1String("/accept ")) || line.startsWith(QLatin1String("/decline "))) {
        const bool yes = line.startsWith(QLatin1String("/accept "));
        const QString id = line.section(QLatin1Char(' '), 1).trimmed();
        if (!m_transferPeer.contains(id)) {
            onError({}, { ErrorCode::BadUsage, QStringLiteral("no transfer %1").arg(id) });
            return;
        }
        m_node.acceptTransfer(m_transferPeer.value(id), id, yes);
        return;
    }
    if (line.startsWith(QLatin1String("/to "))) {
        const QString peer = line.section(QLatin1Char(' '), 1, 1);
        const QString text = line.section(QLatin1Char(' '), 2);
        const QList<QByteArray> to = matchFriends(peer);
        if (to.size() != 1 || text.isEmpty()) {
            onError({},
                { ErrorCode::BadUsage,
                    to.isEmpty() ? QStringLiteral("no friend matches \"%1\"").arg(peer)
                                 : (to.size() > 1 ? QStringLiteral("\"%1\" matches several "
                                                                   "friends: give more of the "
                                                                   "fingerprint")
                                                        .arg(peer)
                                                  : QStringLiteral("/to PEER TEXT")) });
            return;
        }
        m_node.sendChat(to.first(), text);
        return;
    }
    QList<QByteArray> to = activeFriends();
    if (line.startsWith(QLatin1String("/send "))) {
        const QString path = QFileInfo(line.mid(6).trimmed()).absoluteFilePath();
        for (const QByteArray &peer : std::as_const(to))
            m_node.sendPaths(peer, { path });
        return;
    }
    if (line.isEmpty())
        return;
    if (to.isEmpty()) {
        // Nobody is being reached yet: the line goes to every friend once connected, like --say.
        m_say.append(line);
        return;
    }
    for (const QByteArray &peer : std::as_const(to))
        m_node.sendChat(peer, line);
}

QJsonObject CliRunner::withPeer(QJsonObject event, const QByteArray &peer) const
{
    if (!peer.isEmpty()) {
        event.insert(QStringLiteral("peer"), QString::fromLatin1(peer.toHex()));
        if (!event.contains(QStringLiteral("name")))
            event.insert(QStringLiteral("name"), m_friends.value(peer).name);
    }
    return event;
}

QString CliRunner::who(const QByteArray &peer) const
{
    const QString name = m_friends.value(peer).name;
    if (!name.isEmpty())
        return toSingleLine(name);
    return peer.isEmpty() ? QStringLiteral("friend") : QString::fromLatin1(peer.toHex().left(8));
}

void CliRunner::emitEvent(const QJsonObject &event)
{
    if (m_json)
        writeOut(QJsonDocument(event).toJson(QJsonDocument::Compact));
}

void CliRunner::human(const QString &line)
{
    if (!m_json)
        writeOut(line.toUtf8());
}

void CliRunner::fail(int code, const Error &error)
{
    onError({}, error);
    finish(code);
}

void CliRunner::interrupt()
{
    // Ctrl-C / SIGTERM: leave politely (Node's destructor sends Bye), so the friend's side
    // does not start healing a link we closed on purpose.
    human(QStringLiteral("Interrupted: closing the connection."));
    finish(m_lastError.isError() || !m_everConnected ? int(Other) : int(Done));
}

void CliRunner::finish(int code)
{
    if (m_finished)
        return;
    m_finished = true;
    Q_EMIT finished(code);
}

} // namespace Punchline
