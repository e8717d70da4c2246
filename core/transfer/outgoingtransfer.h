#pragma once
// One offer we send: its files, the resume check against the receiver's partial data, and the
// stream of chunks the session pulls. The chunks are read and hashed on a DiskWorker, up to
// ReadAhead of them ahead of the link, so the network thread only encrypts.

#include "common/sha256.h"
#include "common/types.h"
#include "progressmeter.h"
#include "transferprotocol.h"

#include <QElapsedTimer>
#include <QHash>
#include <QPointer>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

struct stat;

namespace Punchline {

class DiskWorker;
struct DiskFile;
class PrefixHasher;

class OutgoingTransfer
{
public:
    struct Source
    {
        QString absolutePath;
        OfferFile file;
    };
    struct Hooks
    {
        std::function<void(quint16 type, const QByteArray &payload)> sendControl;
        std::function<void()> bulkReady;
        std::function<void(const TransferInfo &)> changed;
        DiskWorker *disk = nullptr; // reads and hashes the chunks (shared by the manager's senders)
    };

    // Chunks read ahead of the link: 2 MiB, enough to keep the link fed while the worker reads
    // the next ones, small enough that memory stays flat.
    static constexpr int ReadAhead = 16;

    OutgoingTransfer(
        const QByteArray &id, const QList<Source> &sources, const QString &sentPath, Hooks hooks);
    ~OutgoingTransfer();
    OutgoingTransfer(const OutgoingTransfer &) = delete;
    // A file's modification time as offered and as checked before and after sending it.
    static qint64 mtimeMs(const struct stat &st);
    OutgoingTransfer &operator=(const OutgoingTransfer &) = delete;

    QByteArray id() const { return m_id; }
    const TransferInfo &info() const { return m_info; }
    bool isActive() const; // offered, accepted or in progress

    // The offer, first time and again after every reconnect (the receiver answers with what it
    // already has).
    void sendOffer();
    void handleAccept(const AcceptPart &part);
    void handleDecline();
    void handleCancel();
    void handleAbort(const Error &error);
    void handleComplete(const QByteArray &hash);
    void cancel();
    void linkDown();
    // Next chunk or FileEnd frame; nullopt while there is nothing to send.
    std::optional<std::pair<quint16, QByteArray>> nextFrame();

private:
    enum class Phase { WaitingAccept, Verifying, Sending, AwaitingComplete, Finished };

    void acceptComplete();
    void verifyNext();
    void beginSending();
    int openSource(int index, Error *error) const;
    // Keeps ReadAhead chunks (and FileEnd frames) requested from the worker.
    void requestMore();
    // Forgets every read in flight (their replies are dropped) and the file being read.
    void resetReads();
    void stopHasher();
    Error peerError(const Error &error, int fileIndex) const;
    void failFinishedDiffers(int index);
    // notifyPeer: the receiver hears of it, naming at most file `fileIndex` of the offer.
    void fail(const Error &error, bool notifyPeer, int fileIndex = -1);
    void finish(TransferState state, const Error &error = {});
    void publish();

    QByteArray m_id;
    QList<Source> m_sources;
    Hooks m_hooks;
    TransferInfo m_info;
    Phase m_phase = Phase::WaitingAccept;

    QList<ResumeEntry> m_acceptEntries;
    int m_acceptCount = -1;
    int m_verifyPos = 0;
    QPointer<PrefixHasher> m_hasher;

    QList<QByteArray> m_hashes; // full SHA-256 per file once known
    QList<qint64> m_startOffset; // where each file (re)starts after the resume check
    QList<bool> m_skip; // already complete at the receiver
    QHash<int, Sha256> m_prefixState;

    // Reading: requests go to the worker in file order; frames come back in the same order.
    std::shared_ptr<DiskFile> m_source; // the file being requested
    int m_reqFile = -1;
    qint64 m_reqPos = 0;
    bool m_allRequested = false;
    int m_readsInFlight = 0;
    std::deque<std::pair<quint16, QByteArray>> m_ready;
    quint64 m_readGen = 0; // replies of an older generation are dropped
    std::shared_ptr<int> m_alive = std::make_shared<int>(0); // replies check it (weak_ptr)

    QByteArray m_pendingComplete; // Complete that overtook our resume check (nothing left to send)

    ProgressMeter m_meter;
    QElapsedTimer m_sinceAccept;
};

} // namespace Punchline
