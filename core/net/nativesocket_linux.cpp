// The Linux side of nativesocket.h: what only Linux offers, or offers in one call. The lab tests
// (tests/lab) measured this file's behaviour; nativesocket_other.cpp is its fallback.
#include "nativesocket.h"

#include "nativesocket_p.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
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

bool preferLossBasedCongestionControl(qintptr fd)
{
    static const char name[] = "cubic";
    return ::setsockopt(int(fd), IPPROTO_TCP, TCP_CONGESTION, name, sizeof(name) - 1) == 0;
}

qint64 unacknowledgedBytes(qintptr fd)
{
    tcp_info info {};
    socklen_t len = sizeof(info);
    if (::getsockopt(int(fd), IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        return -1;
    // SIOCOUTQ is write_seq - snd_una, which stays above 0 after a reset: only trust it while the
    // connection can still carry our data.
    if (info.tcpi_state != TCP_ESTABLISHED && info.tcpi_state != TCP_CLOSE_WAIT)
        return -1;
    int queued = 0;
    if (::ioctl(int(fd), SIOCOUTQ, &queued) != 0)
        return -1;
    return queued;
}

void setCork(qintptr fd, bool on)
{
    const int v = on ? 1 : 0;
    ::setsockopt(int(fd), IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
}

} // namespace Punchline::Net
