#pragma once
// The command-line options the window (punchline) and punchline-cli share, in one table with one
// reader, so "--stun", "--port", "--profile" and "--ip-echo" mean the same in both and are
// checked by the same code (a STUN server by StunClient::parseServer, as everywhere else).

#include "common/acceptpolicy.h"
#include "common/types.h"

#include <QCommandLineOption>
#include <QStringList>
#include <optional>

class QCommandLineParser;

namespace Punchline {

// What the shared options said; unset ones are empty (the caller keeps its defaults).
struct NetworkOptions
{
    std::optional<QString> profileDir; // absolute
    std::optional<int> port; // 0: any free port
    std::optional<QStringList> stunServers; // empty list: "none"
    std::optional<QString> ipEchoUrl; // empty: "none"
    std::optional<QStringList> turnServers; // "turn:USER:PASS@HOST:PORT"; empty list: "none"
    // The friend finder: dht false = "--dht none"; dhtBootstrap empty with dht true = "--dht lan"
    // (local peer discovery only).
    std::optional<bool> dht;
    std::optional<QStringList> dhtBootstrap;
    std::optional<int> dhtPort;
    std::optional<bool> dhtLocalDiscovery;
    std::optional<AcceptPolicy> acceptFriends;
    std::optional<int> inviteLifetimeSeconds;
    std::optional<bool> inviteSingleUse;

    // Applies what was given to settings (the rest stays as the caller set it).
    void applyTo(struct Settings *settings) const;
    std::optional<bool> portMapping; // --port-mapping on|off (router UPnP IGD / NAT-PMP)
};

// The TURN servers to use: the ones given (then saved in the profile, owner-only, for the next
// start; "none" clears them), else the profile's. *error gets a problem with the profile's file.
QStringList turnServersFor(const NetworkOptions &options, const QString &profileDir, Error *error);

class SharedOptions
{
public:
    SharedOptions();
    // The options in the order --help lists them.
    QList<QCommandLineOption> options() const;
    // Reads and checks them. --stun is repeatable and takes comma-separated lists too ("none"
    // turns STUN off); --ip-echo takes an http(s) URL or "none"; --port-mapping on|off (the last
    // one given wins, so a script can turn on what its common arguments turned off); --turn is
    // repeatable (parseTurnServer(); "none" forgets the profile's). False with a BadUsage *error
    // naming the option and what is wrong.
    bool read(const QCommandLineParser &parser, NetworkOptions *out, Error *error) const;

    QCommandLineOption profile;
    QCommandLineOption port;
    QCommandLineOption stun;
    QCommandLineOption ipEcho;
    QCommandLineOption turn;
    QCommandLineOption dht;
    QCommandLineOption dhtPort;
    QCommandLineOption dhtLocalDiscovery;
    QCommandLineOption acceptFriends;
    QCommandLineOption inviteLifetime;
    QCommandLineOption inviteSingleUse;
    QCommandLineOption portMapping;
};

} // namespace Punchline
