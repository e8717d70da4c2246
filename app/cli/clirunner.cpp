#include "clirunner.h"

#include "identity/peercode.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
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
    connect(&m_node, &Node::connected, this, &CliRunner::onConnected);
    connect(&m_node, &Node::errorOccurred, this, &CliRunner::onError);
    connect(&m_node, &Node::disconnected, this, &CliRunner::onDisconnected);
    connect(&m_node, &Node::transferUpdated, this, &CliRunner::onTransfer);
    connect(&m_node, &Node::chatReceived, this, [this](const ChatMessage &m) {
        emitEvent({ { QStringLiteral("event"), QStringLiteral("message") },
            { QStringLiteral("id"), m.id }, { QStringLiteral("text"), m.text },
            { QStringLiteral("time"), m.time.toString(Qt::ISODateWithMs) } });
        human(QStringLiteral("%1: %2").arg(
            m_peerName.isEmpty() ? QStringLiteral("friend") : m_peerName, m.text));
    });
    connect(&m_node, &Node::chatDelivered, this, [this](const QString &id) {
        emitEvent({ { QStringLiteral("event"), QStringLiteral("delivered") },
            { QStringLiteral("id"), id } });
        human(QStringLiteral("(delivered %1)").arg(id.left(8)));
    });
    connect(&m_node, &Node::rttMeasured, this, [this](int ms) {
        emitEvent(
            { { QStringLiteral("event"), QStringLiteral("rtt") }, { QStringLiteral("ms"), ms } });
    });
    connect(&m_node, &Node::allDone, this, [this] {
        if (m_exitWhenDone)
            finish(Done);
    });
    // Two scripted peers swapping codes through files: a short poll keeps the gap between their
    // starts (and so the later one's wait) small.
    m_peerFilePoll.setInterval(20);
    connect(&m_peerFilePoll, &QTimer::timeout, this, &CliRunner::waitForPeerFile);
    m_overallTimer.setSingleShot(true);
    connect(&m_overallTimer, &QTimer::timeout, this, [this] {
        if (!m_everConnected)
            fail(NoConnection,
                { ErrorCode::ConnectTimeout,
                    m_peerGiven
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
    const QCommandLineOption profile(QStringLiteral("profile"),
        QStringLiteral("Profile folder (identity, settings, known peers)."), QStringLiteral("DIR"));
    const QCommandLineOption name(QStringLiteral("name"),
        QStringLiteral("Display name your friend sees."), QStringLiteral("NAME"));
    const QCommandLineOption port(QStringLiteral("port"),
        QStringLiteral("Local TCP port (0 = any free port; default: the profile's port)."),
        QStringLiteral("N"));
    const QCommandLineOption stun(QStringLiteral("stun"),
        QStringLiteral("STUN server host:port (repeatable; 'none' disables)."),
        QStringLiteral("HOST:PORT"));
    const QCommandLineOption ipEcho(QStringLiteral("ip-echo"),
        QStringLiteral("IP echo URL used when no STUN server answers ('none' disables)."),
        QStringLiteral("URL"));
    const QCommandLineOption local(QStringLiteral("local"),
        QStringLiteral("Offer only this local address (repeatable)."), QStringLiteral("IP"));
    const QCommandLineOption writeCode(QStringLiteral("write-code"),
        QStringLiteral("Write this side's code to FILE once discovery is done."),
        QStringLiteral("FILE"));
    const QCommandLineOption peer(QStringLiteral("peer"),
        QStringLiteral(
            "The friend's code, @FILE to wait for a file holding it, or host:port[,host:port...]."),
        QStringLiteral("CODE"));
    const QCommandLineOption say(QStringLiteral("say"),
        QStringLiteral("Send TEXT once connected (repeatable)."), QStringLiteral("TEXT"));
    const QCommandLineOption send(QStringLiteral("send"),
        QStringLiteral("Offer a file or folder once connected (repeatable)."),
        QStringLiteral("PATH"));
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
    p.addOptions({ profile, name, port, stun, ipEcho, local, writeCode, peer, say, send,
        downloadDir, accept, timeout, exitWhenDone, json, keepalive, peerTimeout, reconnect, lowTtl,
        attemptTimeout, retryInterval });

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
    s.profileDir = p.isSet(profile)
        ? QDir(p.value(profile)).absolutePath()
        : QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    s.displayName = p.value(name);
    int portValue = -1;
    int keepaliveSec = 15, peerTimeoutSec = 45, reconnectSec = 600, ttl = 0;
    if (!intOption(port, 0, 65535, &portValue) || !intOption(timeout, 1, 86400, &m_timeoutSec)
        || !intOption(keepalive, 1, 3600, &keepaliveSec)
        || !intOption(peerTimeout, 2, 86400, &peerTimeoutSec)
        || !intOption(reconnect, 0, 86400, &reconnectSec) || !intOption(lowTtl, 0, 64, &ttl)
        || !intOption(attemptTimeout, 100, 600000, &s.attemptTimeoutMs)
        || !intOption(retryInterval, 50, 60000, &s.retryIntervalMs))
        return BadInput;
    s.port = portValue;
    s.keepaliveIntervalMs = keepaliveSec * 1000;
    s.peerSilentLimitMs = peerTimeoutSec * 1000;
    s.reconnectWindowMs = reconnectSec * 1000;
    s.lowTtl = ttl;
    s.connectTimeoutMs = m_timeoutSec * 1000;

    const QStringList stunValues = p.values(stun);
    if (stunValues.contains(QStringLiteral("none"))) {
        s.stunServers.clear();
    } else if (stunValues.isEmpty()) {
        s.stunServers = Settings::defaultStunServers();
    } else {
        for (const QString &v : stunValues) {
            const qsizetype colon = v.lastIndexOf(QLatin1Char(':'));
            bool ok = false;
            const int portNumber = colon > 0 ? v.mid(colon + 1).toInt(&ok) : 0;
            if (!ok || portNumber <= 0 || portNumber > 65535) {
                fail(BadInput,
                    { ErrorCode::BadUsage,
                        QStringLiteral("--stun needs HOST:PORT, got \"%1\"").arg(v) });
                return BadInput;
            }
            s.stunServers.append(v);
        }
    }
    if (p.isSet(ipEcho))
        s.ipEchoUrl = p.value(ipEcho) == QLatin1String("none") ? QString() : p.value(ipEcho);
    else
        s.ipEchoUrl = Settings::defaultIpEchoUrl();
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
    for (const QString &path : p.values(send)) {
        const QFileInfo fi(path);
        if (!fi.exists() || !fi.isReadable()) {
            fail(BadInput, { ErrorCode::BadUsage, QStringLiteral("cannot read \"%1\"").arg(path) });
            return BadInput;
        }
        m_send.append(fi.absoluteFilePath());
    }
    m_say = p.values(say);
    m_exitWhenDone = p.isSet(exitWhenDone);
    m_writeCodeFile = p.value(writeCode);

    if (p.isSet(peer)) {
        m_peerArg = p.value(peer);
        if (m_peerArg.startsWith(QLatin1Char('@'))) {
            m_peerFile = m_peerArg.mid(1);
        } else {
            // Check a pasted code before doing anything else: a damaged one is exit 2 at once.
            const PeerInput in = parsePeerInput(m_peerArg);
            if (!in.isValid()) {
                fail(BadInput, in.error);
                return BadInput;
            }
        }
    }

    if (m_timeoutSec > 0)
        m_overallTimer.start(m_timeoutSec * 1000);
    m_stdin = new QSocketNotifier(STDIN_FILENO, QSocketNotifier::Read, this);
    connect(m_stdin, &QSocketNotifier::activated, this, &CliRunner::readStdin);
    m_node.start(s);
    return -1;
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
        { QStringLiteral("code"), info.code } });
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
    if (!m_peerFile.isEmpty()) {
        m_peerFilePoll.start();
        waitForPeerFile();
    } else if (!m_peerArg.isEmpty()) {
        usePeerText(m_peerArg);
    }
}

void CliRunner::waitForPeerFile()
{
    if (m_peerGiven || !QFileInfo::exists(m_peerFile))
        return;
    m_peerFilePoll.stop();
    QFile f(m_peerFile);
    if (!f.open(QIODevice::ReadOnly)) {
        fail(BadInput,
            { ErrorCode::BadCode,
                QStringLiteral("cannot read %1: %2").arg(m_peerFile, f.errorString()) });
        return;
    }
    usePeerText(QString::fromUtf8(f.read(64 * 1024)));
}

void CliRunner::usePeerText(const QString &text)
{
    const PeerInput in = parsePeerInput(text);
    if (!in.isValid()) {
        fail(BadInput, in.error);
        return;
    }
    m_peerGiven = true;
    m_node.connectToPeer(text);
}

void CliRunner::onState(State state)
{
    emitEvent({ { QStringLiteral("event"), QStringLiteral("state") },
        { QStringLiteral("state"), stateName(state) } });
    if (state == State::Failed) {
        // The engine gave up for good; its last error says why (and picks the exit code).
        finish(m_lastError.isError() ? exitCodeFor(m_lastError.code) : int(Other));
        return;
    }
    if (state == State::Connecting || state == State::Reconnecting || state == State::Ready)
        human(QStringLiteral("[%1]").arg(stateName(state)));
}

void CliRunner::onConnected(const ConnectionInfo &info)
{
    m_everConnected = true;
    m_overallTimer.stop();
    m_peerName = info.peerName;
    emitEvent({ { QStringLiteral("event"), QStringLiteral("connected") },
        { QStringLiteral("path"), pathName(info.path) },
        { QStringLiteral("local"), info.local.toString() },
        { QStringLiteral("remote"), info.remote.toString() },
        { QStringLiteral("elapsed_ms"), info.elapsedMs },
        { QStringLiteral("peer_name"), info.peerName },
        { QStringLiteral("peer_fingerprint"), QString::fromLatin1(info.peerFingerprint.toHex()) },
        { QStringLiteral("pinned"), info.peerPinnedByCode },
        { QStringLiteral("resumed"), info.resumed } });
    human(
        QStringLiteral("Connected to %1 (%2, %3 -> %4) in %5 ms%6")
            .arg(info.peerName, pathName(info.path), info.local.toString(), info.remote.toString())
            .arg(info.elapsedMs)
            .arg(info.peerPinnedByCode
                    ? QString()
                    : QStringLiteral(
                        "\nFirst connection to this peer: compare its fingerprint out of band: %1")
                          .arg(QString::fromLatin1(info.peerFingerprint.toHex()))));
    if (!m_sentInitial) {
        m_sentInitial = true;
        for (const QString &text : std::as_const(m_say))
            m_node.sendChat(text);
        for (const QString &path : std::as_const(m_send))
            m_node.sendPaths({ path });
        if (m_exitWhenDone)
            m_node.requestDone();
    }
}

void CliRunner::onError(const Error &error)
{
    m_lastError = error;
    emitEvent({ { QStringLiteral("event"), QStringLiteral("error") },
        { QStringLiteral("code"), errorCodeName(error.code) },
        { QStringLiteral("message"), error.message } });
    if (!m_json)
        std::fprintf(stderr, "punchline-cli: %s\n", qPrintable(error.message));
    switch (error.code) {
    case ErrorCode::ConnectTimeout:
    case ErrorCode::ReconnectTimeout:
    case ErrorCode::SymmetricNat:
    case ErrorCode::PortInUse:
    case ErrorCode::IdentityError:
    case ErrorCode::BadCode:
    case ErrorCode::CodeChecksum:
    case ErrorCode::CodeVersion:
        // Fatal for this run: the engine has stopped trying.
        finish(exitCodeFor(error.code));
        break;
    default:
        break;
    }
}

void CliRunner::onDisconnected(const Error &why)
{
    human(QStringLiteral("Disconnected%1")
              .arg(why.isError() ? QStringLiteral(": ") + why.message : QString()));
    if (m_exitWhenDone && !why.isError())
        finish(Done);
    else if (!why.isError() || why.code == ErrorCode::PeerClosed)
        finish(Done);
}

void CliRunner::onTransfer(const TransferInfo &t)
{
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
    emitEvent(o);
    if (t.state != TransferState::Progress)
        human(
            QStringLiteral("transfer %1 %2: %3 (%4/%5 bytes)%6")
                .arg(t.id.left(8),
                    t.direction == TransferDirection::In ? QStringLiteral("in")
                                                         : QStringLiteral("out"),
                    transferStateName(t.state))
                .arg(t.bytes)
                .arg(t.total)
                .arg(t.error.isError()
                        ? QStringLiteral(": ") + t.error.message
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

void CliRunner::handleInputLine(const QString &line)
{
    if (line.startsWith(QLatin1String("/accept ")) || line.startsWith(QLatin1String("/decline "))) {
        const bool yes = line.startsWith(QLatin1String("/accept "));
        m_node.acceptTransfer(line.section(QLatin1Char(' '), 1).trimmed(), yes);
        return;
    }
    if (line.startsWith(QLatin1String("/send "))) {
        m_node.sendPaths({ QFileInfo(line.mid(6).trimmed()).absoluteFilePath() });
        return;
    }
    if (!line.isEmpty())
        m_node.sendChat(line);
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
    onError(error);
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
