#pragma once
// Node: the one object the window, the CLI and tests use. It lives in the caller's thread, owns
// the network thread ("punchline-net") and the Engine worker inside it, and talks to the worker
// only through queued calls and signals carrying value types. Nothing here blocks.

#include "common/types.h"
#include "engine/settings.h"

#include <QObject>
#include <QThread>

namespace Punchline {

class Engine;

class Node : public QObject
{
    Q_OBJECT
public:
    explicit Node(QObject *parent = nullptr);
    ~Node() override; // stops the engine, quits and waits for the thread

    // Binds the port, loads/creates the identity, runs discovery. localInfoReady() follows.
    void start(const Settings &settings);
    // A Punchline code or plain "host:port[,host:port…]" addresses. Errors come as errorOccurred
    // with BadCode/CodeChecksum/CodeVersion (validate first with PeerCode::parseInput to avoid).
    void connectToPeer(const QString &codeOrAddresses);
    // Reconnect to a remembered peer by fingerprint (hex), using its last known candidates.
    void reconnectKnownPeer(const QByteArray &fingerprint);
    void cancelConnect();
    void disconnectFromPeer();
    // Returns the message id at once; the message waits in the outbox until delivered.
    QString sendChat(const QString &text);
    // Ask for the "both sides done" handshake (CLI --exit-when-done): allDone() once every
    // message and transfer was acknowledged both ways.
    void requestDone();
    // Files and folders (absolute paths) in one offer; returns the transfer id.
    QString sendPaths(const QStringList &paths);
    void acceptTransfer(const QString &transferId, bool accept);
    void cancelTransfer(const QString &transferId);
    void updateSettings(const Settings &settings); // keepalive, download dir, accept policy

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
    void logLine(const QString &line); // for the window's log view

private:
    QThread m_thread;
    Engine *m_engine = nullptr; // lives in m_thread; deleted there
};

void registerMetaTypes();

} // namespace Punchline
