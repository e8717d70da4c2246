#pragma once
// Engine: the worker that lives on the network thread. It owns every socket: the shared-port
// listeners, discovery (STUN), the puncher, the TLS connection and the session with its
// transfers. Only Node talks to it, through queued calls.

#include "common/types.h"
#include "engine/settings.h"

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QTimer>
#include <memory>

namespace Punchline {

namespace Net {
class SharedPortServer;
}
class Puncher;
class Engine : public QObject
{
    Q_OBJECT
public:
    explicit Engine(QObject *parent = nullptr);
    ~Engine() override;

public Q_SLOTS:
    void start(const Punchline::Settings &settings);
    void connectToPeer(const QString &codeOrAddresses);
    void reconnectKnownPeer(const QByteArray &fingerprint);
    void cancelConnect();
    void disconnectFromPeer();
    void sendChat(const QString &id, const QString &text);
    void requestDone();
    void sendPaths(const QString &transferId, const QStringList &paths);
    void acceptTransfer(const QString &transferId, bool accept);
    void cancelTransfer(const QString &transferId);
    void updateSettings(const Punchline::Settings &settings);
    void shutdown();

Q_SIGNALS:
    void stateChanged(Punchline::State state);
    void localInfoReady(const Punchline::LocalInfo &info);
    void connectProgress(const Punchline::ConnectProgress &progress);
    void connected(const Punchline::ConnectionInfo &info);
    void disconnected(const Punchline::Error &why);
    void errorOccurred(const Punchline::Error &error);
    void chatReceived(const Punchline::ChatMessage &message);
    void chatDelivered(const QString &id);
    void rttMeasured(int milliseconds);
    void transferUpdated(const Punchline::TransferInfo &info);
    void allDone();
    void logLine(const QString &line);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace Punchline
