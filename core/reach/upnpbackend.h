#pragma once
// UPnP IGD through miniupnpc: SSDP discovery on the LAN, then SOAP to the router's WANIPConnection.

#include "mappingbackend.h"

#include <QByteArray>
#include <memory>

namespace Punchline {

class UpnpBackend final : public MappingBackend
{
public:
    // discoverMs: how long SSDP waits for routers to answer.
    explicit UpnpBackend(int discoverMs = 2000);
    ~UpnpBackend() override;

    MappingProtocol protocol() const override { return MappingProtocol::Upnp; }
    RouterAnswer probe() override;
    MappingAnswer map(quint16 internalPort, quint16 externalPort, quint32 leaseSeconds) override;
    void unmap(quint16 internalPort, quint16 externalPort) override;

private:
    struct Igd;
    int m_discoverMs;
    std::unique_ptr<Igd> m_igd; // the router found by probe()
};

} // namespace Punchline
