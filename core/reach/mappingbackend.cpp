#include "mappingbackend.h"

namespace Punchline {

QString mappingProtocolName(MappingProtocol protocol)
{
    switch (protocol) {
    case MappingProtocol::NatPmp:
        return QStringLiteral("NAT-PMP");
    case MappingProtocol::Upnp:
        return QStringLiteral("UPnP");
    case MappingProtocol::None:
        break;
    }
    return {};
}

bool isInternetRoutableIPv4(const QHostAddress &address)
{
    bool ok = false;
    address.toIPv4Address(&ok);
    if (!ok || address.isLoopback() || address.isLinkLocal() || address.isMulticast()
        || address.isBroadcast() || address == QHostAddress(QHostAddress::AnyIPv4))
        return false;
    static const char *const notRoutable[] = {
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "172.16.0.0/12",
        "192.168.0.0/16",
    };
    for (const char *subnet : notRoutable) {
        if (address.isInSubnet(QHostAddress::parseSubnet(QLatin1String(subnet))))
            return false;
    }
    return true;
}

} // namespace Punchline
