#include "endpoint.h"

#include <QRegularExpression>

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
