#pragma once
// A TURN client for TCP allocations (RFC 8656 + RFC 6062): it keeps one control connection to a
// TURN server, allocates a relayed TCP address there, keeps the allocation and the permissions
// for our friends' addresses fresh, and turns every peer connection the server announces
// (ConnectionAttempt) into a data connection of our own (ConnectionBind) whose byte stream is
// the peer's. The friend on the other side needs no TURN account: it dials the relayed address
// like any candidate. TLS runs end to end inside, so the relay sees only ciphertext.
//
// Lives on the thread that created it (the network thread); nothing here blocks. Credentials
// are never logged: only TurnServer::displayName() appears in logs and messages.

#include "common/hostport.h"
#include "common/types.h"
#include "stun/stunmessage.h"

#include <QByteArray>
#include <QDeadlineTimer>
#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QSslCertificate>
#include <QString>
#include <optional>

class QSslError;
class QSslSocket;
class QSocketNotifier;
class QTimer;

namespace Punchline {

// One TURN server as the user wrote it: "turn:USER:PASS@HOST[:PORT]" (TCP to the server) or
// "turns:USER:PASS@HOST[:PORT]" (TLS to the server).
struct TurnServer
{
    bool tls = false;
    QString username;
    QString password;
    HostPort server;

    // "198.51.100.10:3478" (with "turns:" for TLS): what logs and messages show, never the
    // credentials.
    QString displayName() const;
    // The text parseTurnServer() reads back (with the credentials; store it owner-only).
    QString toString() const;

    friend bool operator==(const TurnServer &a, const TurnServer &b)
    {
        return a.tls == b.tls && a.username == b.username && a.password == b.password
            && a.server == b.server;
    }
};

// The one parser of a TURN server's text (settings, command line, engine). The user name ends at
// the first ':', the password at the last '@' (so it may contain ':' and '@'); both may be
// percent-encoded. Default ports: 3478 (turn:), 5349 (turns:). "?transport=tcp" is accepted,
// any other transport refused (TCP allocations only). On failure: nullopt, and *error gets
// ErrorCode::BadUsage and a sentence that never repeats the password.
std::optional<TurnServer> parseTurnServer(QStringView text, Error *error = nullptr);

class TurnClient : public QObject
{
    Q_OBJECT
public:
    struct Options
    {
        // Connecting (name lookup included) and each answer of the server; also a data
        // connection from ConnectionAttempt to a bound stream.
        int timeoutMs = 5000;
        // What we ask for (the server may grant less); refreshed well before it ends.
        int lifetimeSeconds = 600;
        // Permissions last 300 s on the server (RFC 8656 §9); renewed this often.
        int permissionRefreshMs = 240000;
        // Data connections being set up at once; further ConnectionAttempts are ignored (the
        // server gives up on them after 30 s), so a flood costs at most this many sockets.
        int maxPendingData = 8;
        // turns: only. The server's certificate must chain to the system's CAs or to one of
        // these (a private CA; tests), and name the host as written (or its IP address).
        QList<QSslCertificate> extraCaCertificates;
    };

    static constexpr quint16 defaultPort = 3478;
    static constexpr quint16 defaultTlsPort = 5349;

    explicit TurnClient(const TurnServer &server, QObject *parent = nullptr);
    TurnClient(const TurnServer &server, const Options &options, QObject *parent = nullptr);
    ~TurnClient() override;

    // Emits allocated() or failed() later, never from inside start(). Call once.
    void start();
    // Closes every connection (the server then frees the allocation); no signals afterwards.
    void stop();

    // The peers (IP addresses; ports do not matter to TURN) that may reach us through the
    // relay. Replaces the previous list; sent now if allocated, else right after allocating,
    // and renewed every Options::permissionRefreshMs.
    void setPermissions(const QList<QHostAddress> &peers);
    // Asks the relay to open a TCP connection to peer (RFC 6062 Connect); the result comes as
    // dataConnection() or connectFailed(). Needs a permission for peer's address.
    void connectTo(const Endpoint &peer);

    const TurnServer &server() const { return m_server; }
    // The address the server was reached at (valid once connected).
    const Endpoint &serverEndpoint() const { return m_serverEndpoint; }
    // The relayed transport address peers dial (valid after allocated()).
    const std::optional<Endpoint> &relayedEndpoint() const { return m_relayed; }
    bool isAllocated() const { return m_phase == Phase::Allocated; }
    int pendingDataConnections() const { return int(m_data.size()); }

Q_SIGNALS:
    void allocated(const Punchline::Endpoint &relayed);
    // Before allocated(): no allocation could be made (wrong credentials, server unreachable,
    // no TCP relaying). Nothing follows.
    void failed(const Punchline::Error &error);
    // After allocated(): the control connection broke or a refresh failed; the relayed address
    // is gone. Nothing follows; the owner decides whether to start a new client.
    void lost(const Punchline::Error &error);
    // A peer's TCP connection through the relay: fd (connected, non-blocking) carries the
    // peer's raw byte stream from its first byte on (the ConnectionBind answer was read
    // byte-exactly). The receiver owns fd and wraps it like an accepted connection. peer is the
    // peer's address as the relay sees it; server is serverEndpoint(), the connection's remote.
    // With turns: fd is one end of a local socketpair (it has no peer address of its own: use
    // server as the remote, IncomingDispatcher::addRelayedConnection); a bridge owned by this
    // client pumps it to and from the TLS connection to the server, until either side closes or
    // the client stops.
    void dataConnection(
        qintptr fd, const Punchline::Endpoint &peer, const Punchline::Endpoint &server);
    // connectTo(peer) did not give a connection.
    void connectFailed(const Punchline::Endpoint &peer, const Punchline::Error &error);
    // Things worth a line in a log (no credentials in them).
    void logLine(const QString &line);

private:
    enum class Phase { Idle, Connecting, Allocating, Allocated, Finished };

    struct Transaction
    {
        StunMessage request; // without the credentials: they are added on every send
        QDeadlineTimer deadline;
        int authRetries = 0;
        Endpoint peer; // Connect
    };
    struct DataConnection;

    void onControlConnected();
    void onControlSslErrors(const QList<QSslError> &errors);
    QSslSocket *newTlsSocket();
    void onTlsDataEncrypted(DataConnection *d);
    void onTlsDataReadable(DataConnection *d);
    // The ConnectionBind answer (plain or over TLS): true if it is the success for d, else d is
    // dropped with the reason.
    bool acceptBindAnswer(DataConnection *d, const QByteArray &answer);
    // Takes d's TLS socket (ConnectionBind answered) into a bridge; surplus is what followed the
    // answer (the peer's first bytes).
    void bridgeTlsData(DataConnection *d, const QByteArray &surplus);
    void onControlReadyRead();
    void onControlGone();
    void handleMessage(const StunMessage &message, QByteArrayView wire);
    void handleAllocate(const Transaction &t, const StunMessage &response);
    void handleRefresh(const Transaction &t, const StunMessage &response);
    void handleConnect(const Transaction &t, const StunMessage &response);
    void handleConnectionAttempt(const StunMessage &indication);
    // Returns true when the request was sent again with fresh credentials (401, 438).
    bool retryWithCredentials(Transaction t, const StunMessage &response);
    void send(Transaction t);
    void addCredentials(StunMessage *message) const;
    void sendPermissions();
    void sendRefresh(int lifetimeSeconds);
    void scheduleRefresh(int lifetimeSeconds);
    void openDataConnection(const QByteArray &connectionId, const Endpoint &peer, bool outgoing);
    void onDataConnected(DataConnection *d, qintptr fd);
    void onDataReadable(DataConnection *d);
    void dropData(DataConnection *d, const QString &why);
    void releaseData(DataConnection *d); // closes what it holds and deletes it
    void onTick();
    // Ends the client: failed() before the allocation, lost() after it.
    void breakDown(const QString &why);
    void closeAll();
    QString errorText(const StunMessage &response) const;

    const TurnServer m_server;
    const Options m_options;
    Phase m_phase = Phase::Idle;
    QSslSocket *m_control = nullptr;
    QTimer *m_tick = nullptr; // deadlines of transactions and data connections
    QTimer *m_refresh = nullptr;
    QTimer *m_permissionTimer = nullptr;
    QDeadlineTimer m_connectDeadline;
    QByteArray m_buffer;
    QHash<QByteArray, Transaction> m_transactions; // by transaction id
    QList<DataConnection *> m_data;
    QList<QPointer<QObject>> m_bridges; // turns: data connections after the bind
    QList<QHostAddress> m_permissions;
    QString m_realm;
    QByteArray m_nonce;
    QByteArray m_key; // MD5(user:realm:password), once the server named its realm
    bool m_credentialsRefused = false;
    Endpoint m_serverEndpoint;
    std::optional<Endpoint> m_relayed;
};

} // namespace Punchline
