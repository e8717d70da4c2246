#include "endpoint.h"

#include <QRegularExpression>
#include <QtEndian>

#include <cstring>

namespace Punchline {

QHostAddress normalizedAddress(const QHostAddress &address)
{
    if (address.protocol() != QAbstractSocket::IPv6Protocol)
        return address;
    // Only ::ffff:a.b.c.d is IPv4 in disguise. (Qt also calls "::" convertible to IPv4, but
    // turning it into 0.0.0.0 would break binding [::].)
    const Q_IPV6ADDR v6 = address.toIPv6Address();
    for (int i = 0; i < 10; ++i) {
        if (v6.c[i] != 0)
            return address;
    }
    if (v6.c[10] != 0xff || v6.c[11] != 0xff)
        return address;
    return QHostAddress(
        quint32(v6.c[12]) << 24 | quint32(v6.c[13]) << 16 | quint32(v6.c[14]) << 8 | v6.c[15]);
}

QString Endpoint::toString() const
{
    const QHostAddress a = normalizedAddress(address);
    if (a.protocol() == QAbstractSocket::IPv6Protocol)
        return QLatin1Char('[') + a.toString() + QLatin1String("]:") + QString::number(port);
    return a.toString() + QLatin1Char(':') + QString::number(port);
}

std::optional<Endpoint> Endpoint::parse(QStringView raw)
{
    const QString text = raw.trimmed().toString();
    QString host;
    QString portText;
    if (text.startsWith(QLatin1Char('['))) {
        const qsizetype close = text.indexOf(QLatin1String("]:"));
        if (close < 0)
            return std::nullopt;
        host = text.mid(1, close - 1);
        portText = text.mid(close + 2);
    } else {
        const qsizetype colon = text.lastIndexOf(QLatin1Char(':'));
        if (colon < 0 || text.indexOf(QLatin1Char(':')) != colon)
            return std::nullopt;
        host = text.left(colon);
        portText = text.mid(colon + 1);
    }
    static const QRegularExpression digits(QStringLiteral("^[0-9]{1,5}$"));
    if (!digits.match(portText).hasMatch())
        return std::nullopt;
    const uint port = portText.toUInt();
    if (port == 0 || port > 65535)
        return std::nullopt;
    QHostAddress address;
    if (host.isEmpty() || !address.setAddress(host))
        return std::nullopt;
    // QHostAddress accepts forms like "1" or "1.2"; insist on dotted quads for IPv4.
    if (address.protocol() == QAbstractSocket::IPv4Protocol && host.count(QLatin1Char('.')) != 3)
        return std::nullopt;
    return Endpoint { normalizedAddress(address), quint16(port) };
}

void appendEndpointBytes(QByteArray *out, const Endpoint &e)
{
    const QHostAddress a = normalizedAddress(e.address);
    char port[2];
    qToBigEndian<quint16>(e.port, port);
    if (a.protocol() == QAbstractSocket::IPv4Protocol) {
        char v4[4];
        qToBigEndian<quint32>(a.toIPv4Address(), v4);
        out->append(char(4));
        out->append(v4, 4);
    } else {
        const Q_IPV6ADDR v6 = a.toIPv6Address();
        out->append(char(6));
        out->append(reinterpret_cast<const char *>(v6.c), 16);
    }
    out->append(port, 2);
}

std::optional<Endpoint> readEndpointBytes(QByteArrayView bytes, qsizetype *pos)
{
    const qsizetype n = bytes.size();
    qsizetype at = *pos;
    if (at < 0 || at >= n)
        return std::nullopt;
    const auto *p = reinterpret_cast<const uchar *>(bytes.data());
    const int family = p[at++];
    const qsizetype addressBytes = family == 4 ? 4 : family == 6 ? 16 : -1;
    if (addressBytes < 0 || n - at < addressBytes + 2)
        return std::nullopt;
    Endpoint e;
    if (family == 4) {
        e.address = QHostAddress(qFromBigEndian<quint32>(p + at));
    } else {
        Q_IPV6ADDR v6;
        memcpy(v6.c, p + at, 16);
        e.address = normalizedAddress(QHostAddress(v6));
    }
    at += addressBytes;
    e.port = qFromBigEndian<quint16>(p + at);
    *pos = at + 2;
    return e;
}

bool isDialable(const Endpoint &e)
{
    const QHostAddress a = normalizedAddress(e.address); // ::ffff:0.0.0.0 is 0.0.0.0
    return e.port != 0 && !a.isNull() && !a.isMulticast() && !a.isBroadcast()
        && a != QHostAddress(QHostAddress::AnyIPv4) && a != QHostAddress(QHostAddress::AnyIPv6);
}

std::optional<QList<Endpoint>> Endpoint::parseList(QStringView text, QString *errorOut)
{
    static const QRegularExpression separators(QStringLiteral("[,;\\s]+"));
    const QStringList parts = text.toString().split(separators, Qt::SkipEmptyParts);
    QList<Endpoint> result;
    for (const QString &part : parts) {
        const auto ep = parse(part);
        if (!ep) {
            if (errorOut)
                *errorOut = QStringLiteral("\"%1\" is not an address of the form host:port")
                                .arg(part.left(64));
            return std::nullopt;
        }
        if (!result.contains(*ep))
            result.append(*ep);
    }
    if (result.isEmpty()) {
        if (errorOut)
            *errorOut = QStringLiteral("no address given");
        return std::nullopt;
    }
    return result;
}

} // namespace Punchline
