#pragma once
// An IP address and TCP port: what candidates, STUN mappings and connections are made of.

#include <QHostAddress>
#include <QList>
#include <QMetaType>
#include <QString>
#include <optional>

namespace Punchline {

struct Endpoint
{
    QHostAddress address;
    quint16 port = 0;

    bool isValid() const { return !address.isNull() && port != 0; }
    // "203.0.113.5:4000" or "[2001:db8::1]:4000"; IPv4-mapped IPv6 is shown as IPv4.
    QString toString() const;
    // Accepts "a.b.c.d:port" and "[v6]:port"; rejects names, port 0 and trailing junk.
    static std::optional<Endpoint> parse(QStringView text);
    // Comma/space/newline separated list of endpoints, as hopconn users paste them.
    // Returns nullopt if any element is bad (errorOut says which).
    static std::optional<QList<Endpoint>> parseList(QStringView text, QString *errorOut = nullptr);

    friend bool operator==(const Endpoint &a, const Endpoint &b)
    {
        return a.port == b.port && a.address.isEqual(b.address, QHostAddress::TolerantConversion);
    }
    friend bool operator!=(const Endpoint &a, const Endpoint &b) { return !(a == b); }
};

// Normalises an IPv4-mapped IPv6 address (::ffff:a.b.c.d) to plain IPv4.
QHostAddress normalizedAddress(const QHostAddress &address);

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::Endpoint)
