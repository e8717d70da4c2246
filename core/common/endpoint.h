#pragma once
// An IP address and TCP port: what candidates, STUN mappings and connections are made of.

#include <QByteArray>
#include <QByteArrayView>
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

// The binary form of an endpoint (rendezvous records; the same as in a code): u8 family 4|6,
// 4|16 address bytes (IPv4-mapped IPv6 as IPv4), u16 big-endian port.
void appendEndpointBytes(QByteArray *out, const Endpoint &e);
// Reads one endpoint at *pos and moves *pos past it; nullopt (and *pos unchanged) if the bytes
// are cut short or the family is unknown. Does not judge the address (see isDialable).
std::optional<Endpoint> readEndpointBytes(QByteArrayView bytes, qsizetype *pos);
// Whether a peer may ask us to dial it: a port, and an address that is not null, unspecified,
// multicast or broadcast.
bool isDialable(const Endpoint &e);

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::Endpoint)
