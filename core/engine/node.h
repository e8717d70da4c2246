#pragma once
// Node: the one object the window, the CLI and tests use. It lives in the caller's thread, owns
// the network thread ("punchline-net") and the Engine worker inside it, and talks to the worker
// only through queued calls and signals carrying value types. Nothing here blocks.
//
// Several friends at once: every call and signal about a friend names it by its fingerprint
// (32 bytes, FriendInfo::fingerprint). Signals about the device itself (its addresses, its port,
// errors not tied to one friend) carry an empty fingerprint where they have one. A friend added
// by plain addresses (trust on first use) has no fingerprint until TLS proves one: until then its
// signals carry an empty fingerprint, and there is at most one such attempt at a time.

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

    // Binds the port, loads/creates the identity, runs discovery. localInfoReady() and
    // friendsChanged() (the known friends) follow.
    void start(const Settings &settings);
    // Adds the friend in a Punchline code (pinned to its fingerprint) and connects, or connects
    // to plain "host:port[,host:port…]" addresses (trust on first use). Other friends are not
    // touched. Errors come as errorOccurred with BadCode/CodeChecksum/CodeVersion/ConnectedToSelf.
    void connectToPeer(const QString &codeOrAddresses);
    // Connect again to a known friend using its last known candidates.
    void reconnectFriend(const QByteArray &fingerprint);
    // Answer to friendRequest(): accept connects (the fingerprint is then proven by TLS).
    void answerRequest(const QByteArray &fingerprint, bool accept);
    // A new code: the old code's invitation stops working (pasting it says so).
    void newCode();
    // Stop trying to reach this friend (connecting or reconnecting); it shows as offline.
    void cancelConnect(const QByteArray &fingerprint);
    // Say goodbye and close this friend's connection; it stays in the list, offline.
    void disconnectFriend(const QByteArray &fingerprint);
    // Disconnect and remove the friend from the known friends (history in the window stays the
    // window's business).
    void forgetFriend(const QByteArray &fingerprint);
    // Returns the message id at once; the message waits in that friend's outbox until delivered.
    QString sendChat(const QByteArray &fingerprint, const QString &text);
    // Ask for the "all done" handshake with every connected friend (CLI --exit-when-done):
    // allDone() once every message and transfer was acknowledged both ways with each of them.
    void requestDone();
    // Files and folders (absolute paths) in one offer to one friend; returns the transfer id.
    QString sendPaths(const QByteArray &fingerprint, const QStringList &paths);
    void acceptTransfer(const QByteArray &fingerprint, const QString &transferId, bool accept);
    void cancelTransfer(const QByteArray &fingerprint, const QString &transferId);
    // Keepalive, download dir, accept policy, display name (saved in the profile).
    void updateSettings(const Settings &settings);

Q_SIGNALS:
    // The device: Idle, Discovering, Ready (addresses known), Failed (see errorOccurred).
    void stateChanged(Punchline::State state);
    void localInfoReady(const Punchline::LocalInfo &info);
    // Every known friend with its presence, whenever any of it changes (also after start()).
    void friendsChanged(const QList<Punchline::FriendInfo> &friends);
    // Someone who has our code asks to connect through the friend finder (accept-friends: ask).
    void friendRequest(const Punchline::FriendRequest &request);
    // A request nobody answered has expired (the requester stopped asking, or our code
    // expired): it can no longer be answered; drop it from view.
    void friendRequestExpired(const QByteArray &fingerprint);
    void friendStateChanged(const QByteArray &peer, Punchline::State state);
    void connectProgress(const QByteArray &peer, const Punchline::ConnectProgress &progress);
    void connected(const QByteArray &peer, const Punchline::ConnectionInfo &info);
    void disconnected(const QByteArray &peer, const Punchline::Error &why);
    // peer empty: about the device, or a trust-on-first-use attempt not proven yet.
    void errorOccurred(const QByteArray &peer, const Punchline::Error &error);
    void chatReceived(const QByteArray &peer, const Punchline::ChatMessage &message);
    void chatDelivered(const QByteArray &peer, const QString &id);
    void rttMeasured(const QByteArray &peer, int milliseconds);
    void transferUpdated(const QByteArray &peer, const Punchline::TransferInfo &info);
    void allDone();
    void logLine(const QString &line); // for the window's log view

private:
    // Runs call(engine) on the network thread, in order with every other call.
    template <typename F> void queue(F &&call);

    QThread m_thread;
    Engine *m_engine = nullptr; // lives in m_thread; deleted there
};

void registerMetaTypes();

} // namespace Punchline
