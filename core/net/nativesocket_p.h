#pragma once
// What nativesocket.cpp needs from the per-OS file (nativesocket_linux.cpp or
// nativesocket_other.cpp). Not for use outside core/net.

namespace Punchline::Net::Platform {

// A TCP socket that is non-blocking and closed on exec, or -1 with errno set.
int openTcpSocket(int family);
// AF_INET or AF_INET6 for a bound socket, AF_UNSPEC if unknown.
int socketFamily(int fd);

} // namespace Punchline::Net::Platform
