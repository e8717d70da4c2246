#pragma once
// Native TCP descriptors that share one local port (SO_REUSEADDR + SO_REUSEPORT): Qt's
// ShareAddress only sets SO_REUSEADDR on Linux, which is not enough to listen and connect from
// the same port at once. The descriptors are handed to QTcpServer / QTcpSocket afterwards.
//
// Per OS, the way qBittorrent splits its sources: nativesocket.cpp is the POSIX code every
// Unix shares; nativesocket_linux.cpp holds what only Linux has (SOCK_NONBLOCK, TCP_INFO's
// SYN_RECV state, IP_TTL -1) and nativesocket_other.cpp the fallbacks for macOS and the BSDs.
// core/CMakeLists.txt picks one of the two. Windows needs its own nativesocket_win.cpp and a
// winsock nativesocket.cpp (see nativesocket_other.cpp for what it must provide).

#include "common/endpoint.h"

#include <QAbstractSocket>
#include <QString>

namespace Punchline::Net {

struct NativeResult
{
    qintptr fd = -1;
    int err = 0; // errno when fd < 0
    QString message; // human sentence when fd < 0
    bool ok() const { return fd >= 0; }
};

// A listening socket on [::]:port (IPv6 only) or 0.0.0.0:port. port 0 picks a free port.
NativeResult openListener(QAbstractSocket::NetworkLayerProtocol family, quint16 port);
// A non-blocking socket bound to the same local port, with connect() to remote already issued.
// ttl > 0 sets the IP TTL / hop limit for this socket's packets.
NativeResult startConnect(quint16 localPort, const Endpoint &remote, int ttl = 0);
// After the descriptor became writable: 0 if connected, else the errno of the failed connect.
int pendingError(qintptr fd);
// Sets the TTL/hop limit of a socket; -1 restores the system default (after a low-TTL SYN).
bool setTtl(qintptr fd, int ttl);
// TCP keepalive as a second line of defence under the protocol's ping (idle/interval in s).
// Where the OS cannot tune the timing, only SO_KEEPALIVE is set.
void enableKeepAlive(qintptr fd, int idleSeconds, int intervalSeconds, int count);
// True while the kernel is in SYN_RECV for this socket: a simultaneous open is half done (the
// peer's SYN arrived, our SYN-ACK is out). Closing it now would throw away a punched path.
// Always false where the OS does not tell (see synReceivedDetectable).
bool isSynReceived(qintptr fd);
// Whether isSynReceived() can ever be true on this OS (Linux, macOS, FreeBSD).
extern const bool synReceivedDetectable;
// TCP_NOTSENT_LOWAT: the kernel keeps at most this many not-yet-sent bytes queued (in-flight data
// is not limited, so throughput at a high RTT does not suffer). Bulk data then waits in our own
// queue, where a chat frame can overtake it, instead of in the kernel's. A no-op where missing.
void setNotSentLowWater(qintptr fd, int bytes);
// A loss-based congestion control (cubic) for a punched connection, where the OS lets us pick it
// (Linux: cubic is in net.ipv4.tcp_allowed_congestion_control, or we may administer the
// network). Why: a simultaneous open gives the kernel a first "RTT" sample that is the gap
// between the two SYNs (22 ms on the lab's 80 ms path); BBR keeps that as its minimum RTT, holds
// the window to a fraction of the path for 10 s, and then every 10 s shrinks it to 4 packets for
// 200 ms (PROBE_RTT), while a chat line waits behind whatever is unsent (p99 820 ms beside a
// transfer in the lab). FlowWindow keeps the queues short instead. False where not possible:
// the system's choice stays.
bool preferLossBasedCongestionControl(qintptr fd);
// TCP_CORK: while on, small writes wait to leave together (one segment for the set-up bytes
// and the first TLS flight); off sends what waits. A no-op where missing (then 2 segments).
void setCork(qintptr fd, bool on);
// Close without TIME_WAIT (SO_LINGER 0 sends RST): a lost link's 4-tuple must be free at once so
// that punching the same peer again from the same port can reuse it.
void setAbortiveClose(qintptr fd);
// Bounds how long the kernel keeps retransmitting what the peer has not acknowledged, also after
// close(): behind a dead path an orphaned socket in FIN_WAIT1 holds its 4-tuple for minutes
// (connect() to the same peer from our fixed port fails with EADDRNOTAVAIL; seen in the lab
// after an exit). Linux/BSD TCP_USER_TIMEOUT; a no-op where missing.
void setUnacknowledgedTimeout(qintptr fd, int ms);
// Bytes written to a connected socket that the peer has not acknowledged yet (queued or in
// flight); -1 where the OS does not tell (Linux: SIOCOUTQ) or the connection no longer carries
// data (reset, closed).
qint64 unacknowledgedBytes(qintptr fd);
// For a program about to exit, once its last bytes (Bye) are in the kernel: waits at most
// timeoutMs (polling, a few ms at a time) until the peer has acknowledged every byte, then sets
// the abortive close, so the coming close sends RST and leaves no TIME_WAIT on this 4-tuple
// (which a restart punches again: two friends quitting together would otherwise both close at
// once and both sit in TIME_WAIT for a minute). False, and nothing changed, if the bytes were
// not acknowledged in time or the OS cannot tell: then close gracefully, so the kernel still
// delivers them after we are gone.
bool setAbortiveCloseOnceAcknowledged(qintptr fd, int timeoutMs);
// A few bytes over a connected non-blocking descriptor before it is handed to Qt (the TURN
// ConnectionBind exchange, read byte-exactly so the friend's first bytes stay in the kernel).
// The count moved; 0 when it would block; -1 on an error or (receive) end of stream.
qint64 sendSome(qintptr fd, const char *data, qint64 size);
qint64 receiveSome(qintptr fd, char *data, qint64 size);
quint16 localPort(qintptr fd);
Endpoint localEndpoint(qintptr fd);
void closeFd(qintptr fd);

} // namespace Punchline::Net
