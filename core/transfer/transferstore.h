#pragma once
// What the receiver remembers about accepted incoming transfers, under the profile's
// transfers/ folder, so that after a crash or restart the same offer (same transfer id, or the
// same files: path + size + sender's mtime) continues from the partial files on disk.
//
// Per transfer: <id>.json (the offer, where it lands, the partial-file tag, the sender), <id>.done
// (one line per verified file: "index<TAB>sha256hex<TAB>final relative path", appended as files
// finish, so a 100k-file transfer is not rewritten per file) and <id>.tops (one line per top-level
// folder made when its first file started: "offered name<TAB>name used"). The engine should give
// each peer its own folder (transfers/<peer fingerprint>/): records are matched against whoever is
// connected.

#include "common/types.h"
#include "transferprotocol.h"

#include <QHash>
#include <QList>
#include <QString>
#include <optional>

namespace Punchline {

struct TransferRecord
{
    QString id; // hex
    bool done = false;
    QString digest; // identity of the file list, see TransferStore::digestOf
    QString partTag; // in partial-file names; kept when a re-offer adopts the record
    QString downloadDir;
    QList<OfferFile> files;
    qint64 total = 0;
    QHash<QString, QString> tops; // top-level folder of the offer -> folder name used on disk
    QString manifest; // hex, when done
    qint64 createdMs = 0;
    QString peer; // fingerprint hex of the sender; a record is only ever used for that peer
};

struct DoneEntry
{
    int index = 0;
    QByteArray sha256; // raw 32 bytes
    QString finalPath; // relative to the download folder
};

class TransferStore
{
public:
    static constexpr qint64 KeepDoneMs = qint64(7) * 24 * 3600 * 1000;
    static constexpr qint64 KeepUnfinishedMs = qint64(30) * 24 * 3600 * 1000;

    // Loads the index of records in dir (created if missing) and drops expired ones.
    explicit TransferStore(const QString &dir);
    ~TransferStore(); // closes the done logs it holds open
    TransferStore(const TransferStore &) = delete;
    TransferStore &operator=(const TransferStore &) = delete;

    QString dir() const { return m_dir; }
    bool save(const TransferRecord &record, Error *error);
    std::optional<TransferRecord> load(const QString &id) const;
    bool contains(const QString &id) const { return m_index.contains(id); }
    // An unfinished record of `peer` for the same files (not one of `exclude`), or a null string.
    QString findUnfinishedByDigest(
        const QString &digest, const QString &peer, const QStringList &exclude) const;
    QList<DoneEntry> doneEntries(const QString &id) const;
    // Appends one line with one write(2) to a done log held open between calls (a folder of
    // 10,000 small files is not 10,000 opens and closes); unbuffered, so a line appended is in
    // the kernel before the call returns, exactly as when the file was opened per line.
    bool appendDone(const QString &id, const DoneEntry &entry, Error *error);
    // Closes the done log of `id` if it is open (the transfer ended or its link went down). At
    // most MaxOpenLogs are open at once; remove() and renameLogs() close theirs first.
    void closeLog(const QString &id);
    static constexpr int MaxOpenLogs = 4;
    // How often a done log was opened for appending (tests and benchmarks count it).
    qint64 logOpens() const { return m_logOpens; }
    // Remembers the folder name used for an offered top-level folder (made on its first file).
    bool appendTop(const QString &id, const QString &top, const QString &used, Error *error);
    void remove(const QString &id);
    // Moves the done and folder logs of `from` to `to` (adopting an old record under a new id).
    void renameLogs(const QString &from, const QString &to);

    // Bytes of all records here (what the TransferBudget counts).
    qint64 bytesOnDisk() const { return m_bytes; }
    // Deletes the oldest records of `peer` (not those in `keep`) until `bytes` were freed:
    // finished ones first, then unfinished ones with their partial files. Returns bytes freed.
    qint64 evictOldest(qint64 bytes, const QString &peer, const QStringList &keep);
    // About how many bytes the record of these files will take once every file is done.
    static qint64 estimatedRecordBytes(const QList<OfferFile> &files);

    static QString digestOf(const QList<OfferFile> &files);

private:
    struct IndexEntry
    {
        QString digest;
        bool done = false;
        QString peer;
        qint64 createdMs = 0;
        qint64 bytes = 0; // its files on disk
    };
    QString recordPath(const QString &id) const;
    QString donePath(const QString &id) const;
    QString topsPath(const QString &id) const;
    qint64 sizeOnDisk(const QString &id) const;
    void recount(const QString &id);
    void removeExpired(const TransferRecord &record);

    QString m_dir;
    QHash<QString, IndexEntry> m_index;
    qint64 m_bytes = 0;
    QHash<QString, int> m_logs; // id -> descriptor of its done log, open for appending
    qint64 m_logOpens = 0;
};

} // namespace Punchline
