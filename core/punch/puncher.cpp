#include "puncher.h"

#include "common/logging.h"
#include "net/dialer.h"
#include "net/nativesocket.h"
#include "preamble.h"

#include <QRandomGenerator>
#include <QSslSocket>
#include <cerrno>
#include <memory>
#include <sys/socket.h>

namespace Punchline {

namespace {
// Every connection the puncher lets go is reset, never closed with a FIN: an orphaned socket in
// FIN_WAIT (a path where nothing came back, e.g. a NAT that stopped passing the flow) would keep
// the very 4-tuple we punch again busy for a minute or more (connect() fails with EADDRNOTAVAIL),
// and with fixed ports there is no other 4-tuple to this peer.
void resetAndDelete(QSslSocket *socket)
{
    if (socket->socketDescriptor() >= 0)
        Net::setAbortiveClose(socket->socketDescriptor());
    socket->abort();
    socket->deleteLater();
}
} // namespace

struct Puncher::Pending
{
    // Preamble: waiting for the peer's preamble. AwaitNomination: controlled side, waiting for
    // 'N' or 'n'. Parked: a controller's connection waiting while another one's proof runs.
    enum class Stage { Preamble, AwaitNomination, Parked };
    QSslSocket *socket = nullptr;
    bool outgoing = false;
    Stage stage = Stage::Preamble;
    QByteArray peerFingerprint;
    std::unique_ptr<QTimer> timeout;
    std::unique_ptr<QTimer> grace;
};

Puncher::Puncher(const Config &config, QObject *parent)
    : QObject(parent)
    , m_config(config)
{
    m_dialers.resize(m_config.candidates.size());
    m_lastDial.resize(m_config.candidates.size());
    connect(&m_tick, &QTimer::timeout, this, &Puncher::tick);
    m_deadline.setSingleShot(true);
    connect(&m_deadline, &QTimer::timeout, this, &Puncher::onDeadline);
    m_later.setSingleShot(true);
    connect(&m_later, &QTimer::timeout, this, [this] {
        for (const Endpoint &e : std::as_const(m_config.laterCandidates)) {
            if (!m_config.candidates.contains(e))
                m_config.candidates.append(e);
        }
        m_config.laterCandidates.clear();
        m_dialers.resize(m_config.candidates.size());
        m_lastDial.resize(m_config.candidates.size());
        if (m_active) {
            dialIdle();
            emitProgress();
        }
    });
    m_ipv6HeadStart.setSingleShot(true);
    connect(&m_ipv6HeadStart, &QTimer::timeout, this, &Puncher::dialIdle);
}

Puncher::~Puncher()
{
    stop();
}

void Puncher::start()
{
    m_active = true;
    m_since.start();
    m_bestError = {};
    if (m_config.deadlineMs > 0)
        m_deadline.start(m_config.deadlineMs);
    bool v4 = false;
    bool v6 = false;
    for (const Endpoint &c : std::as_const(m_config.candidates)) {
        const bool isV6 = normalizedAddress(c.address).protocol() == QAbstractSocket::IPv6Protocol;
        v6 = v6 || isV6;
        v4 = v4 || !isV6;
    }
    if (v4 && v6 && m_config.ipv6HeadStartMs > 0)
        m_ipv6HeadStart.start(m_config.ipv6HeadStartMs);
    m_tick.start(m_config.retryIntervalMs);
    if (!m_config.laterCandidates.isEmpty())
        m_later.start(qMax(0, m_config.laterAfterMs));
    tick(); // the first SYNs go out now, not one interval later
}

void Puncher::stop()
{
    m_active = false;
    m_tick.stop();
    m_deadline.stop();
    m_later.stop();
    m_ipv6HeadStart.stop();
    abortDialers();
    const auto pending = m_pending;
    m_pending.clear();
    for (Pending *p : pending) {
        p->socket->disconnect(this);
        resetAndDelete(p->socket);
        delete p;
    }
}

void Puncher::abortDialers()
{
    for (auto &d : m_dialers) {
        if (d) {
            d->disconnect(this);
            d->abort();
            d->deleteLater();
        }
        d = nullptr;
    }
}

void Puncher::resume()
{
    if (!m_active)
        return;
    m_sinceNomination.invalidate();
    for (Pending *p : std::as_const(m_pending)) {
        if (p->stage == Pending::Stage::Parked) {
            nominate(p); // the proof that held it failed: this one is next
            return;
        }
    }
}

void Puncher::tick()
{
    if (!m_active)
        return;
    ++m_tickCount;
    // Jitter (±20 %) so two peers retrying on the same period do not stay phase-locked, e.g.
    // each closing its attempt just as the other's SYN arrives.
    int base = m_config.retryIntervalMs;
    if (m_config.backoff) {
        // Healing: 0.5 s, 0.75 s, … up to the cap, so a long outage does not mean a SYN storm.
        m_backoffMs
            = qMin(m_config.maxRetryIntervalMs, m_backoffMs > 0 ? m_backoffMs * 3 / 2 : base);
        base = m_backoffMs;
    }
    m_tick.setInterval(
        qMax(10, base * 4 / 5 + int(QRandomGenerator::global()->bounded(base * 2 / 5 + 1))));
    dialIdle();
    emitProgress();
}

void Puncher::dialIdle()
{
    if (!m_active)
        return;
    for (int i = 0; i < m_config.candidates.size(); ++i) {
        if (!m_dialers[i] && !isHeldBack(i))
            startDial(i, false);
    }
}

bool Puncher::isHeldBack(int index) const
{
    return m_ipv6HeadStart.isActive()
        && normalizedAddress(m_config.candidates[index].address).protocol()
        == QAbstractSocket::IPv4Protocol;
}

void Puncher::startDial(int index, bool lowTtl)
{
    Net::Dialer::Options options;
    options.timeoutMs = lowTtl ? qMin(1000, m_config.attemptTimeoutMs) : m_config.attemptTimeoutMs;
    if (lowTtl) {
        options.ttl = m_config.lowTtl;
        // If the peer's SYN arrives while this socket is still open, our SYN-ACK must not die on
        // the way: restore the normal TTL shortly after the low-TTL SYN left.
        options.restoreTtlAfterMs = 100;
    }
    auto *dialer = new Net::Dialer(m_config.localPort, m_config.candidates[index], options, this);
    m_lastDial[index].start();
    m_dialers[index] = dialer;
    if (!lowTtl)
        ++m_attempts;
    connect(dialer, &Net::Dialer::connected, this, [this, index, dialer](qintptr fd) {
        m_dialers[index] = nullptr;
        dialer->deleteLater();
        adopt(fd, true);
    });
    connect(dialer, &Net::Dialer::failed, this,
        [this, index, dialer, lowTtl](int err, const QString &) {
            m_dialers[index] = nullptr;
            dialer->deleteLater();
            onDialFailed(index, err, lowTtl);
        });
    dialer->start();
}

void Puncher::onDialFailed(int index, int err, bool wasLowTtl)
{
    if (!m_active)
        return;
    qCDebug(lcPunch) << "attempt to" << m_config.candidates[index].toString() << "failed:" << err;
    if (m_ipv6HeadStart.isActive() && err != ECONNREFUSED && err != ETIMEDOUT
        && err != EADDRNOTAVAIL) {
        // A refusal or a timeout is how punching begins, and a busy 4-tuple (EADDRNOTAVAIL: a
        // connection to that address exists already) means IPv6 works; anything else (no
        // route, no IPv6 address here) means IPv6 cannot work from here: stop holding IPv4
        // back once no IPv6 dial is left in flight.
        bool v6InFlight = false;
        for (int i = 0; i < m_config.candidates.size(); ++i)
            v6InFlight = v6InFlight || (m_dialers[i] && !isHeldBack(i));
        if (!v6InFlight) {
            qCDebug(lcPunch) << "IPv6 is not usable from here: dialing IPv4 at once";
            m_ipv6HeadStart.stop();
            dialIdle();
        }
    }
    // Redial at once after a timeout or a RST: while no socket of ours is connecting on this
    // 4-tuple, the peer's SYN would meet our listener instead, and a strict NAT drops the
    // listener's SYN-ACK (its sequence numbers are not those of the SYN the NAT saw leave), while
    // the half-open connection blocks the 4-tuple for a minute (EADDRNOTAVAIL). Measured in the
    // lab: with a gap of one retry interval after each timeout, 2 of 5 late pastes failed.
    // After a RST the reason is the same: it has just closed our own NAT mapping on its way in.
    // Never faster than every MinRedialMs per candidate, so a RST-answering peer at zero RTT
    // causes no SYN storm. Other failures (ICMP unreachable, EADDRNOTAVAIL) wait for the tick.
    if ((err == ECONNREFUSED && !wasLowTtl) || err == ETIMEDOUT) {
        const qint64 since
            = m_lastDial[index].isValid() ? m_lastDial[index].elapsed() : MinRedialMs;
        const bool lowTtl = err == ECONNREFUSED && m_config.lowTtl > 0;
        if (since >= MinRedialMs)
            startDial(index, lowTtl);
        else
            QTimer::singleShot(MinRedialMs - since, this, [this, index, lowTtl] {
                if (m_active && !m_dialers[index])
                    startDial(index, lowTtl);
            });
    }
}

void Puncher::addIncoming(QSslSocket *socket, const QByteArray &peerFingerprint)
{
    const QHostAddress host = normalizedAddress(socket->peerAddress());
    int fromHost = 0;
    for (const Pending *o : std::as_const(m_pending))
        fromHost += normalizedAddress(o->socket->peerAddress()) == host ? 1 : 0;
    if (!m_active || fromHost >= MaxPendingPerHost) {
        resetAndDelete(socket);
        return;
    }
    if (m_pending.size() >= MaxPending) // the oldest waits no longer than a newcomer
        dropPending(m_pending.first(), {}, false);
    socket->setParent(this);
    auto *p = new Pending;
    p->socket = socket;
    p->outgoing = false;
    p->peerFingerprint = peerFingerprint;
    track(p);
    qCDebug(lcPunch) << "incoming connection" << socket->peerAddress().toString()
                     << socket->peerPort();
    if (!m_config.expectedPeerFingerprint.isEmpty()
        && peerFingerprint != m_config.expectedPeerFingerprint) {
        dropPending(p,
            { ErrorCode::PeerIdentityMismatch,
                QStringLiteral("someone else connected from %1: it is not the friend whose code "
                               "you pasted")
                    .arg(Endpoint { socket->peerAddress(), socket->peerPort() }.toString()) },
            true);
        return;
    }
    socket->write(Preamble::encode(m_config.ourFingerprint));
    afterPreamble(p);
}

void Puncher::adopt(qintptr fd, bool outgoing)
{
    auto *socket = new QSslSocket(this);
    // Unbuffered: read exactly the preamble and the nomination byte, never a byte of the TLS
    // handshake behind them (the TLS layer reads those from the socket itself).
    if (!socket->setSocketDescriptor(
            fd, QAbstractSocket::ConnectedState, QIODevice::ReadWrite | QIODevice::Unbuffered)) {
        Net::closeFd(fd);
        socket->deleteLater();
        return;
    }
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    auto *p = new Pending;
    p->socket = socket;
    p->outgoing = outgoing;
    qCDebug(lcPunch) << (outgoing ? "outgoing" : "incoming") << "TCP connection"
                     << socket->peerAddress().toString() << socket->peerPort();
    if (!m_config.expectedPeerFingerprint.isEmpty() && m_since.elapsed() < EarlyPeerAfterMs
        && socket->bytesAvailable() == 0) {
        // We know the peer and only just started punching: we are the friend who pasted last
        // (or both pasted together). Our ClientHello goes out now, in one segment with our
        // preamble, so the session is usable as soon as the peer's TLS flight (with its hello)
        // comes back: 2 round trips from the paste. The controller nominates this connection
        // with 'N' (the first one only; later ones wait as usual), the controlled side offers
        // with 'C' on each (the controller answers the one it picks).
        p->peerFingerprint = m_config.expectedPeerFingerprint;
        if (!pinnedController()) {
            finish(p, false, Preamble::encode(m_config.ourFingerprint) + Preamble::Offer, true,
                true, false);
            return;
        }
        if (!m_sinceNomination.isValid()) {
            markNominated();
            finish(p, false, Preamble::encode(m_config.ourFingerprint) + Preamble::Nominate, true,
                false, true);
            return;
        }
    }
    track(p);
    socket->write(Preamble::encode(m_config.ourFingerprint));
}

void Puncher::track(Pending *p)
{
    QSslSocket *socket = p->socket;
    p->timeout = std::make_unique<QTimer>();
    p->timeout->setSingleShot(true);
    m_pending.append(p);
    connect(p->timeout.get(), &QTimer::timeout, this, [this, p] {
        dropPending(p,
            { ErrorCode::NotPunchline,
                QStringLiteral("%1 accepted a connection but did not speak Punchline in time")
                    .arg(Endpoint { p->socket->peerAddress(), p->socket->peerPort() }.toString()) },
            true);
    });
    connect(socket, &QSslSocket::readyRead, this, [this, p] { onReadable(p); });
    connect(socket, &QSslSocket::disconnected, this, [this, p] {
        dropPending(
            p, { ErrorCode::PeerClosed, QStringLiteral("connection closed during set-up") }, false);
    });
    connect(socket, &QSslSocket::errorOccurred, this, [this, p](QAbstractSocket::SocketError) {
        dropPending(p, { ErrorCode::SocketError, p->socket->errorString() }, false);
    });
    p->timeout->start(m_config.preambleTimeoutMs);
}

bool Puncher::pinnedController() const
{
    return !m_config.expectedPeerFingerprint.isEmpty()
        && m_config.ourFingerprint > m_config.expectedPeerFingerprint;
}

void Puncher::onReadable(Pending *p)
{
    if (!m_pending.contains(p))
        return;
    QSslSocket *s = p->socket;
    if (p->stage == Pending::Stage::Parked)
        return; // an offer ('C' + ClientHello) waits in the kernel until we nominate
    if (p->stage == Pending::Stage::Preamble) {
        if (s->bytesAvailable() < Preamble::Size) {
            // Refuse early if what arrived so far cannot be a preamble.
            Error e;
            if (!Preamble::checkStart(s->peek(8), &e))
                dropPending(p, e, true);
            return;
        }
        QByteArray fp;
        Error e;
        if (!Preamble::decode(s->read(Preamble::Size), &fp, &e)) {
            dropPending(p, e, true);
            return;
        }
        if (fp == m_config.ourFingerprint) {
            dropPending(p,
                { ErrorCode::ConnectedToSelf,
                    QStringLiteral("one of the addresses leads back to this program itself") },
                false);
            return;
        }
        if (!m_config.expectedPeerFingerprint.isEmpty() && fp != m_config.expectedPeerFingerprint) {
            dropPending(p,
                { ErrorCode::PeerIdentityMismatch,
                    QStringLiteral("someone else answered at %1: it is not the friend whose "
                                   "code you pasted")
                        .arg(Endpoint { s->peerAddress(), s->peerPort() }.toString()) },
                true);
            return;
        }
        p->peerFingerprint = fp;
        afterPreamble(p);
        return;
    }
    if (s->bytesAvailable() < 1)
        return;
    char c = 0;
    s->getChar(&c); // exactly one byte
    if (p->stage == Pending::Stage::AwaitNomination && c == Preamble::Nominate) {
        finish(p, true); // the controller's ClientHello follows: we serve
    } else if (p->stage == Pending::Stage::AwaitNomination && c == Preamble::NominateEarly) {
        finish(p, false); // the controller waits for our ClientHello
    } else {
        dropPending(p,
            { ErrorCode::ProtocolError,
                QStringLiteral("unexpected byte during connection set-up") },
            true);
    }
}

void Puncher::afterPreamble(Pending *p)
{
    if (m_config.ourFingerprint > p->peerFingerprint) {
        // We are the controller: the first connection to get here wins (later ones wait while
        // its proof runs, see ParallelProofAfterMs).
        if (m_sinceNomination.isValid() && m_sinceNomination.elapsed() < ParallelProofAfterMs)
            park(p);
        else
            nominate(p);
    } else {
        p->stage = Pending::Stage::AwaitNomination;
        if (p->socket->bytesAvailable() > 0)
            onReadable(p);
    }
}

void Puncher::park(Pending *p)
{
    p->stage = Pending::Stage::Parked;
    p->grace = std::make_unique<QTimer>();
    p->grace->setSingleShot(true);
    connect(p->grace.get(), &QTimer::timeout, this, [this, p] {
        if (m_pending.contains(p) && p->stage == Pending::Stage::Parked)
            nominate(p);
    });
    p->grace->start(int(qMax<qint64>(1, ParallelProofAfterMs - m_sinceNomination.elapsed())));
}

void Puncher::markNominated()
{
    // Dialing goes on and other connections stay: if the nominated one turns out to be an
    // outsider's, the friend's own connection must still get through (and behind a strict NAT
    // only our own connect lets it in). The friend stops everything once one proof succeeds.
    m_sinceNomination.start();
}

void Puncher::nominate(Pending *p)
{
    markNominated();
    // Read straight from the kernel: a byte Qt buffered would never reach the TLS layer.
    char c = 0;
    const qintptr fd = p->socket->socketDescriptor();
    if (fd >= 0 && ::recv(int(fd), &c, 1, MSG_PEEK) == 1 && c == Preamble::Offer) {
        // The peer offered its ClientHello: 'n' and our TLS flight answer it.
        p->socket->getChar(&c);
        finish(p, true, QByteArray(1, Preamble::NominateEarly));
        return;
    }
    // 'N' and then, at once, our TLS ClientHello: no extra round trip for an acknowledgement.
    // If the other side never takes this connection, TLS fails and punching resumes.
    finish(p, false, QByteArray(1, Preamble::Nominate), false, false, true);
}

void Puncher::finish(Pending *p, bool tlsServer, const QByteArray &setup, bool readPeerPreamble,
    bool awaitAnswer, bool skipPeerOffer)
{
    if (!setup.isEmpty()) {
        // Corked: these bytes leave in one segment with the first TLS flight, which the TLS
        // layer writes next (it uncorks; the kernel sends them anyway after 200 ms).
        Net::setCork(p->socket->socketDescriptor(), true);
        p->socket->write(setup);
        p->socket->flush();
    }
    if (!m_sinceNomination.isValid())
        m_sinceNomination.start();
    m_pending.removeOne(p);
    p->socket->disconnect(this);
    Nomination n;
    n.socket = p->socket;
    n.socket->setParent(nullptr);
    n.tlsServer = tlsServer;
    n.peerFingerprint = p->peerFingerprint;
    n.local = Endpoint { normalizedAddress(p->socket->localAddress()), p->socket->localPort() };
    n.remote = Endpoint { normalizedAddress(p->socket->peerAddress()), p->socket->peerPort() };
    n.outgoing = p->outgoing;
    n.readPeerPreamble = readPeerPreamble;
    n.awaitAnswer = awaitAnswer;
    n.skipPeerOffer = skipPeerOffer;
    delete p;
    qCInfo(lcPunch) << (awaitAnswer ? "offered" : "nominated") << n.local.toString() << "->"
                    << n.remote.toString() << "after" << m_attempts << "attempts";
    Q_EMIT nominated(n);
}

void Puncher::dropPending(Pending *p, const Error &why, bool report)
{
    if (!m_pending.removeOne(p))
        return;
    p->socket->disconnect(this);
    resetAndDelete(p->socket);
    delete p;
    if (why.isError()) {
        qCDebug(lcPunch) << "path dropped:" << why.message;
        // Keep the most telling error for the final report: identity problems beat the rest.
        if (!m_bestError.isError() || why.code == ErrorCode::PeerIdentityMismatch
            || m_bestError.code == ErrorCode::PeerClosed
            || m_bestError.code == ErrorCode::SocketError)
            m_bestError = why;
        if (report)
            Q_EMIT pathRejected(why);
    }
}

void Puncher::onDeadline()
{
    // Whatever answered on the way (a program that is not Punchline, someone claiming to be the
    // friend who could not prove it, resets) only explains the timeout: an outsider must not be
    // able to turn the friend's attempt into another kind of failure.
    QString message = QStringLiteral("no direct connection could be made in %1 s: your friend "
                                     "may not have pasted your code yet, or one of the two "
                                     "networks blocks direct connections")
                          .arg(m_config.deadlineMs / 1000);
    if (m_bestError.isError() && m_bestError.code != ErrorCode::PeerClosed
        && m_bestError.code != ErrorCode::SocketError)
        message += QStringLiteral(" (an address answered, but %1)").arg(m_bestError.message);
    stop();
    Q_EMIT failed({ ErrorCode::ConnectTimeout, message });
}

void Puncher::emitProgress()
{
    Q_EMIT progress(
        ConnectProgress { m_attempts, int(m_config.candidates.size()), m_since.elapsed() });
}

} // namespace Punchline
