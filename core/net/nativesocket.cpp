#include "nativesocket.h"

#include "nativesocket_p.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace Punchline::Net {

namespace {

QString errnoText(int err)
{
    return QString::fromLocal8Bit(std::strerror(err));
}

bool fillSockaddr(const QHostAddress &address, quint16 port, sockaddr_storage *ss, socklen_t *len)
{
    std::memset(ss, 0, sizeof(*ss));
    const QHostAddress a = normalizedAddress(address);
    if (a.protocol() == QAbstractSocket::IPv4Protocol) {
        auto *sin = reinterpret_cast<sockaddr_in *>(ss);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr.s_addr = htonl(a.toIPv4Address());
        *len = sizeof(sockaddr_in);
        return true;
    }
    if (a.protocol() == QAbstractSocket::IPv6Protocol) {
        auto *sin6 = reinterpret_cast<sockaddr_in6 *>(ss);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        const Q_IPV6ADDR v6 = a.toIPv6Address();
        std::memcpy(&sin6->sin6_addr, v6.c, 16);
        bool ok = false;
        const QString scope = a.scopeId();
        if (!scope.isEmpty())
            sin6->sin6_scope_id = scope.toUInt(&ok);
        *len = sizeof(sockaddr_in6);
        return true;
    }
    return false;
}

Endpoint fromSockaddr(const sockaddr_storage &ss)
{
    if (ss.ss_family == AF_INET) {
        const auto *sin = reinterpret_cast<const sockaddr_in *>(&ss);
        return Endpoint { QHostAddress(ntohl(sin->sin_addr.s_addr)), ntohs(sin->sin_port) };
    }
    if (ss.ss_family == AF_INET6) {
        const auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
        return Endpoint { normalizedAddress(QHostAddress(sin6->sin6_addr.s6_addr)),
            ntohs(sin6->sin6_port) };
    }
    return {};
}

int makeSharedSocket(int family, quint16 port, int *errOut)
{
    const int fd = Platform::openTcpSocket(family);
    if (fd < 0) {
        *errOut = errno;
        return -1;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    // Linux, macOS and the BSDs all have it (Linux since 3.9); without it the listener and the
    // outgoing connects could not share the port, so a build without it should fail here.
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (family == AF_INET6)
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    sockaddr_storage ss {};
    socklen_t len = 0;
    fillSockaddr(family == AF_INET6 ? QHostAddress(QHostAddress::AnyIPv6)
                                    : QHostAddress(QHostAddress::AnyIPv4),
        port, &ss, &len);
    if (::bind(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0) {
        *errOut = errno;
        ::close(fd);
        return -1;
    }
    return fd;
}

} // namespace

NativeResult openListener(QAbstractSocket::NetworkLayerProtocol family, quint16 port)
{
    int err = 0;
    const int fd = makeSharedSocket(
        family == QAbstractSocket::IPv6Protocol ? AF_INET6 : AF_INET, port, &err);
    if (fd < 0) {
        const QString why = err == EADDRINUSE
            ? QStringLiteral("port %1 is already in use by another program").arg(port)
            : QStringLiteral("cannot bind port %1: %2").arg(port).arg(errnoText(err));
        return { -1, err, why };
    }
    if (::listen(fd, 16) != 0) {
        err = errno;
        ::close(fd);
        const QString why = err == EADDRINUSE
            ? QStringLiteral("port %1 is already in use by another program").arg(port)
            : QStringLiteral("cannot listen on port %1: %2").arg(port).arg(errnoText(err));
        return { -1, err, why };
    }
    return { fd, 0, {} };
}

NativeResult startConnect(quint16 localPort, const Endpoint &remote, int ttl)
{
    const QHostAddress addr = normalizedAddress(remote.address);
    const int family = addr.protocol() == QAbstractSocket::IPv6Protocol ? AF_INET6 : AF_INET;
    int err = 0;
    const int fd = makeSharedSocket(family, localPort, &err);
    if (fd < 0)
        return { -1, err,
            QStringLiteral("cannot bind port %1 for connecting: %2")
                .arg(localPort)
                .arg(errnoText(err)) };
    if (ttl > 0)
        setTtl(fd, ttl);
    sockaddr_storage ss {};
    socklen_t len = 0;
    fillSockaddr(addr, remote.port, &ss, &len);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0 && errno != EINPROGRESS) {
        err = errno;
        ::close(fd);
        return { -1, err,
            QStringLiteral("connect to %1 failed: %2").arg(remote.toString(), errnoText(err)) };
    }
    return { fd, 0, {} };
}

int pendingError(qintptr fd)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(int(fd), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return errno;
    return err;
}

quint16 localPort(qintptr fd)
{
    return localEndpoint(fd).port;
}

Endpoint localEndpoint(qintptr fd)
{
    sockaddr_storage ss {};
    socklen_t len = sizeof(ss);
    if (::getsockname(int(fd), reinterpret_cast<sockaddr *>(&ss), &len) != 0)
        return {};
    return fromSockaddr(ss);
}

qint64 sendSome(qintptr fd, const char *data, qint64 size)
{
#ifdef MSG_NOSIGNAL
    const int flags = MSG_NOSIGNAL;
#else
    const int flags = 0; // SO_NOSIGPIPE is set on the socket instead (nativesocket_other.cpp)
#endif
    const ssize_t n = ::send(int(fd), data, size_t(size), flags);
    if (n >= 0)
        return n;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

qint64 receiveSome(qintptr fd, char *data, qint64 size)
{
    const ssize_t n = ::recv(int(fd), data, size_t(size), 0);
    if (n > 0)
        return n;
    if (n == 0)
        return -1; // end of stream
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

void closeFd(qintptr fd)
{
    if (fd >= 0)
        ::close(int(fd));
}

void setAbortiveClose(qintptr fd)
{
    linger l {};
    l.l_onoff = 1;
    l.l_linger = 0;
    ::setsockopt(int(fd), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

void setUnacknowledgedTimeout(qintptr fd, int ms)
{
#ifdef TCP_USER_TIMEOUT
    const unsigned int value = unsigned(qMax(0, ms));
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_USER_TIMEOUT, &value, sizeof(value));
#else
    Q_UNUSED(fd)
    Q_UNUSED(ms)
#endif
}

bool setAbortiveCloseOnceAcknowledged(qintptr fd, int timeoutMs)
{
    if (fd < 0)
        return false;
    // No event to wait for (an ACK wakes nobody): poll. At exit, over a direct path, the peer's
    // kernel acknowledges within one round trip, so this is a few polls.
    constexpr int PollMs = 2;
    for (int waited = 0;; waited += PollMs) {
        const qint64 left = unacknowledgedBytes(fd);
        if (left < 0)
            return false;
        if (left == 0) {
            setAbortiveClose(fd);
            return true;
        }
        if (waited >= timeoutMs)
            return false;
        ::poll(nullptr, 0, PollMs);
    }
}

int Platform::socketFamily(int fd)
{
    sockaddr_storage ss {};
    socklen_t len = sizeof(ss);
    if (::getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len) != 0)
        return AF_UNSPEC;
    return ss.ss_family;
}

} // namespace Punchline::Net
