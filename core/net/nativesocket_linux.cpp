// The Linux side of nativesocket.h: what only Linux offers, or offers in one call. The lab tests
// (tests/lab) measured this file's behaviour; nativesocket_other.cpp is its fallback.
#include "nativesocket.h"

#include "nativesocket_p.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace Punchline::Net {

int Platform::openTcpSocket(int family)
{
    return ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
}

bool setTtl(qintptr fd, int ttl)
{
    // -1 is "the system default" for both options on Linux.
    if (Platform::socketFamily(int(fd)) == AF_INET6)
        return ::setsockopt(int(fd), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) == 0;
    return ::setsockopt(int(fd), IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) == 0;
}

void enableKeepAlive(qintptr fd, int idleSeconds, int intervalSeconds, int count)
{
    const int one = 1;
    ::setsockopt(int(fd), SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_KEEPIDLE, &idleSeconds, sizeof(idleSeconds));
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_KEEPINTVL, &intervalSeconds, sizeof(intervalSeconds));
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

const bool synReceivedDetectable = true;

bool isSynReceived(qintptr fd)
{
    tcp_info info {};
    socklen_t len = sizeof(info);
    if (::getsockopt(int(fd), IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        return false;
    return info.tcpi_state == TCP_SYN_RECV;
}

void setNotSentLowWater(qintptr fd, int bytes)
{
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &bytes, sizeof(bytes));
}

void setCork(qintptr fd, bool on)
{
    const int v = on ? 1 : 0;
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
}

} // namespace Punchline::Net
