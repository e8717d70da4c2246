#pragma once
// One way of asking the home router for a port mapping (NAT-PMP, UPnP IGD). Every call blocks
// (the router may take seconds to answer), so PortMapper runs each backend on its own thread.

#include <QHostAddress>
#include <QMetaType>
#include <QString>

namespace Punchline {

enum class MappingProtocol { None, NatPmp, Upnp };

// "NAT-PMP", "UPnP" (what the user reads), "" for None.
QString mappingProtocolName(MappingProtocol protocol);

// False for addresses the Internet cannot reach: RFC 1918, CGNAT 100.64/10 (RFC 6598),
// loopback, link-local, unspecified. A router whose own WAN address is one of these sits
// behind another NAT, so a port it opens is no use to friends on the Internet.
bool isInternetRoutableIPv4(const QHostAddress &address);

enum class MappingError {
    None,
    NoRouter, // nothing answered (no gateway, no IGD, NAT-PMP not spoken)
    Refused, // the router answered and said no
    Failed, // socket or protocol error talking to the router
};

// What the router said about itself (probe).
struct RouterAnswer
{
    MappingError error = MappingError::None;
    QString message; // plain words when error != None
    QHostAddress externalAddress; // the router's WAN address, null if it did not say
    bool ok() const { return error == MappingError::None; }
};

// What the router said to a mapping request.
struct MappingAnswer
{
    MappingError error = MappingError::None;
    QString message;
    quint16 externalPort = 0;
    quint32 leaseSeconds = 0; // 0: the router only grants permanent mappings
    bool ok() const { return error == MappingError::None; }
};

class MappingBackend
{
public:
    virtual ~MappingBackend() = default;
    virtual MappingProtocol protocol() const = 0;
    // Finds the router and asks for its external address. Blocks.
    virtual RouterAnswer probe() = 0;
    // Maps TCP externalPort (a wish; the router may pick another) to internalPort on this host
    // for leaseSeconds (> 0). Asking again for the same ports renews. Blocks.
    virtual MappingAnswer map(quint16 internalPort, quint16 externalPort, quint32 leaseSeconds) = 0;
    // Removes the mapping; best effort. Blocks.
    virtual void unmap(quint16 internalPort, quint16 externalPort) = 0;
};

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::RouterAnswer)
Q_DECLARE_METATYPE(Punchline::MappingAnswer)
