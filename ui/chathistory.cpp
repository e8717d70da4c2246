#include "chathistory.h"

#include <QDir>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <atomic>

namespace Punchline {

namespace {

QString peerKey(const QByteArray &fingerprint)
{
    return QString::fromLatin1(fingerprint.toHex());
}

} // namespace

ChatHistory::ChatHistory(const QString &profileDir)
    : m_path(QDir(profileDir).filePath(QString::fromLatin1(FileName)))
{
    static std::atomic<int> counter { 0 };
    m_connectionName = QStringLiteral("punchline-history-%1").arg(++counter);
}

ChatHistory::~ChatHistory()
{
    if (!QSqlDatabase::contains(m_connectionName))
        return;
    {
        QSqlDatabase db = QSqlDatabase::database(m_connectionName, false);
        db.close();
    } // every handle must be gone before the connection is removed
    QSqlDatabase::removeDatabase(m_connectionName);
}

bool ChatHistory::exec(const QString &sql, Error *error)
{
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    if (query.exec(sql))
        return true;
    if (error)
        *error = { ErrorCode::FileError,
            tr("The chat history %1 cannot be used: %2").arg(m_path, query.lastError().text()) };
    return false;
}

bool ChatHistory::open(Error *error)
{
    if (m_open)
        return true;
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QSQLITE"))) {
        if (error)
            *error = { ErrorCode::FileError,
                tr("Chat history is off: the SQLite driver for Qt is not installed.") };
        return false;
    }
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connectionName);
        db.setDatabaseName(m_path);
        if (!db.open()) {
            if (error)
                *error = { ErrorCode::FileError,
                    tr("The chat history %1 cannot be opened: %2")
                        .arg(m_path, db.lastError().text()) };
            return false;
        }
    }
    // The first statement that reads the file tells a damaged or foreign file apart.
    QSqlQuery version(QSqlDatabase::database(m_connectionName, false));
    if (!version.exec(QStringLiteral("PRAGMA user_version")) || !version.next()) {
        if (error)
            *error = {
                ErrorCode::FileError,
                tr("%1 is not a chat history database: %2").arg(m_path, version.lastError().text())
            };
        return false;
    }
    const int fileVersion = version.value(0).toInt();
    version.finish();
    if (fileVersion > SchemaVersion) {
        if (error)
            *error = { ErrorCode::FileError,
                tr("The chat history %1 was written by a newer Punchline; it is left as it is.")
                    .arg(m_path) };
        return false;
    }
    const bool ok = exec(QStringLiteral("PRAGMA journal_mode=WAL"), error)
        && exec(QStringLiteral("PRAGMA synchronous=NORMAL"), error)
        && exec(QStringLiteral("CREATE TABLE IF NOT EXISTS messages ("
                               " row INTEGER PRIMARY KEY AUTOINCREMENT,"
                               " peer TEXT NOT NULL,"
                               " id TEXT NOT NULL,"
                               " outgoing INTEGER NOT NULL,"
                               " time INTEGER NOT NULL,"
                               " text TEXT NOT NULL,"
                               " delivered INTEGER NOT NULL DEFAULT 0,"
                               " UNIQUE (peer, outgoing, id))"),
            error)
        && exec(
            QStringLiteral("CREATE INDEX IF NOT EXISTS messages_by_peer ON messages (peer, row)"),
            error)
        && exec(QStringLiteral("CREATE TABLE IF NOT EXISTS peers ("
                               " peer TEXT PRIMARY KEY,"
                               " name TEXT NOT NULL)"),
            error)
        && exec(QStringLiteral("PRAGMA user_version=%1").arg(SchemaVersion), error);
    m_open = ok;
    return ok;
}

bool ChatHistory::store(const QByteArray &peerFingerprint, const ChatMessage &message)
{
    if (!m_open || peerFingerprint.isEmpty())
        return false;
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    query.prepare(
        QStringLiteral("INSERT OR IGNORE INTO messages (peer, id, outgoing, time, text, delivered)"
                       " VALUES (?, ?, ?, ?, ?, ?)"));
    query.addBindValue(peerKey(peerFingerprint));
    query.addBindValue(message.id);
    query.addBindValue(message.outgoing ? 1 : 0);
    const QDateTime time = message.time.isValid() ? message.time : QDateTime::currentDateTimeUtc();
    query.addBindValue(time.toMSecsSinceEpoch());
    query.addBindValue(message.text);
    query.addBindValue(message.delivered ? 1 : 0);
    return query.exec();
}

bool ChatHistory::markDelivered(const QByteArray &peerFingerprint, const QString &messageId)
{
    if (!m_open)
        return false;
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    query.prepare(QStringLiteral(
        "UPDATE messages SET delivered = 1 WHERE peer = ? AND outgoing = 1 AND id = ?"));
    query.addBindValue(peerKey(peerFingerprint));
    query.addBindValue(messageId);
    return query.exec() && query.numRowsAffected() > 0;
}

QList<ChatMessage> ChatHistory::messages(const QByteArray &peerFingerprint, int limit) const
{
    QList<ChatMessage> result;
    if (!m_open || limit <= 0)
        return result;
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    query.setForwardOnly(true);
    query.prepare(QStringLiteral("SELECT id, outgoing, time, text, delivered FROM messages"
                                 " WHERE peer = ? ORDER BY row DESC LIMIT ?"));
    query.addBindValue(peerKey(peerFingerprint));
    query.addBindValue(limit);
    if (!query.exec())
        return result;
    while (query.next()) {
        ChatMessage m;
        m.id = query.value(0).toString();
        m.outgoing = query.value(1).toInt() != 0;
        m.time = QDateTime::fromMSecsSinceEpoch(query.value(2).toLongLong());
        m.text = query.value(3).toString();
        m.delivered = query.value(4).toInt() != 0;
        result.prepend(m);
    }
    return result;
}

int ChatHistory::count(const QByteArray &peerFingerprint) const
{
    if (!m_open)
        return 0;
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    query.prepare(QStringLiteral("SELECT COUNT(*) FROM messages WHERE peer = ?"));
    query.addBindValue(peerKey(peerFingerprint));
    if (!query.exec() || !query.next())
        return 0;
    return query.value(0).toInt();
}

bool ChatHistory::rememberPeer(const QByteArray &peerFingerprint, const QString &name)
{
    if (!m_open || peerFingerprint.isEmpty())
        return false;
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    query.prepare(QStringLiteral("INSERT INTO peers (peer, name) VALUES (?, ?)"
                                 " ON CONFLICT(peer) DO UPDATE SET name = excluded.name"));
    query.addBindValue(peerKey(peerFingerprint));
    query.addBindValue(name);
    return query.exec();
}

QString ChatHistory::peerName(const QByteArray &peerFingerprint) const
{
    if (!m_open)
        return QString();
    QSqlQuery query(QSqlDatabase::database(m_connectionName, false));
    query.prepare(QStringLiteral("SELECT name FROM peers WHERE peer = ?"));
    query.addBindValue(peerKey(peerFingerprint));
    if (!query.exec() || !query.next())
        return QString();
    return query.value(0).toString();
}

} // namespace Punchline
