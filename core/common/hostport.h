#pragma once
// A server as a person writes it: a host name or IP literal and a TCP port ("host:port"). The one
// parser for such text (STUN servers in settings, on the command line and in the engine), so
// that what the settings window accepts is exactly what the engine can use.

#include <QMetaType>
#include <QString>
#include <QStringView>
#include <optional>

namespace Punchline {

struct HostPort
{
    // A host name (lower case, without a trailing dot) or an IP literal in its canonical form
    // (IPv4-mapped IPv6 as IPv4), never with brackets.
    QString host;
    quint16 port = 0;

    // True if host is an IP literal (no name lookup needed).
    bool isAddress() const;
    // "stun.example.org:3478", "192.0.2.1:3478", "[2001:db8::1]:3478".
    QString toString() const;

    friend bool operator==(const HostPort &a, const HostPort &b)
    {
        return a.port == b.port && a.host == b.host;
    }
    friend bool operator!=(const HostPort &a, const HostPort &b) { return !(a == b); }
};

// Accepts "name:port", "a.b.c.d:port" and "[IPv6]:port" (surrounding spaces ignored); the port
// is 1 to 65535. With defaultPort != 0 the port may be left out ("name", "a.b.c.d", "[IPv6]",
// and a bare IPv6 literal, which cannot carry a port). Host names are letters, digits, '-', '_'
// and dots (international names in their xn-- form or as Unicode), at most 253 characters.
// Refused: URLs, user@host, empty labels, IPv4 shorthands such as "10.1", and the unspecified,
// broadcast and multicast addresses. On failure returns nullopt and, if error is given, sets it
// to a lower-case clause without the input and without a full stop, ready for
// "\"%1\" is not a server address: %2." e.g. "the port must be a number from 1 to 65535".
std::optional<HostPort> parseHostPort(
    QStringView text, quint16 defaultPort = 0, QString *error = nullptr);

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::HostPort)
