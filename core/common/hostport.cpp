#include "hostport.h"

#include "endpoint.h"

#include <QHostAddress>
#include <QUrl>

namespace Punchline {

namespace {

const QLatin1String bracketExample("[2001:db8::1]:3478");

bool isDigitsAndDots(const QString &text)
{
    for (const QChar c : text) {
        if (!c.isDigit() && c != QLatin1Char('.'))
            return false;
    }
    return true;
}

// Checks an ASCII host name label by label (RFC 1123, plus '_' which some operators use).
// Returns an empty string when the name is good, else why not.
QString checkHostName(const QString &name)
{
    if (name.size() > 253)
        return QStringLiteral("the host name is longer than 253 characters");
    for (const QChar c : name) {
        const char16_t u = c.unicode();
        const bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9')
            || u == '-' || u == '_' || u == '.';
        if (ok)
            continue;
        if (c.isSpace())
            return QStringLiteral("the host name contains a space");
        return QStringLiteral("the host name contains \"%1\", which a host name cannot contain")
            .arg(c);
    }
    const QStringList labels = name.split(QLatin1Char('.'));
    for (const QString &label : labels) {
        if (label.isEmpty())
            return QStringLiteral("the host name has an empty part between dots");
        if (label.size() > 63)
            return QStringLiteral("a part of the host name is longer than 63 characters");
        if (label.startsWith(QLatin1Char('-')) || label.endsWith(QLatin1Char('-')))
            return QStringLiteral("a part of the host name starts or ends with '-'");
    }
    return {};
}

bool isAscii(const QString &text)
{
    for (const QChar c : text) {
        if (c.unicode() > 0x7f)
            return false;
    }
    return true;
}

} // namespace

bool HostPort::isAddress() const
{
    return !QHostAddress(host).isNull();
}

QString HostPort::toString() const
{
    const bool v6 = host.contains(QLatin1Char(':'));
    return (v6 ? QLatin1Char('[') + host + QLatin1Char(']') : host) + QLatin1Char(':')
        + QString::number(port);
}

std::optional<HostPort> parseHostPort(QStringView raw, quint16 defaultPort, QString *error)
{
    const auto fail = [error](const QString &why) -> std::optional<HostPort> {
        if (error)
            *error = why;
        return std::nullopt;
    };
    const QString text = raw.trimmed().toString();
    if (text.isEmpty())
        return fail(QStringLiteral("nothing is written"));
    if (text.contains(QLatin1Char('/')))
        return fail(QStringLiteral("write only host:port, without a scheme such as stun:// or a "
                                   "path"));

    QString host;
    QString portText; // null: no port written
    bool bracketed = false;
    if (text.startsWith(QLatin1Char('['))) {
        const qsizetype close = text.indexOf(QLatin1Char(']'));
        if (close < 0)
            return fail(QStringLiteral("the closing ']' is missing"));
        bracketed = true;
        host = text.mid(1, close - 1);
        const QString rest = text.mid(close + 1);
        if (!rest.isEmpty()) {
            if (!rest.startsWith(QLatin1Char(':')))
                return fail(QStringLiteral("only \":port\" may follow ']'"));
            portText = rest.mid(1);
        }
    } else if (text.count(QLatin1Char(':')) > 1) {
        const QHostAddress bare(text);
        if (bare.protocol() != QAbstractSocket::IPv6Protocol) {
            const qsizetype colon = text.indexOf(QLatin1Char(':'));
            const QString scheme = text.left(colon);
            if (scheme.compare(QLatin1String("stun"), Qt::CaseInsensitive) == 0
                || scheme.compare(QLatin1String("stuns"), Qt::CaseInsensitive) == 0)
                return fail(QStringLiteral("write only host:port, without \"%1:\"").arg(scheme));
            return fail(QStringLiteral("there is more than one ':' (an IPv6 address goes in "
                                       "brackets: %1)")
                            .arg(bracketExample));
        }
        // A bare IPv6 literal: its last group cannot be told apart from a port.
        if (defaultPort == 0)
            return fail(QStringLiteral("an IPv6 address with a port goes in brackets: %1")
                            .arg(bracketExample));
        host = text;
    } else {
        const qsizetype colon = text.indexOf(QLatin1Char(':'));
        host = colon < 0 ? text : text.left(colon);
        if (colon >= 0)
            portText = text.mid(colon + 1);
    }

    if (!bracketed
        && (host.compare(QLatin1String("stun"), Qt::CaseInsensitive) == 0
            || host.compare(QLatin1String("stuns"), Qt::CaseInsensitive) == 0)
        && !portText.isEmpty() && !portText.at(0).isDigit())
        return fail(QStringLiteral("write only host:port, without \"%1:\"").arg(host));

    quint16 port = defaultPort;
    if (!portText.isNull()) {
        bool digits = !portText.isEmpty() && portText.size() <= 5;
        for (const QChar c : std::as_const(portText))
            digits = digits && c >= QLatin1Char('0') && c <= QLatin1Char('9');
        const uint value = digits ? portText.toUInt() : 0;
        if (portText.isEmpty())
            return fail(QStringLiteral("the port is missing after ':'"));
        if (value == 0 || value > 65535)
            return fail(QStringLiteral("the port must be a number from 1 to 65535"));
        port = quint16(value);
    } else if (port == 0) {
        return fail(QStringLiteral("the port is missing (write host:port, for example "
                                   "stun.example.org:3478)"));
    }
    if (host.isEmpty())
        return fail(QStringLiteral("the host is missing before the port"));

    QHostAddress address;
    const bool literal = address.setAddress(host);
    if (bracketed && (!literal || address.protocol() != QAbstractSocket::IPv6Protocol))
        return fail(QStringLiteral("only an IPv6 address goes in brackets"));
    if (literal || isDigitsAndDots(host)) {
        // QHostAddress also takes inet_aton shorthands ("10.1" is 10.0.0.1): insist on four
        // numbers, as a name of digits and dots alone cannot be meant either.
        if (!literal
            || (address.protocol() == QAbstractSocket::IPv4Protocol
                && host.count(QLatin1Char('.')) != 3))
            return fail(QStringLiteral("\"%1\" is not an IPv4 address (four numbers from 0 to "
                                       "255, such as 192.0.2.1)")
                            .arg(host));
        address = normalizedAddress(address);
        if (address.isMulticast() || address.isBroadcast()
            || address == QHostAddress(QHostAddress::AnyIPv4)
            || address == QHostAddress(QHostAddress::AnyIPv6))
            return fail(QStringLiteral("the address %1 cannot be that of a server")
                            .arg(address.toString()));
        return HostPort { address.toString(), port };
    }

    QString name = host;
    if (name.endsWith(QLatin1Char('.'))) // the root: "example.org." is "example.org"
        name.chop(1);
    if (!isAscii(name)) {
        // An international name: check and keep its ASCII (xn--) form, which resolvers take.
        const QString ace = QString::fromLatin1(QUrl::toAce(name));
        if (ace.isEmpty() || !isAscii(ace))
            return fail(QStringLiteral("\"%1\" is not a valid host name").arg(host));
        name = ace;
    }
    const QString why = checkHostName(name);
    if (!why.isEmpty())
        return fail(why);
    return HostPort { name.toLower(), port };
}

} // namespace Punchline
