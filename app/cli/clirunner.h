#pragma once
// punchline-cli: the headless front end over the same Node the window uses. Its flags, JSON
// events and exit codes are a stable contract (README "Command line"): tests and users script it.

#include "engine/node.h"

#include <QJsonObject>
#include <QObject>
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
    void onLocalInfo(const LocalInfo &info);
    void onState(State state);
    void onConnected(const ConnectionInfo &info);
    void onError(const Error &error);
    void onDisconnected(const Error &why);
    void onTransfer(const TransferInfo &info);
    void waitForPeerFile();
    void usePeerText(const QString &text);
    void readStdin();
    void handleInputLine(const QString &line);
    void emitEvent(const QJsonObject &event);
    void human(const QString &line);
    void fail(int code, const Error &error);
    void finish(int code);
    void maybeFinishDone();

    Node m_node;
    Settings m_settings;
    bool m_json = false;
    bool m_exitWhenDone = false;
    QString m_writeCodeFile;
    QString m_peerArg;
    QString m_peerFile;
    QStringList m_say;
    QStringList m_send;
    int m_timeoutSec = 0;
    bool m_localReady = false;
    bool m_peerGiven = false;
    bool m_everConnected = false;
    bool m_sentInitial = false;
    bool m_finished = false;
    QTimer m_peerFilePoll;
    QTimer m_overallTimer;
    QSocketNotifier *m_stdin = nullptr;
    QByteArray m_stdinBuffer;
    QString m_peerName;
    Error m_lastError;
};

} // namespace Punchline
