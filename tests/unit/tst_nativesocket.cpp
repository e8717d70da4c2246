// The socket options core/net promises, read back from the kernel: one test for the Linux file
// and for the fallbacks of other systems (build with -DPUNCHLINE_OS_FALLBACKS=ON to run it
// against nativesocket_other.cpp on Linux).
#include "net/nativesocket.h"

#include <QElapsedTimer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Punchline;

namespace {

int intOption(qintptr fd, int level, int name)
{
    int value = -12345;
    socklen_t len = sizeof(value);
    if (::getsockopt(int(fd), level, name, &value, &len) != 0)
        return -12345;
    return value;
}

// What a new socket of this family gets: the system default.
int freshOption(int family, int level, int name)
{
    const int probe = ::socket(family, SOCK_STREAM, IPPROTO_TCP);
    const int value = intOption(probe, level, name);
    ::close(probe);
    return value;
}

bool waitWritable(qintptr fd, int timeoutMs)
{
    pollfd p { int(fd), POLLOUT, 0 };
    return ::poll(&p, 1, timeoutMs) == 1;
}

// A connect from the shared port (a native listener on it) to a Qt server on loopback.
struct Connection
{
    Net::NativeResult listener;
    Net::NativeResult socket;
    ~Connection()
    {
        Net::closeFd(socket.fd);
        Net::closeFd(listener.fd);
    }
};

} // namespace

class TestNativeSocket : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void connectsFromTheListenersPort_data()
    {
        QTest::addColumn<QString>("address");
        QTest::newRow("IPv4") << QStringLiteral("127.0.0.1");
        QTest::newRow("IPv6") << QStringLiteral("::1");
    }
    void connectsFromTheListenersPort()
    {
        QFETCH(QString, address);
        const QHostAddress loopback(address);
        QTcpServer server;
        if (!server.listen(loopback, 0))
            QSKIP("no loopback for this address family");
        Connection c;
        c.listener = Net::openListener(loopback.protocol(), 0);
        QVERIFY2(c.listener.ok(), qPrintable(c.listener.message));
        const quint16 port = Net::localPort(c.listener.fd);
        QVERIFY(port != 0);
        c.socket = Net::startConnect(port, { loopback, server.serverPort() });
        QVERIFY2(c.socket.ok(), qPrintable(c.socket.message));
        // Non-blocking and close-on-exec, however the OS file made it.
        QVERIFY(::fcntl(int(c.socket.fd), F_GETFL) & O_NONBLOCK);
        QVERIFY(::fcntl(int(c.socket.fd), F_GETFD) & FD_CLOEXEC);
        QVERIFY(::fcntl(int(c.listener.fd), F_GETFL) & O_NONBLOCK);
        QVERIFY(::fcntl(int(c.listener.fd), F_GETFD) & FD_CLOEXEC);
        QVERIFY(waitWritable(c.socket.fd, 5000));
        QCOMPARE(Net::pendingError(c.socket.fd), 0);
        QCOMPARE(Net::localEndpoint(c.socket.fd), (Endpoint { loopback, port }));
        QVERIFY(server.waitForNewConnection(5000));
    }

    void ttlIsSetAndRestored_data()
    {
        QTest::addColumn<QString>("address");
        QTest::newRow("IPv4") << QStringLiteral("127.0.0.1");
        QTest::newRow("IPv6") << QStringLiteral("::1");
    }
    void ttlIsSetAndRestored()
    {
        QFETCH(QString, address);
        const QHostAddress loopback(address);
        QTcpServer server;
        if (!server.listen(loopback, 0))
            QSKIP("no loopback for this address family");
        const bool v6 = loopback.protocol() == QAbstractSocket::IPv6Protocol;
        const int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
        const int name = v6 ? IPV6_UNICAST_HOPS : IP_TTL;
        Connection c;
        c.listener = Net::openListener(loopback.protocol(), 0);
        QVERIFY2(c.listener.ok(), qPrintable(c.listener.message));
        c.socket = Net::startConnect(
            Net::localPort(c.listener.fd), { loopback, server.serverPort() }, 3);
        QVERIFY2(c.socket.ok(), qPrintable(c.socket.message));
        QCOMPARE(intOption(c.socket.fd, level, name), 3);
        QVERIFY(Net::setTtl(c.socket.fd, 7));
        QCOMPARE(intOption(c.socket.fd, level, name), 7);
        QVERIFY(Net::setTtl(c.socket.fd, -1));
        const int system = freshOption(v6 ? AF_INET6 : AF_INET, level, name);
        QVERIFY(system > 7);
        QCOMPARE(intOption(c.socket.fd, level, name), system);
    }

    void keepAliveOptions()
    {
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        Connection c;
        c.listener = Net::openListener(QAbstractSocket::IPv4Protocol, 0);
        c.socket = Net::startConnect(
            Net::localPort(c.listener.fd), { QHostAddress::LocalHost, server.serverPort() });
        QVERIFY2(c.socket.ok(), qPrintable(c.socket.message));
        Net::enableKeepAlive(c.socket.fd, 31, 11, 4);
        QCOMPARE(intOption(c.socket.fd, SOL_SOCKET, SO_KEEPALIVE), 1);
#if defined(TCP_KEEPIDLE)
        QCOMPARE(intOption(c.socket.fd, IPPROTO_TCP, TCP_KEEPIDLE), 31);
#elif defined(TCP_KEEPALIVE)
        QCOMPARE(intOption(c.socket.fd, IPPROTO_TCP, TCP_KEEPALIVE), 31);
#endif
#ifdef TCP_KEEPINTVL
        QCOMPARE(intOption(c.socket.fd, IPPROTO_TCP, TCP_KEEPINTVL), 11);
#endif
#ifdef TCP_KEEPCNT
        QCOMPARE(intOption(c.socket.fd, IPPROTO_TCP, TCP_KEEPCNT), 4);
#endif
    }

    void notSentLowWater()
    {
#ifndef TCP_NOTSENT_LOWAT
        QSKIP("this system has no TCP_NOTSENT_LOWAT (setNotSentLowWater does nothing)");
#else
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        Connection c;
        c.listener = Net::openListener(QAbstractSocket::IPv4Protocol, 0);
        c.socket = Net::startConnect(
            Net::localPort(c.listener.fd), { QHostAddress::LocalHost, server.serverPort() });
        QVERIFY2(c.socket.ok(), qPrintable(c.socket.message));
        Net::setNotSentLowWater(c.socket.fd, 128 * 1024);
        QCOMPARE(intOption(c.socket.fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT), 128 * 1024);
#endif
    }

    void lossBasedCongestionControlWherePermitted()
    {
#ifndef TCP_CONGESTION
        QSKIP("this system has no TCP_CONGESTION");
#else
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        Connection c;
        c.listener = Net::openListener(QAbstractSocket::IPv4Protocol, 0);
        c.socket = Net::startConnect(
            Net::localPort(c.listener.fd), { QHostAddress::LocalHost, server.serverPort() });
        QVERIFY2(c.socket.ok(), qPrintable(c.socket.message));
        // Permitted for root (tests run as root here) or where cubic is an allowed choice.
        const bool set = Net::preferLossBasedCongestionControl(c.socket.fd);
        if (!set && geteuid() != 0)
            QSKIP("cubic is not an allowed congestion control here and we are not root");
        QVERIFY(set);
        char name[16] = {};
        socklen_t len = sizeof(name);
        QCOMPARE(::getsockopt(c.socket.fd, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
        QCOMPARE(QByteArray(name), QByteArray("cubic"));
#endif
    }

    void synReceived()
    {
#if defined(__linux__) && !defined(PUNCHLINE_OS_FALLBACKS)
        // The lab's strict-NAT results depend on it (tests/lab/README.md): Linux must tell.
        QVERIFY(Net::synReceivedDetectable);
#endif
        // Established and listening sockets are not half-open.
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        Connection c;
        c.listener = Net::openListener(QAbstractSocket::IPv4Protocol, 0);
        c.socket = Net::startConnect(
            Net::localPort(c.listener.fd), { QHostAddress::LocalHost, server.serverPort() });
        QVERIFY2(c.socket.ok(), qPrintable(c.socket.message));
        QVERIFY(waitWritable(c.socket.fd, 5000));
        QVERIFY(!Net::isSynReceived(c.socket.fd));
        QVERIFY(!Net::isSynReceived(c.listener.fd));
        QVERIFY(!Net::isSynReceived(-1));
    }

    void abortiveClose()
    {
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        Connection c;
        c.listener = Net::openListener(QAbstractSocket::IPv4Protocol, 0);
        c.socket = Net::startConnect(
            Net::localPort(c.listener.fd), { QHostAddress::LocalHost, server.serverPort() });
        QVERIFY2(c.socket.ok(), qPrintable(c.socket.message));
        Net::setAbortiveClose(c.socket.fd);
        linger l {};
        socklen_t len = sizeof(l);
        QCOMPARE(::getsockopt(int(c.socket.fd), SOL_SOCKET, SO_LINGER, &l, &len), 0);
        QCOMPARE(l.l_onoff, 1);
        QCOMPARE(l.l_linger, 0);
    }

    void unacknowledgedTimeout()
    {
#ifndef TCP_USER_TIMEOUT
        QSKIP("no TCP_USER_TIMEOUT on this OS");
#else
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        Connection c;
        c.listener = Net::openListener(QAbstractSocket::IPv4Protocol, 0);
        c.socket = Net::startConnect(
            Net::localPort(c.listener.fd), { QHostAddress::LocalHost, server.serverPort() });
        QVERIFY2(c.socket.ok(), qPrintable(c.socket.message));
        QCOMPARE(intOption(c.socket.fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 0); // the default: none
        Net::setUnacknowledgedTimeout(c.socket.fd, 5000);
        QCOMPARE(intOption(c.socket.fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 5000);
#endif
    }

    void abortiveCloseOnceAcknowledged()
    {
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        // A connection from the shared port, and the server's end of it.
        const auto open = [&server](Connection *c) -> QTcpSocket * {
            c->listener = Net::openListener(QAbstractSocket::IPv4Protocol, 0);
            c->socket = Net::startConnect(
                Net::localPort(c->listener.fd), { QHostAddress::LocalHost, server.serverPort() });
            if (!c->socket.ok() || !waitWritable(c->socket.fd, 2000)
                || Net::pendingError(c->socket.fd) != 0 || !server.waitForNewConnection(2000))
                return nullptr;
            return server.nextPendingConnection();
        };
        const auto lingerOn = [](qintptr fd) {
            linger l {};
            socklen_t len = sizeof(l);
            return ::getsockopt(int(fd), SOL_SOCKET, SO_LINGER, &l, &len) == 0 && l.l_onoff == 1
                && l.l_linger == 0;
        };

        // The last bytes were acknowledged by the peer's kernel (read or not): RST on close.
        Connection acked;
        QTcpSocket *peer = open(&acked);
        QVERIFY(peer);
#if !defined(__linux__) || defined(PUNCHLINE_OS_FALLBACKS)
        if (Net::unacknowledgedBytes(acked.socket.fd) < 0) {
            // The OS does not tell: the exit close stays graceful.
            QVERIFY(!Net::setAbortiveCloseOnceAcknowledged(acked.socket.fd, 10));
            QSKIP("this OS does not tell how much is unacknowledged");
        }
#endif
        QCOMPARE(Net::unacknowledgedBytes(acked.socket.fd), 0);
        QCOMPARE(Net::sendSome(acked.socket.fd, "bye", 3), 3);
        QVERIFY(Net::setAbortiveCloseOnceAcknowledged(acked.socket.fd, 2000));
        QVERIFY(lingerOn(acked.socket.fd));
        // A connection that was reset carries nothing any more: nothing to wait for.
        Net::setAbortiveClose(peer->socketDescriptor());
        peer->abort();
        QTRY_COMPARE(Net::unacknowledgedBytes(acked.socket.fd), qint64(-1));
        QVERIFY(!Net::setAbortiveCloseOnceAcknowledged(acked.socket.fd, 1000));
        QVERIFY(!Net::setAbortiveCloseOnceAcknowledged(-1, 1000));

        // A peer that reads nothing and has a small window: most of 8 MiB stays unacknowledged,
        // so the close must stay graceful (the kernel still has to deliver it), after the wait.
        Connection stuck;
        QTcpSocket *slow = open(&stuck);
        QVERIFY(slow);
        const int small = 4096;
        ::setsockopt(int(slow->socketDescriptor()), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        const QByteArray chunk(64 * 1024, 'x');
        for (int i = 0; i < 128; ++i) {
            if (Net::sendSome(stuck.socket.fd, chunk.constData(), chunk.size()) <= 0)
                break;
        }
        QVERIFY(Net::unacknowledgedBytes(stuck.socket.fd) > 0);
        QElapsedTimer timer;
        timer.start();
        QVERIFY(!Net::setAbortiveCloseOnceAcknowledged(stuck.socket.fd, 100));
        QVERIFY(timer.elapsed() >= 100);
        QVERIFY(timer.elapsed() < 2000);
        QVERIFY(!lingerOn(stuck.socket.fd));
    }
};

QTEST_GUILESS_MAIN(TestNativeSocket)
#include "tst_nativesocket.moc"
