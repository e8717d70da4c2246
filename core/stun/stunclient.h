#pragma once
// Asks one STUN server, over TCP from the shared local port, which public endpoint our NAT gave
// that port; then keeps the connection open with a Binding request every few seconds so the NAT
// keeps the mapping, and reports when it changes or the connection is lost. Lives on the thread
// that created it (the network thread); nothing here blocks.

#include "common/hostport.h"
#include "common/types.h"
#include "stun/stunmessage.h"

#include <QByteArray>
#include <QObject>
#include <QString>
#include <optional>

class QHostInfo;
class QTcpSocket;
class QTimer;

namespace Punchline {

namespace Net {
class Dialer;
}

class StunClient : public QObject
{
    Q_OBJECT
public:
    struct Options
    {
        // Resolving, connecting and the first answer together; also each keepalive answer.
        int timeoutMs = 3000;
        // A Binding request this often keeps the NAT mapping (home routers drop idle TCP
        // mappings after a few minutes at worst, some much sooner). <= 0: no keepalive.
        int keepaliveIntervalMs = 20000;
    };

    static constexpr quint16 defaultPort = 3478;

    // server: "host:port", "[ipv6]:port", or a host alone (port 3478); see parseServer().
    StunClient(quint16 localPort, const QString &server, const Options &options,
        QObject *parent = nullptr);
    ~StunClient() override;

    // Emits mapped() or failed() later, never from inside start(). Call once.
    void start();
    // Closes the connection; no signals afterwards.
    void stop();
    // While keeping alive: a Binding request now instead of at the next keepalive (nothing if one
    // is still unanswered). A changed mapping comes as mappingChanged(), a dead flow as lost().
    void checkNow();

    const QString &server() const { return m_server; }
    // The address actually connected to (valid once connected).
    const Endpoint &serverEndpoint() const { return m_serverEndpoint; }
    const std::optional<Endpoint> &mappedEndpoint() const { return m_mapped; }
    // The TCP connection to the server is open (after mapped(), until lost() or stop()).
    bool isConnected() const;
    // Binding responses received, keepalive answers included.
    int answerCount() const { return m_answerCount; }

    // The one check of a STUN server as a person writes it (settings window, command line,
    // engine): parseHostPort() with the STUN port, 3478, as the default. On failure *error says
    // why, as a clause for "\"%1\" is not a STUN server: %2.".
    static std::optional<HostPort> parseServer(QStringView text, QString *error = nullptr);

Q_SIGNALS:
    void mapped(const Punchline::Endpoint &server, const Punchline::Endpoint &mapped);
    // Before mapped(): the server could not be asked. Nothing follows.
    void failed(const Punchline::Error &error);
    // A keepalive answer shows a different public endpoint than before.
    void mappingChanged(const Punchline::Endpoint &mapped);
    // After mapped(): the connection broke or the server stopped answering. Nothing follows; the
    // owner decides whether to start a new client.
    void lost(const Punchline::Error &error);

private:
    enum class Phase { Idle, Resolving, Connecting, Querying, KeepingAlive, Finished };

    void onResolved(const QHostInfo &info);
    void connectNext();
    void onDialed(qintptr fd);
    void onDialFailed(int err);
    void onReadyRead();
    // Returns false once the client is finished (stop reading).
    bool handleMessage(const StunMessage &message);
    void sendRequest();
    void onTimeout();
    void onSocketGone();
    // Ends the client: failed() before the first answer, lost() after it.
    void breakDown(const QString &why);
    void closeConnection();

    const quint16 m_localPort;
    const QString m_server;
    const Options m_options;
    Phase m_phase = Phase::Idle;
    quint16 m_serverPort = 0;
    QList<QHostAddress> m_addresses; // left to try
    QString m_lastConnectError;
    int m_lookupId = -1;
    Net::Dialer *m_dialer = nullptr;
    QTcpSocket *m_socket = nullptr;
    QTimer *m_timeout = nullptr; // running while an answer (or the connection) is due
    QTimer *m_keepalive = nullptr;
    QByteArray m_buffer;
    std::optional<StunMessage> m_pending; // the request awaiting its answer
    Endpoint m_serverEndpoint;
    std::optional<Endpoint> m_mapped;
    int m_answerCount = 0;
};

} // namespace Punchline
