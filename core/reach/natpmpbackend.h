#pragma once
// NAT-PMP (RFC 6886) through libnatpmp: one UDP exchange with the default gateway on port 5351.

#include "mappingbackend.h"

namespace Punchline {

class NatPmpBackend final : public MappingBackend
{
public:
    // timeoutMs bounds each exchange (libnatpmp alone would retry for about two minutes).
    explicit NatPmpBackend(int timeoutMs = 1750);

    MappingProtocol protocol() const override { return MappingProtocol::NatPmp; }
    RouterAnswer probe() override;
    MappingAnswer map(quint16 internalPort, quint16 externalPort, quint32 leaseSeconds) override;
    void unmap(quint16 internalPort, quint16 externalPort) override;

private:
    int m_timeoutMs;
};

} // namespace Punchline
