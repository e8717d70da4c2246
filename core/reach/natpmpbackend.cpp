#include "natpmpbackend.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QtEndian>

#define ENABLE_STRNATPMPERR // declares strnatpmperr()
#include <natpmp.h>
#include <poll.h>

Q_LOGGING_CATEGORY(lcNatPmp, "punchline.reach.natpmp")

namespace Punchline {

namespace {

// Plain words for libnatpmp's codes (strnatpmperr is terse and not meant for users).
QString natPmpWords(int code)
{
    switch (code) {
    case NATPMP_ERR_CANNOTGETGATEWAY:
        return QStringLiteral("this computer has no default gateway");
    case NATPMP_ERR_NOGATEWAYSUPPORT:
    case NATPMP_ERR_RECVFROM:
        return QStringLiteral("the router does not speak NAT-PMP");
    case NATPMP_ERR_NOTAUTHORIZED:
        return QStringLiteral("the router refused (NAT-PMP: not authorized)");
    case NATPMP_ERR_NETWORKFAILURE:
        return QStringLiteral("the router has no Internet address (NAT-PMP: network failure)");
    case NATPMP_ERR_OUTOFRESOURCES:
        return QStringLiteral("the router has no free mappings (NAT-PMP: out of resources)");
    case NATPMP_ERR_UNSUPPORTEDVERSION:
    case NATPMP_ERR_UNSUPPORTEDOPCODE:
        return QStringLiteral("the router does not support this NAT-PMP request");
    default:
        return QStringLiteral("NAT-PMP error %1 (%2)")
            .arg(code)
            .arg(QString::fromLatin1(strnatpmperr(code)));
    }
}

MappingError natPmpError(int code)
{
    switch (code) {
    case NATPMP_ERR_CANNOTGETGATEWAY:
    case NATPMP_ERR_NOGATEWAYSUPPORT:
    case NATPMP_ERR_RECVFROM:
        return MappingError::NoRouter;
    case NATPMP_ERR_NOTAUTHORIZED:
    case NATPMP_ERR_NETWORKFAILURE:
    case NATPMP_ERR_OUTOFRESOURCES:
    case NATPMP_ERR_UNSUPPORTEDVERSION:
    case NATPMP_ERR_UNSUPPORTEDOPCODE:
        return MappingError::Refused;
    default:
        return MappingError::Failed;
    }
}

// One request already sent on p: waits for its answer, letting libnatpmp resend (250 ms,
// 500 ms, 1 s, ...) until budgetMs has passed. Returns 0 or a NATPMP_ERR_* code.
int awaitAnswer(natpmp_t *p, natpmpresp_t *response, int budgetMs)
{
    QElapsedTimer clock;
    clock.start();
    for (;;) {
        timeval tv {};
        if (getnatpmprequesttimeout(p, &tv) < 0)
            return NATPMP_ERR_GETTIMEOFDAYERR;
        const qint64 left = budgetMs - clock.elapsed();
        if (left <= 0)
            return NATPMP_ERR_NOGATEWAYSUPPORT; // silence: nothing speaks NAT-PMP there
        const qint64 retryMs = qint64(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
        pollfd fd { p->s, POLLIN, 0 };
        ::poll(&fd, 1, int(qMax<qint64>(0, qMin(retryMs, left))));
        const int r = readnatpmpresponseorretry(p, response);
        if (r != NATPMP_TRYAGAIN)
            return r;
    }
}

// initnatpmp + one request + its answer + closenatpmp.
template <typename Send> int exchange(Send send, natpmpresp_t *response, int budgetMs)
{
    natpmp_t p {};
    int r = initnatpmp(&p, 0, 0);
    if (r < 0)
        return r;
    r = send(&p);
    if (r >= 0)
        r = awaitAnswer(&p, response, budgetMs);
    closenatpmp(&p);
    return r < 0 ? r : 0;
}

} // namespace

NatPmpBackend::NatPmpBackend(int timeoutMs)
    : m_timeoutMs(timeoutMs)
{
}

RouterAnswer NatPmpBackend::probe()
{
    natpmpresp_t response {};
    const int r
        = exchange([](natpmp_t *p) { return sendpublicaddressrequest(p); }, &response, m_timeoutMs);
    RouterAnswer answer;
    if (r < 0) {
        answer.error = natPmpError(r);
        answer.message = natPmpWords(r);
        qCDebug(lcNatPmp) << "public address request:" << r << answer.message;
        return answer;
    }
    answer.externalAddress = QHostAddress(qFromBigEndian(response.pnu.publicaddress.addr.s_addr));
    qCDebug(lcNatPmp) << "router's public address" << answer.externalAddress;
    return answer;
}

MappingAnswer NatPmpBackend::map(quint16 internalPort, quint16 externalPort, quint32 leaseSeconds)
{
    natpmpresp_t response {};
    const int r = exchange(
        [&](natpmp_t *p) {
            return sendnewportmappingrequest(
                p, NATPMP_PROTOCOL_TCP, internalPort, externalPort, qMax<quint32>(leaseSeconds, 1));
        },
        &response, m_timeoutMs);
    MappingAnswer answer;
    if (r < 0) {
        answer.error = natPmpError(r);
        answer.message = natPmpWords(r);
        qCDebug(lcNatPmp) << "mapping request:" << r << answer.message;
        return answer;
    }
    answer.externalPort = response.pnu.newportmapping.mappedpublicport;
    answer.leaseSeconds = response.pnu.newportmapping.lifetime;
    if (answer.externalPort == 0 || answer.leaseSeconds == 0) {
        answer.error = MappingError::Refused;
        answer.message = QStringLiteral("the router answered NAT-PMP without a port");
    }
    qCDebug(lcNatPmp) << "mapped" << internalPort << "->" << answer.externalPort << "for"
                      << answer.leaseSeconds << "s";
    return answer;
}

void NatPmpBackend::unmap(quint16 internalPort, quint16 externalPort)
{
    Q_UNUSED(externalPort) // RFC 6886 3.4: a deletion names the internal port, lifetime 0
    natpmpresp_t response {};
    const int r = exchange(
        [&](natpmp_t *p) {
            return sendnewportmappingrequest(p, NATPMP_PROTOCOL_TCP, internalPort, 0, 0);
        },
        &response, qMin(m_timeoutMs, 800));
    qCDebug(lcNatPmp) << "unmapped" << internalPort << r;
}

} // namespace Punchline
