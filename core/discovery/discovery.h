#pragma once
// Finds the addresses a friend can reach us at: our interface addresses with the shared port,
// and our public endpoint from STUN over TCP (or, failing that, an IP echo service with the port
// guessed), with a NAT classification and an explanation in plain words. Keeps the STUN
// connections open afterwards so the NAT keeps our mapping. Lives on the network thread.

#include "common/types.h"

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <optional>

class QNetworkAccessManager;
class QNetworkReply;
class QTimer;

namespace Punchline {

class StunClient;

// One STUN server that answered.
struct StunAnswer
{
    QString server; // as configured, "host:port"
    Endpoint serverEndpoint; // the address we connected to
    Endpoint mapped; // our endpoint as that server saw it
};

struct DiscoveryResult
{
    QList<Endpoint> local; // usable interface addresses with our port
    std::optional<Endpoint> publicEndpoint;
    PublicSource publicSource = PublicSource::None;
    bool portGuessed = false; // IP echo only: the port is assumed preserved
    NatKind nat = NatKind::Unknown;
    QString explanation; // plain words for the user
    QList<StunAnswer> answers; // in the order the servers were configured
    QList<Error> errors; // per failed STUN server, then the IP echo
};

class Discovery : public QObject
{
    Q_OBJECT
public:
    static constexpr int defaultKeepaliveIntervalMs = 20000;
    // After a keepalive connection broke, the server is asked again: a new public IP address
    // (the home line was re-dialled, the NAT forgot our flows) shows up as a reset connection,
    // not as a keepalive answer with another mapping. ReprobeDelayMs after the loss of a
    // connection that lived through a keepalive interval; a server that closes idle connections
    // sooner (coturn: 3 s) is asked again after twice the previous delay, up to the keepalive
    // interval (as much traffic as the keepalive itself); a server that cannot be reached after
    // twice the previous delay, up to ReprobeMaxDelayMs.
    static constexpr int ReprobeDelayMs = 1000;
    static constexpr int ReprobeMaxDelayMs = 60000;
    // The server our public endpoint came from is asked at least this often (a Binding on its
    // open connection, or for a server that closes idle connections, the cap of its re-probe
    // delay), so a new public address is learned within about this long; the other servers keep
    // the keepalive interval. When another server sees a new public IP address first, that one
    // is asked at once.
    static constexpr int PublicCheckIntervalMs = 10000;

    // stunServers: "host:port" each, empty = STUN off; ipEchoUrl: http(s), empty = off;
    // timeoutMs: per STUN server and for the IP echo; localAddressFilter: IPs to offer as local
    // candidates, empty = every usable one.
    Discovery(quint16 localPort, const QStringList &stunServers, const QString &ipEchoUrl,
        int timeoutMs, const QStringList &localAddressFilter, QObject *parent = nullptr);
    ~Discovery() override;

    // How often the open STUN connections send a Binding request. Before start().
    void setKeepaliveInterval(int ms) { m_keepaliveIntervalMs = ms; }
    // How often the public endpoint's server is asked (PublicCheckIntervalMs). Before start().
    void setPublicCheckInterval(int ms) { m_publicCheckIntervalMs = ms; }

    // Emits finished() once, later (never from inside start()). Calling it again starts over.
    void start();
    // Cancels a running discovery (no finished()) and closes the STUN connections.
    void stop();

    const DiscoveryResult &result() const { return m_result; }
    // STUN connections still open for keepalive.
    int keepaliveConnections() const;

    // Interface addresses that are up, running, IPv4 or global IPv6 (no link-local, nothing
    // deprecated), loopback only when the filter names it; restricted to the filter if any.
    static QList<Endpoint> localCandidates(quint16 port, const QStringList &filter);
    // EndpointIndependent/Dependent from two answers by servers at different IP addresses (of
    // the same family); Unknown when there are no such two.
    static NatKind classifyNat(const QList<StunAnswer> &answers);
    // The body of an IP echo answer as an address, strictly: one IPv4 or IPv6 literal and
    // whitespace, nothing else; loopback, link-local, multicast and unspecified are refused.
    static std::optional<QHostAddress> parseEchoedAddress(const QByteArray &body);

Q_SIGNALS:
    void finished(const Punchline::DiscoveryResult &result);
    // After finished(): a keepalive answer from the server our public endpoint came from shows
    // a new mapping (the NAT rebooted or dropped the old one). result() is updated already
    // (public endpoint, answers, NAT kind, explanation); the owner should put `now` into the
    // code it shows, since the old code points at a port that is no longer ours.
    void publicMappingChanged(const Punchline::Endpoint &now);
    // After finished(): a STUN keepalive connection broke. Discovery asks that server again
    // (ReprobeDelayMs): a different mapping then comes as publicMappingChanged().
    void keepaliveLost(const Punchline::Error &error);

private:
    // One STUN server: its client while open, then what it answered or why it failed.
    struct Probe
    {
        QPointer<StunClient> client;
        QString server;
        std::optional<StunAnswer> answer;
        std::optional<Error> error;
        bool reprobing = false; // after finished(): a new client for a lost keepalive
        int reprobeDelayMs = 0; // the last delay before asking again
        QElapsedTimer mappedSince; // how long the current connection has been kept alive
    };

    Probe *probeFor(StunClient *client);
    void onStunMapped(StunClient *client, const Endpoint &server, const Endpoint &mapped);
    void onStunFailed(StunClient *client, const Error &error);
    void onStunMappingChanged(StunClient *client, const Endpoint &mapped);
    void onStunLost(StunClient *client, const Error &error);
    StunClient *makeClient(const QString &server);
    void scheduleReprobe(qsizetype index);
    int publicCheckMs() const;
    void checkPublic();
    void stunDone();
    void lateAnswer();
    void startIpEcho();
    void onIpEchoFinished();
    void finishIpEcho(const std::optional<QHostAddress> &address, const QString &why);
    void finish();
    QList<StunAnswer> answers() const;
    QString explain() const;

    const quint16 m_localPort;
    const QStringList m_stunServers;
    const QString m_ipEchoUrl;
    const int m_timeoutMs;
    const QStringList m_localAddressFilter;
    int m_keepaliveIntervalMs = defaultKeepaliveIntervalMs;
    int m_publicCheckIntervalMs = PublicCheckIntervalMs;
    QTimer *m_publicCheck = nullptr;

    int m_run = 0; // tells a queued step of an earlier start() apart
    bool m_running = false;
    bool m_finished = false;
    QList<Probe> m_probes; // one per STUN server, in configured order
    int m_stunPending = 0;
    int m_publicProbe = -1; // the probe our public endpoint came from
    std::optional<Error> m_ipEchoError;
    QStringList m_localNotes; // filter entries that matched nothing
    QNetworkAccessManager *m_network = nullptr;
    QNetworkReply *m_reply = nullptr;
    QTimer *m_ipEchoTimer = nullptr;
    QString m_ipEchoAbortReason; // set when we abort the request ourselves
    DiscoveryResult m_result;
};

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::DiscoveryResult)
