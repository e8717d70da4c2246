#pragma once
// Chat history per known peer (keyed by certificate fingerprint), kept in the profile as an
// SQLite database (<profile>/history.sqlite) through Qt Sql. Each instance has its own named
// connection, so two windows (two profiles) can live in one process. Used from the UI thread:
// WAL journal and synchronous=NORMAL keep a commit from waiting for the disk.

#include "common/types.h"

#include <QByteArray>
#include <QCoreApplication>
#include <QList>
#include <QString>

namespace Punchline {

class ChatHistory
{
    Q_DECLARE_TR_FUNCTIONS(Punchline::ChatHistory)
public:
    static constexpr const char *FileName = "history.sqlite";
    static constexpr int SchemaVersion = 1;

    explicit ChatHistory(const QString &profileDir);
    ~ChatHistory();
    ChatHistory(const ChatHistory &) = delete;
    ChatHistory &operator=(const ChatHistory &) = delete;

    // Creates the file and tables if needed. False (with a sentence in error) when the file
    // cannot be opened or is not a history database; the window then works without history.
    bool open(Error *error = nullptr);
    bool isOpen() const { return m_open; }
    QString path() const { return m_path; }

    // Stores a message under the peer. The same message id twice (a retransmission) is kept once.
    bool store(const QByteArray &peerFingerprint, const ChatMessage &message);
    bool markDelivered(const QByteArray &peerFingerprint, const QString &messageId);
    // The last `limit` messages with this peer, oldest first.
    QList<ChatMessage> messages(const QByteArray &peerFingerprint, int limit = 500) const;
    int count(const QByteArray &peerFingerprint) const;

    // The name last seen for a peer (for history shown while not connected).
    bool rememberPeer(const QByteArray &peerFingerprint, const QString &name);
    QString peerName(const QByteArray &peerFingerprint) const;

private:
    bool exec(const QString &sql, Error *error);

    QString m_path;
    QString m_connectionName;
    bool m_open = false;
};

} // namespace Punchline
