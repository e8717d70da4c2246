#pragma once
// Engine: the worker that lives on the network thread. It keeps only what belongs to the device:
// the profile and identity, the shared-port listeners, discovery (STUN) and the dispatcher that
// hands each incoming connection to the friend whose fingerprint its preamble claims. Everything
// about one friend (punching, TLS, session, transfers, healing) lives in that friend's Friend
// object. Only Node talks to it, through queued calls.

#include "common/types.h"
#include "engine/settings.h"

#include <QObject>
#include <memory>

namespace Punchline {

class Engine : public QObject
{
    Q_OBJECT
public:
    explicit Engine(QObject *parent = nullptr);
    ~Engine() override;

public Q_SLOTS:
    void start(const Punchline::Settings &settings);
    void connectToPeer(const QString &codeOrAddresses);
    void answerRequest(const QByteArray &fingerprint, bool accept);
    void newCode();
    void reconnectFriend(const QByteArray &fingerprint);
    void cancelConnect(const QByteArray &fingerprint);
    void disconnectFriend(const QByteArray &fingerprint);
    void forgetFriend(const QByteArray &fingerprint);
    void sendChat(const QByteArray &fingerprint, const QString &id, const QString &text);
    void requestDone();
    void sendPaths(
        const QByteArray &fingerprint, const QString &transferId, const QStringList &paths);
    void acceptTransfer(const QByteArray &fingerprint, const QString &transferId, bool accept);
    void cancelTransfer(const QByteArray &fingerprint, const QString &transferId);
    void updateSettings(const Punchline::Settings &settings);
    void shutdown();

Q_SIGNALS:
    void stateChanged(Punchline::State state);
    void localInfoReady(const Punchline::LocalInfo &info);
    void friendsChanged(const QList<Punchline::FriendInfo> &friends);
    void friendRequest(const Punchline::FriendRequest &request);
    void friendRequestExpired(const QByteArray &fingerprint);
    void friendStateChanged(const QByteArray &peer, Punchline::State state);
    void connectProgress(const QByteArray &peer, const Punchline::ConnectProgress &progress);
    void connected(const QByteArray &peer, const Punchline::ConnectionInfo &info);
    void disconnected(const QByteArray &peer, const Punchline::Error &why);
    void errorOccurred(const QByteArray &peer, const Punchline::Error &error);
    void chatReceived(const QByteArray &peer, const Punchline::ChatMessage &message);
    void chatDelivered(const QByteArray &peer, const QString &id);
    void rttMeasured(const QByteArray &peer, int milliseconds);
    void transferUpdated(const QByteArray &peer, const Punchline::TransferInfo &info);
    void allDone();
    void logLine(const QString &line);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace Punchline
