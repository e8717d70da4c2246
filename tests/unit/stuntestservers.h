#pragma once
// Real servers on loopback for the STUN and discovery tests: coturn as a child process, and a
// scripted STUN-over-TCP responder for the answers coturn never gives (a changing mapping, errors,
// garbage, silence). Header-only and without Q_OBJECT so that each test executable can include it.

#include "net/nativesocket.h"
#include "stun/stunmessage.h"

#include <QDeadlineTimer>
#include <QFile>
#include <QPointer>
#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <csignal>
#include <functional>
#include <memory>
#ifdef __linux__
#include <sys/prctl.h>
#endif

namespace Punchline::TestSupport {

// A port that nothing listens on right now (bound and released: good enough on loopback).
inline quint16 freePort(const QHostAddress &address = QHostAddress::LocalHost)
{
    QTcpServer probe;
    if (!probe.listen(address, 0))
        return 0;
    return probe.serverPort();
}

// The shared local port the application would own: a listener with SO_REUSEPORT, which STUN
// connections then dial from.
class SharedPort
{
public:
    SharedPort()
        : m_listener(Net::openListener(QAbstractSocket::IPv4Protocol, 0))
    {
    }
    ~SharedPort() { Net::closeFd(m_listener.fd); }
    SharedPort(const SharedPort &) = delete;
    SharedPort &operator=(const SharedPort &) = delete;
    bool ok() const { return m_listener.ok(); }
    quint16 port() const { return Net::localPort(m_listener.fd); }

private:
    Net::NativeResult m_listener;
};

// In a child process: if the test crashes, the kernel kills the child too instead of leaving it
// running (Linux only; elsewhere a crashed test leaves coturn to be killed by hand).
inline void dieWithParent()
{
#ifdef __linux__
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
}

// coturn answering STUN Binding requests over TCP on loopback, with no configuration file, no
// authentication, and nothing written outside its temporary directory.
class Coturn
{
public:
    ~Coturn() { stop(); }

    // The command line, also quoted in the report of the STUN work.
    static QStringList arguments(
        const QStringList &addresses, quint16 port, quint16 altPort, const QString &dir)
    {
        QStringList args { QStringLiteral("-n"), QStringLiteral("--no-cli"),
            QStringLiteral("--stun-only"), QStringLiteral("--no-udp"), QStringLiteral("--no-tls"),
            QStringLiteral("--no-dtls"), QStringLiteral("--fingerprint"), QStringLiteral("-m"),
            QStringLiteral("0"), QStringLiteral("--listening-port"), QString::number(port),
            // Default is port + 1, which might be taken: choose it too.
            QStringLiteral("--alt-listening-port"), QString::number(altPort),
            QStringLiteral("--log-file"), dir + QStringLiteral("/turn.log"),
            QStringLiteral("--simple-log"), QStringLiteral("--no-stdout-log"),
            QStringLiteral("--pidfile"), dir + QStringLiteral("/turn.pid"),
            // Else it opens /var/lib/turn/turndb.
            QStringLiteral("--userdb"), dir + QStringLiteral("/turndb") };
        for (const QString &address : addresses)
            args << QStringLiteral("--listening-ip") << address;
        return args;
    }

    // Starts turnserver on the given loopback addresses and waits (bounded) until every one
    // accepts TCP. On failure returns false and says why.
    bool start(const QStringList &addresses, QString *why)
    {
        const QString program = QStringLiteral("/usr/bin/turnserver");
        if (!QFile::exists(program)) {
            *why = QStringLiteral("coturn is not installed (apt-get install coturn)");
            return false;
        }
        if (!m_dir.isValid()) {
            *why = QStringLiteral("no temporary directory");
            return false;
        }
        m_addresses = addresses;
        m_port = freePort();
        const quint16 altPort = freePort();
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        m_process.setChildProcessModifier(dieWithParent);
        m_process.start(program, arguments(addresses, m_port, altPort, m_dir.path()));
        if (!m_process.waitForStarted(5000)) {
            *why = QStringLiteral("turnserver did not start: ") + m_process.errorString();
            return false;
        }
        const QDeadlineTimer deadline(10000);
        for (const QString &address : addresses) {
            while (!accepts(QHostAddress(address))) {
                if (m_process.state() != QProcess::Running || deadline.hasExpired()) {
                    *why = QStringLiteral("turnserver is not accepting on %1:%2; its log:\n%3")
                               .arg(address)
                               .arg(m_port)
                               .arg(log());
                    return false;
                }
                QTest::qWait(50);
            }
        }
        return true;
    }

    void stop()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        m_process.kill();
        m_process.waitForFinished(5000);
    }

    quint16 port() const { return m_port; }
    QString server(int index = 0) const
    {
        const QHostAddress address(m_addresses.at(index));
        return Endpoint { address, m_port }.toString();
    }
    QString log() const
    {
        QFile file(m_dir.path() + QStringLiteral("/turn.log"));
        return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()) : QString();
    }

private:
    bool accepts(const QHostAddress &address) const
    {
        QTcpSocket probe;
        probe.connectToHost(address, m_port);
        return probe.waitForConnected(200);
    }

    QTemporaryDir m_dir;
    QProcess m_process;
    QStringList m_addresses;
    quint16 m_port = 0;
};

// A STUN-over-TCP server whose answers a test chooses. script() gets each request and its index
// on the connection (0, 1, …) and returns the bytes to send back (empty: stay silent).
class ScriptedStunServer
{
public:
    using Script = std::function<QByteArray(const StunMessage &request, int index)>;

    explicit ScriptedStunServer(Script script)
        : m_script(std::move(script))
    {
        QObject::connect(&m_server, &QTcpServer::newConnection, &m_server, [this] { accept(); });
    }

    bool listen(const QHostAddress &address = QHostAddress::LocalHost)
    {
        return m_server.listen(address, 0);
    }
    QString server() const
    {
        return Endpoint { m_server.serverAddress(), m_server.serverPort() }.toString();
    }
    Endpoint endpoint() const { return { m_server.serverAddress(), m_server.serverPort() }; }
    int connectionCount() const { return m_connectionCount; }

    // Drops every open connection (as a server restart or a NAT reboot would).
    void closeConnections()
    {
        for (const QPointer<QTcpSocket> &socket : std::as_const(m_sockets)) {
            if (socket)
                socket->abort();
        }
    }

    // An answer to request from the server's point of view: the mapping it sees.
    static QByteArray answer(const StunMessage &request, const Endpoint &mapped)
    {
        StunMessage response(
            StunMessage::Class::SuccessResponse, request.method(), request.transactionId());
        response.addXorMappedAddress(mapped);
        return response.toBytes(true);
    }

private:
    void accept()
    {
        while (QTcpSocket *socket = m_server.nextPendingConnection()) {
            ++m_connectionCount;
            m_sockets.append(socket);
            auto buffer = std::make_shared<QByteArray>();
            auto index = std::make_shared<int>(0);
            QObject::connect(socket, &QTcpSocket::readyRead, socket, [this, socket, buffer, index] {
                buffer->append(socket->readAll());
                for (;;) {
                    const StunFrame frame = StunMessage::peekFrame(*buffer);
                    if (frame.status != StunFrame::Status::Complete)
                        return;
                    const StunParseResult parsed = StunMessage::parse(buffer->left(frame.size));
                    buffer->remove(0, frame.size);
                    if (!parsed.ok())
                        return;
                    const QByteArray reply = m_script(*parsed.message, (*index)++);
                    if (!reply.isEmpty())
                        socket->write(reply);
                }
            });
        }
    }

    Script m_script;
    QTcpServer m_server;
    QList<QPointer<QTcpSocket>> m_sockets;
    int m_connectionCount = 0;
};

} // namespace Punchline::TestSupport
