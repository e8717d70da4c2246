#include "upnpbackend.h"

#include <QLoggingCategory>
#include <QRandomGenerator>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

Q_LOGGING_CATEGORY(lcUpnp, "punchline.reach.upnp")

namespace Punchline {

namespace {

// UPnP IGD error codes this backend acts on (WANIPConnection:2, section 2.4.16).
constexpr int UpnpConflictInMappingEntry = 718;
constexpr int UpnpOnlyPermanentLeasesSupported = 725;
constexpr int UpnpSamePortValuesRequired = 724;
constexpr int UpnpExternalPortOnlySupportsWildcard = 726;
constexpr int AlternativePorts = 4; // random external ports tried after a conflict

QString upnpWords(int code)
{
    const char *name = strupnperror(code);
    if (name)
        return QStringLiteral("UPnP error %1 (%2)").arg(code).arg(QString::fromLatin1(name));
    return QStringLiteral("UPnP error %1").arg(code);
}

QByteArray number(quint32 n)
{
    return QByteArray::number(n);
}

} // namespace

struct UpnpBackend::Igd
{
    UPNPUrls urls {};
    IGDdatas data {};
    QByteArray lanAddress; // our address as the router sees it: the mapping's internal client
    ~Igd() { FreeUPNPUrls(&urls); }
};

UpnpBackend::UpnpBackend(int discoverMs)
    : m_discoverMs(discoverMs)
{
}

UpnpBackend::~UpnpBackend() = default;

RouterAnswer UpnpBackend::probe()
{
    m_igd.reset();
    RouterAnswer answer;
    int error = 0;
    // Every search type goes out at once and the answers are awaited once (searchalltypes):
    // upnpDiscover() would wait the full delay per type, 8 s on a LAN without a router. TTL 2
    // as miniupnpc's own tools; no IPv6 (IGD port mapping is an IPv4 thing).
    static const char *const searchTypes[] = {
        "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
        "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
        "urn:schemas-upnp-org:service:WANIPConnection:1",
        "urn:schemas-upnp-org:service:WANPPPConnection:1",
        nullptr,
    };
    UPNPDev *devices = upnpDiscoverDevices(
        searchTypes, m_discoverMs, nullptr, nullptr, UPNP_LOCAL_PORT_ANY, 0, 2, &error, 1);
    if (!devices) {
        answer.error = MappingError::NoRouter;
        answer.message = QStringLiteral("no UPnP router answered");
        qCDebug(lcUpnp) << "discovery found nothing, error" << error;
        return answer;
    }
    auto igd = std::make_unique<Igd>();
    char lan[64] = {};
    const int found = UPNP_GetValidIGD(devices, &igd->urls, &igd->data, lan, sizeof lan);
    freeUPNPDevlist(devices);
    if (found == 0) {
        answer.error = MappingError::NoRouter;
        answer.message = QStringLiteral("no UPnP Internet gateway answered");
        return answer;
    }
    if (found != 1 && found != 2) { // 3: a UPnP device, but not an Internet gateway
        FreeUPNPUrls(&igd->urls);
        igd->urls = {};
        answer.error = MappingError::NoRouter;
        answer.message
            = QStringLiteral("a UPnP device answered, but it is not an Internet gateway");
        return answer;
    }
    // found == 2: the router says its WAN is down; it may still map (some say so wrongly).
    igd->lanAddress = QByteArray(lan);
    char external[64] = {};
    const int r
        = UPNP_GetExternalIPAddress(igd->urls.controlURL, igd->data.first.servicetype, external);
    if (r == UPNPCOMMAND_SUCCESS)
        answer.externalAddress = QHostAddress(QString::fromLatin1(external));
    qCDebug(lcUpnp) << "gateway" << igd->urls.controlURL << "lan" << lan << "external" << external
                    << "status" << found;
    m_igd = std::move(igd);
    return answer;
}

MappingAnswer UpnpBackend::map(quint16 internalPort, quint16 externalPort, quint32 leaseSeconds)
{
    MappingAnswer answer;
    if (!m_igd) {
        const RouterAnswer found = probe();
        if (!found.ok()) {
            answer.error = found.error;
            answer.message = found.message;
            return answer;
        }
    }
    const QByteArray in = number(internalPort);
    quint32 lease = leaseSeconds;
    quint16 port = externalPort;
    for (int attempt = 0; attempt <= AlternativePorts;) {
        const int r = UPNP_AddPortMapping(m_igd->urls.controlURL, m_igd->data.first.servicetype,
            number(port).constData(), in.constData(), m_igd->lanAddress.constData(), "Punchline",
            "TCP", nullptr, number(lease).constData());
        qCDebug(lcUpnp) << "AddPortMapping" << port << "->" << m_igd->lanAddress << internalPort
                        << "lease" << lease << "=" << r;
        if (r == UPNPCOMMAND_SUCCESS) {
            answer.externalPort = port;
            answer.leaseSeconds = lease;
            return answer;
        }
        if (r == UpnpOnlyPermanentLeasesSupported && lease != 0) {
            lease = 0; // IGD v1 routers that refuse leases (UPnP error 725)
            continue;
        }
        if ((r == UpnpSamePortValuesRequired || r == UpnpExternalPortOnlySupportsWildcard)
            && port != internalPort) {
            port = internalPort;
            ++attempt;
            continue;
        }
        if (r == UpnpConflictInMappingEntry && attempt < AlternativePorts) {
            // Another computer holds that port: pick one above the well-known and dynamic-ish
            // ranges people forward by hand.
            port = quint16(QRandomGenerator::global()->bounded(10000, 60000));
            ++attempt;
            continue;
        }
        answer.error = r > 0 ? MappingError::Refused : MappingError::Failed;
        answer.message = r > 0 ? QStringLiteral("the router refused: %1").arg(upnpWords(r))
                               : QStringLiteral("the router did not answer the UPnP request");
        if (r <= 0)
            m_igd.reset(); // find it again next time
        return answer;
    }
    answer.error = MappingError::Refused;
    answer.message = QStringLiteral("the router had no free port for us (UPnP)");
    return answer;
}

void UpnpBackend::unmap(quint16 internalPort, quint16 externalPort)
{
    Q_UNUSED(internalPort)
    if (!m_igd)
        return;
    const int r = UPNP_DeletePortMapping(m_igd->urls.controlURL, m_igd->data.first.servicetype,
        number(externalPort).constData(), "TCP", nullptr);
    qCDebug(lcUpnp) << "DeletePortMapping" << externalPort << "=" << r;
}

} // namespace Punchline
