// The non-Linux side of nativesocket.h, for macOS and the BSDs: plain POSIX where Linux has a
// shortcut, and each optional feature behind the macro that names it (as KDE Connect guards
// TCP_KEEPIDLE), doing nothing where the OS lacks it. Built instead of nativesocket_linux.cpp
// (core/CMakeLists.txt; -DPUNCHLINE_OS_FALLBACKS=ON builds it on Linux too, to test it).
//
// Windows needs more than this file: a winsock nativesocket.cpp (WSAStartup, closesocket,
// ioctlsocket(FIONBIO) for non-blocking, WSAGetLastError instead of errno, SO_LINGER as here)
// and a nativesocket_win.cpp here. It has no SO_REUSEPORT: sharing the port between the
// listener and the connects would need SO_REUSEADDR, whose Windows meaning differs (it lets
// another program take the port), and no way to see SYN_RECV (isSynReceived stays false).
#include "nativesocket.h"

#include "nativesocket_p.h"

#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#if __has_include(<netinet/tcp_fsm.h>)
#include <netinet/tcp_fsm.h> // TCPS_SYN_RECEIVED on macOS and the BSDs
#endif

namespace Punchline::Net {

namespace {

bool addFlag(int fd, int get, int set, int flag)
{
    const int flags = ::fcntl(fd, get);
    return flags >= 0 && ::fcntl(fd, set, flags | flag) == 0;
}

// The IPv4 TTL a new socket gets (a sysctl on the BSDs: net.inet.ip.ttl).
int defaultTtl(int family)
{
    const int probe = ::socket(family, SOCK_STREAM, IPPROTO_TCP);
    int ttl = 64;
    socklen_t len = sizeof(ttl);
    if (probe >= 0) {
        ::getsockopt(probe, IPPROTO_IP, IP_TTL, &ttl, &len);
        ::close(probe);
    }
    return ttl;
}

} // namespace

int Platform::openTcpSocket(int family)
{
    const int fd = ::socket(family, SOCK_STREAM, IPPROTO_TCP);
    if (fd < 0)
        return -1;
    // Two calls where Linux has SOCK_NONBLOCK | SOCK_CLOEXEC: Qt starts no process from the
    // network thread, so nothing can inherit the descriptor in between.
    if (!addFlag(fd, F_GETFL, F_SETFL, O_NONBLOCK) || !addFlag(fd, F_GETFD, F_SETFD, FD_CLOEXEC)) {
        const int err = errno;
        ::close(fd);
        errno = err;
        return -1;
    }
#ifdef SO_NOSIGPIPE
    // macOS and the BSDs have no MSG_NOSIGNAL for Qt to use: a write to a reset connection
    // must fail with EPIPE, not kill the program.
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
    return fd;
}

bool setTtl(qintptr fd, int ttl)
{
    const int family = Platform::socketFamily(int(fd));
    // -1 means "the default" for the IPv6 hop limit everywhere (RFC 3493); for IP_TTL only on
    // Linux, so elsewhere the default is read from a fresh socket.
    if (family == AF_INET6)
        return ::setsockopt(int(fd), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) == 0;
    const int value = ttl < 0 ? defaultTtl(AF_INET) : ttl;
    return ::setsockopt(int(fd), IPPROTO_IP, IP_TTL, &value, sizeof(value)) == 0;
}

void enableKeepAlive(qintptr fd, int idleSeconds, int intervalSeconds, int count)
{
    const int one = 1;
    ::setsockopt(int(fd), SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
#if defined(TCP_KEEPIDLE)
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_KEEPIDLE, &idleSeconds, sizeof(idleSeconds));
#elif defined(TCP_KEEPALIVE) // macOS's name for the idle time
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_KEEPALIVE, &idleSeconds, sizeof(idleSeconds));
#else
    Q_UNUSED(idleSeconds)
#endif
#ifdef TCP_KEEPINTVL
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_KEEPINTVL, &intervalSeconds, sizeof(intervalSeconds));
#else
    Q_UNUSED(intervalSeconds)
#endif
#ifdef TCP_KEEPCNT
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
#else
    Q_UNUSED(count)
#endif
}

#if defined(TCP_CONNECTION_INFO) && defined(TCPS_SYN_RECEIVED) // macOS
const bool synReceivedDetectable = true;

bool isSynReceived(qintptr fd)
{
    tcp_connection_info info {};
    socklen_t len = sizeof(info);
    if (::getsockopt(int(fd), IPPROTO_TCP, TCP_CONNECTION_INFO, &info, &len) != 0)
        return false;
    return info.tcpi_state == TCPS_SYN_RECEIVED;
}
#elif defined(TCP_INFO) && defined(TCPS_SYN_RECEIVED) // FreeBSD, NetBSD
const bool synReceivedDetectable = true;

bool isSynReceived(qintptr fd)
{
    tcp_info info {};
    socklen_t len = sizeof(info);
    if (::getsockopt(int(fd), IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        return false;
    return info.tcpi_state == TCPS_SYN_RECEIVED;
}
#else
// The Dialer then gives up on a half-done simultaneous open at its timeout, as on any socket.
const bool synReceivedDetectable = false;

bool isSynReceived(qintptr)
{
    return false;
}
#endif

void setNotSentLowWater(qintptr fd, int bytes)
{
#ifdef TCP_NOTSENT_LOWAT // Linux 3.12+, macOS
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &bytes, sizeof(bytes));
#else
    Q_UNUSED(fd)
    Q_UNUSED(bytes)
#endif
}

bool preferLossBasedCongestionControl(qintptr fd)
{
    Q_UNUSED(fd)
    return false; // macOS and Windows pick per system; neither ships BBR as the default
}

qint64 unacknowledgedBytes(qintptr fd)
{
#if defined(SO_NWRITE) // macOS: bytes in the send buffer, i.e. not acknowledged yet
    int queued = 0;
    socklen_t len = sizeof(queued);
    if (::getsockopt(int(fd), SOL_SOCKET, SO_NWRITE, &queued, &len) != 0)
        return -1;
    return queued;
#else
    // FreeBSD's FIONWRITE would do (add it when a BSD is tested); until then the exit close stays
    // graceful there.
    Q_UNUSED(fd)
    return -1;
#endif
}

void setCork(qintptr fd, bool on)
{
#ifdef TCP_CORK
    const int v = on ? 1 : 0;
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
#else
    Q_UNUSED(fd)
    Q_UNUSED(on)
#endif
}

} // namespace Punchline::Net
