#pragma once
// One offer we receive: partial files next to their final names, hashed while written, checked
// against the sender's SHA-256, then renamed into place without replacing anything. Remembers
// what it has (TransferStore) so a reconnect or a restart continues instead of starting over.

#include "common/sha256.h"
#include "common/types.h"
#include "progressmeter.h"
#include "safedir.h"
#include "transferprotocol.h"
#include "transferstore.h"

#include <QElapsedTimer>
#include <QHash>
#include <QPointer>
#include <functional>
#include <optional>

namespace Punchline {

class PrefixHasher;

class IncomingTransfer
{
public:
    struct Hooks
    {
        std::function<void(quint16 type, const QByteArray &payload)> sendControl;
        std::function<void(const TransferInfo &)> changed;
    };

    // `files` are validated and NFC-normalised already (TransferManager).
    // `peer`: the sender's fingerprint hex, written into the record.
    IncomingTransfer(const QByteArray &id, const QList<OfferFile> &files, qint64 total,
        const QString &peer, TransferStore *store, Hooks hooks);
    ~IncomingTransfer(); // keeps partial files and the record: a later offer resumes
    IncomingTransfer(const IncomingTransfer &) = delete;
    IncomingTransfer &operator=(const IncomingTransfer &) = delete;

    QByteArray id() const { return m_id; }
    QString storeKey() const { return QString::fromLatin1(m_id.toHex()); } // TransferStore id
    QString digest() const { return m_digest; }
    const QList<OfferFile> &files() const { return m_files; } // empty once finished
    const TransferInfo &info() const { return m_info; }
    bool isActive() const;
    bool isAccepted() const; // accepted (or resumed) and not finished
    qsizetype fileCount() const { return m_info.files.size(); } // 0 once finished
    qint64 nameBytes() const { return m_nameBytes; } // UTF-8 bytes of the offered names
    bool isWaitingForDecision() const { return m_phase == Phase::Offered; }
    // Still unfinished, but the sender did not offer it again since the link came back (it
    // restarted and forgot it): a new offer of the same files may take over its partial data.
    bool isAbandoned() const { return isActive() && !m_offeredSinceLinkUp; }
    void supersede(); // fails it, keeping partial files and record for the new offer

    // The user (or the accept policy) said yes. `adopt`: an unfinished record of the same files
    // under another id (the sender offered them again), whose partial data is reused.
    void accept(const QString &downloadDir, const std::optional<TransferRecord> &adopt);
    // Accepted before this process started: continue from the record.
    void resume(const TransferRecord &record);
    void decline();
    void cancel();
    // Fails the transfer locally (and tells the peer, naming at most file `fileIndex` of its
    // offer, never a local path); partial data is kept for a later resume.
    void fail(const Error &error, bool notifyPeer, int fileIndex = -1);

    void handleReoffer();
    void handleData(const DataHeader &header, const char *data, qint64 length);
    void handleFileEnd(int index, const QByteArray &hash);
    void handleCancel();
    void handleAbort(const Error &error);
    void linkDown();

private:
    enum class Phase { Offered, Preparing, Receiving, Finished };
    enum class Cleanup { KeepPartials, DeletePartials };
    struct FileState
    {
        qint64 written = 0; // bytes in the partial file (or size once done)
        bool done = false;
        QByteArray sha256; // when done
        QString finalPath; // when done, relative to the download folder
    };

    Error peerError(const Error &error, int fileIndex) const;
    bool openRoot(const QString &downloadDir);
    bool hasFolder(int index) const;
    bool ensureFolder(int index, Error *error);
    void loadDoneFiles(const QString &recordId);
    void prepare();
    void hashNextPartial();
    void answer();
    bool checkFreeSpace();
    QStringList dirNames(int index) const;
    QString baseName(int index) const;
    QString partialName(int index) const;
    // whole: the file's whole content is at hand (one chunk): it is written without a name and
    // named once verified, see openPartial().
    bool openPartial(int index, bool truncate, Error *error, bool whole = false);
    QString placeFile(int index, Error *error);
    SafeDir takeFolder(int index, Error *error);
    void keepFolder();
    void closeCurrent();
    void finalizeFile(int index, const QByteArray &digest);
    void complete();
    void stopHasher();
    void removePartials();
    void finish(TransferState state, const Error &error, Cleanup cleanup);
    void publish();
    void progress();

    QByteArray m_id;
    QList<OfferFile> m_files;
    QString m_digest;
    qint64 m_nameBytes = 0;
    QString m_peer;
    TransferStore *m_store;
    Hooks m_hooks;
    TransferInfo m_info;
    Phase m_phase = Phase::Offered;
    bool m_offeredSinceLinkUp = true;

    QString m_downloadDir;
    SafeDir m_root;
    QString m_partTag;
    QHash<QString, QString> m_tops;
    qint64 m_createdMs = 0;

    QList<FileState> m_state;
    int m_doneCount = 0;
    QHash<int, Sha256> m_prefixState; // hash of each partial file's current content
    QList<int> m_toHash;
    QPointer<PrefixHasher> m_hasher;

    int m_current = -1;
    int m_fd = -1;
    bool m_anonymous = false; // m_fd has no name yet (O_TMPFILE): nothing to resume from
    SafeDir m_currentDir;
    // The folder of the last file, kept open for the next one in it (a folder of 10,000 files is
    // walked and verified once, not per file). Held by descriptor like m_currentDir: it is the
    // folder that was checked, whatever is renamed or planted on the path meanwhile. At most one
    // of the two is open; dropped when the link goes down or the transfer ends.
    SafeDir m_keptDir;
    QStringList m_keptDirNames;
    Sha256 m_hash;

    ProgressMeter m_meter;
    QElapsedTimer m_sinceAccept;
};

} // namespace Punchline
