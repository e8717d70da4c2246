#pragma once
// punchline-cli: the headless front end over the same Node the window uses. Its flags, JSON
// events and exit codes are a stable contract (README "Command line"): tests and users script it.

#include "engine/node.h"

#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QSet>
#include <QStringList>
#include <QTimer>

class QSocketNotifier;

namespace Punchline {

class CliRunner : public QObject
{
    Q_OBJECT
public:
    enum ExitCode { Done = 0, Other = 1, BadInput = 2, NoConnection = 3 };

    explicit CliRunner(QObject *parent = nullptr);
    // Parses the arguments and starts; returns -1 to keep running, else an exit code at once.
    int start(const QStringList &arguments);
    // SIGINT/SIGTERM arrived (delivered through the event loop by main()).
    void interrupt();

Q_SIGNALS:
    void finished(int exitCode);

private:
    // One --peer argument: a code or addresses, or @FILE to wait for.
    struct PeerArg
    {
        QString text;
        QString file;
        bool given = false;
    };
    // What this run knows of one friend (by fingerprint hex).
    QSet<QByteArray> m_requests; // friend requests not answered yet
    bool m_dhtOnline = false;
    QString m_dhtStatus;
    struct FriendSeen
    {
        QString name;
        State state = State::Idle;
        bool connectedOnce = false;
        Error lastError; // its own (not an outsider's): decides the exit code if it fails
        bool online = false; // presence, as last reported
        bool presenceKnown = false;
    };
    // --say-to / --send-to: PEER=VALUE, for the friend whose fingerprint starts with PEER (hex,
    // at least 8 digits) or whose name is PEER.
    struct Directed
    {
        QString peer;
        QString value;
    };

    void onLocalInfo(const LocalInfo &info);
    void showMapping(const LocalInfo &info);
    void onState(State state);
    void onFriendState(const QByteArray &peer, State state);
    void onConnected(const QByteArray &peer, const ConnectionInfo &info);
    void onError(const QByteArray &peer, const Error &error);
    void onDisconnected(const QByteArray &peer, const Error &why);
    void onTransfer(const QByteArray &peer, const TransferInfo &info);
    void waitForPeerFiles();
    bool usePeerText(const QString &text);
    void readStdin();
    void handleInputLine(const QString &line);
    QList<QByteArray> activeFriends() const;
    bool allPeersGiven() const;
    // Friends matching PEER (hex prefix of >= 8 digits, or a name); empty if none.
    QList<QByteArray> matchFriends(const QString &peer) const;
    static bool matches(const QString &peer, const QByteArray &fingerprint, const QString &name);
    void checkAllGone();
    QJsonObject withPeer(QJsonObject event, const QByteArray &peer) const;
    QString who(const QByteArray &peer) const;
    void emitEvent(const QJsonObject &event);
    void human(const QString &line);
    void fail(int code, const Error &error);
    void finish(int code);

    Node m_node;
    Settings m_settings;
    bool m_json = false;
    bool m_exitWhenDone = false;
    bool m_doneRequested = false;
    QString m_writeCodeFile;
    QList<PeerArg> m_peers;
    QSet<QString> m_expected; // distinct friends given (fingerprint hex, or the addresses)
    QStringList m_say;
    QList<Directed> m_sayTo;
    QStringList m_send;
    QList<Directed> m_sendTo;
    int m_timeoutSec = 0;
    bool m_localReady = false;
    QString m_mappingShown; // the port mapping status last printed (a `mapping` event per change)
    bool m_everConnected = false;
    bool m_finished = false;
    QTimer m_peerFilePoll;
    QTimer m_overallTimer;
    QSocketNotifier *m_stdin = nullptr;
    QByteArray m_stdinBuffer;
    QHash<QByteArray, FriendSeen> m_friends; // by fingerprint (raw)
    QHash<QString, QByteArray> m_transferPeer; // transfer id -> friend
    Error m_lastError;
};

} // namespace Punchline
