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
#include <atomic>
#include <functional>
#include <memory>
#include <optional>

namespace Punchline {

class DiskWorker;
struct DiskFile;
class PrefixHasher;

class IncomingTransfer
{
public:
    struct Hooks
    {
        std::function<void(quint16 type, const QByteArray &payload)> sendControl;
        std::function<void(const TransferInfo &)> changed;
        // Writes, hashes, syncs and renames run there (one per manager, shared by its incoming
        // transfers); must outlive the transfer's use of it.
        DiskWorker *disk = nullptr;
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
    // Files whose FileEnd arrived are synced and renamed in batches (SyncBatchFiles): this
    // posts the waiting ones now. The manager calls it before a link-down or a repeated offer and
    // then drains the worker, so every file is either in place or failed before anything answers.
    void flushSyncs();

    void handleReoffer();
    // `frame`: the whole Data payload (header + bytes), kept by the write job until written.
    void handleData(const DataHeader &header, const QByteArray &frame);
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
        bool finishing = false; // ended: being checked, synced and renamed by the worker
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
    bool openPartial(
        int index, bool truncate, const Sha256 &prefix, Error *error, bool whole = false);
    std::shared_ptr<SafeDir> takeFolder(int index, Error *error);
    void closeCurrent();
    void stopDisk();
    // Ended files are synced as a group commit: a file that ends while no sync is running is
    // handed over at once; those that end while one runs wait for it and go together (at most
    // this many), so many small files share each sync of their folder.
    static constexpr int SyncBatchFiles = 256;
    // A file whose data is all written (or queued): checked, synced and renamed by the worker.
    struct PendingSync
    {
        int index = -1;
        QByteArray expected; // the sender's SHA-256
        std::shared_ptr<DiskFile> file;
        std::shared_ptr<SafeDir> dir;
        QString partial; // its name in dir (none when anonymous)
        QString wanted; // the final name it should get
        // Written without a name (O_TMPFILE): linked to `wanted` after its data sync instead of
        // renamed; its content goes with its descriptor if it is not.
        bool anonymous = false;
    };
    struct SyncResult
    {
        int index = -1;
        QByteArray digest;
        bool mismatch = false;
        Error error;
        QString used; // the final name it got
        bool lost = false; // anonymous and never named: nothing of it is on disk
    };
    void synced(const QList<SyncResult> &results);
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

    // The file being written: the worker owns its writes; m_state's `written` counts what was
    // handed to it.
    int m_current = -1;
    std::shared_ptr<DiskFile> m_file;
    bool m_anonymous = false; // m_file has no name yet (O_TMPFILE): nothing to resume from
    std::shared_ptr<SafeDir> m_currentDir; // m_file's folder (m_folder)
    // The folder of the last file, kept open for the next one in it (a folder of 10,000 files is
    // walked and verified once, not per file), and the same handle for every file of it in a
    // sync batch, so a group commit syncs each folder once. Held by descriptor: it is the folder
    // that was checked, whatever is renamed or planted on the path meanwhile. Dropped when the
    // link goes down or the transfer ends (batches still queued keep their own reference).
    std::shared_ptr<SafeDir> m_folder;
    QStringList m_folderNames;
    QList<PendingSync> m_toSync; // ended, not yet handed to the worker (batched)
    int m_syncsInFlight = 0;
    std::shared_ptr<std::atomic<bool>> m_syncStop = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<int> m_alive = std::make_shared<int>(0); // replies check it (weak_ptr)

    ProgressMeter m_meter;
    QElapsedTimer m_sinceAccept;
};

} // namespace Punchline
