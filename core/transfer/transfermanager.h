#pragma once
// File and folder transfer with one peer: offers in both directions, several at once, each
// file hashed (SHA-256) while it streams and verified before it gets its final name, resumed
// from partial data after a reconnect or a restart. Implements the session's TransferHandler
// seam; the engine exposes it through Node (sendPaths, acceptTransfer, cancelTransfer).
//
// Threading: lives on the network thread with the session; all calls from there. File reads,
// writes, hashing and syncs run on two DiskWorker threads it owns (one for what it sends, one for
// what it receives); the network thread only moves buffers.

#include "common/acceptpolicy.h"
#include "common/types.h"
#include "flowwindow.h"
#include "session/transferhandler.h"
#include "transferbudget.h"
#include "transferstore.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QSet>
#include <deque>
#include <map>
#include <memory>

namespace Punchline {

class DiskWorker;
class IncomingTransfer;
class OutgoingTransfer;

class TransferManager : public QObject, public TransferHandler
{
    Q_OBJECT
public:
    static constexpr int MaxPendingOffers = 32; // incoming offers waiting for the user
    static constexpr int MaxOffersInFlight = 8; // multi-part offers being received at once
    static constexpr int MaxFinishedKept = 256; // finished incoming transfers remembered

    // downloadDir: where received files land. stateDir: profile/transfers/<peer> (incoming
    // transfer records for resume across restarts; empty: resume only within this run).
    TransferManager(const QString &downloadDir, const QString &stateDir, AcceptPolicy policy,
        QObject *parent = nullptr);
    ~TransferManager() override; // partial files and records stay for a later resume

    // Limits shared with the other peers' managers (see TransferBudget). Until this is called the
    // manager has a budget of its own with the default limits. Null: a private one again.
    void setBudget(std::shared_ptr<TransferBudget> budget);
    std::shared_ptr<TransferBudget> budget() const { return m_budget; }
    // What this peer's incoming offers and transfers cost now (TransferBudget counts these).
    TransferBudget::Usage budgetUsage() const;

    // Offers files and folders (absolute paths) as one transfer and returns its id, or a null
    // string with *error (missing/unreadable item, symlink, unsendable name, too many files...).
    // Folders are walked recursively; symlinks and special files inside them are skipped.
    // Sent as soon as the link is up.
    QString offerPaths(const QStringList &absolutePaths, Error *error);
    // Same, under an id chosen by the caller (a QUuid string; Node hands out ids at once).
    QString offerPaths(const QString &transferId, const QStringList &absolutePaths, Error *error);
    void accept(const QString &id);
    void decline(const QString &id);
    void cancel(const QString &id); // either direction, any time before it finished
    void setDownloadDir(const QString &dir); // for transfers accepted from now on
    void setAcceptPolicy(AcceptPolicy policy);
    // The peer's certificate fingerprint. Resume records are written with it and only records
    // with the same one are ever used (stateDir should be per peer as well). Set before the link
    // first comes up; empty (the default) matches only records without a peer.
    void setPeer(const QByteArray &fingerprint);
    QString downloadDir() const { return m_downloadDir; }
    QList<TransferInfo> transfers() const;

    // TransferHandler
    void setSendControl(SendControl send) override;
    void handleFrame(quint16 type, const QByteArray &payload) override;
    std::optional<std::pair<quint16, QByteArray>> nextBulkFrame() override;
    void setPeerCapabilities(const QStringList &capabilities) override;
    void onLinkUp() override;
    void onLinkDown() override;
    bool isIdle() const override;

Q_SIGNALS:
    // Offered, Accepted, Progress (at most ten a second), then Done/Failed/Canceled/Declined.
    // Emitted from the event loop (queued), never from inside a call into the manager.
    void transferUpdated(const Punchline::TransferInfo &info);

private:
    struct OfferAssembly
    {
        int count = 0;
        qint64 total = 0;
        qint64 sum = 0;
        qint64 nameBytes = 0;
        QList<OfferFile> files;
        QSet<QString> paths;
    };

    void drainWriter();
    void handleConsumed(const QByteArray &payload);
    void handleData(const QByteArray &payload);
    void handleControl(quint16 type, const QByteArray &payload);
    void handleOfferPart(const QByteArray &payload);
    void offerComplete(const QByteArray &id, const OfferAssembly &offer);
    bool addOfferFiles(OfferAssembly &offer, const QList<OfferFile> &files, Error *error) const;
    void rejectOffer(const QByteArray &id, const Error &error);
    void acceptIncoming(IncomingTransfer *transfer);
    bool makeRoomForRecord(qint64 bytes, const QStringList &keep);
    TransferBudget::Usage assemblyUsage(const QByteArray &id, qint64 files, qint64 nameBytes) const;
    void failTransfer(const QByteArray &id, const Error &error);
    void forgetOldTransfers();
    void sendControl(quint16 type, const QByteArray &payload);
    void publish(const TransferInfo &info);
    void changed(const TransferInfo &info);
    IncomingTransfer *incoming(const QByteArray &id) const;
    OutgoingTransfer *outgoing(const QByteArray &id) const;
    std::unique_ptr<IncomingTransfer> makeIncoming(
        const QByteArray &id, const QList<OfferFile> &files, qint64 total);

    std::shared_ptr<TransferBudget> m_budget;
    QString m_downloadDir;
    QString m_peer; // fingerprint hex; records of other peers are never used
    AcceptPolicy m_policy;
    TransferStore m_store;
    SendControl m_send;
    bool m_linkUp = false;
    std::map<QByteArray, std::unique_ptr<OutgoingTransfer>> m_outgoing;
    QList<QByteArray> m_sendOrder; // round robin over outgoing transfers with data to send
    qsizetype m_nextSender = 0;
    std::map<QByteArray, std::unique_ptr<IncomingTransfer>> m_incoming;
    QHash<QByteArray, OfferAssembly> m_assemblies;
    QHash<QByteArray, Error> m_rejected; // refused offers: a repeat gets the same answer

    // Flow control, when the peer takes part (FlowCapability): as sender, the window over our
    // Data frames; as receiver, the Data bytes processed since the link came up.
    bool m_peerFlow = false;
    FlowWindow m_flow;
    QElapsedTimer m_clock;
    QElapsedTimer m_flowLog;
    qint64 m_consumed = 0;
    // Consumed is sent at once for a Data frame of ConsumedBatchBytes or more (our sender's
    // 128 KiB chunks); small frames (a folder of small files: one frame per file) are
    // acknowledged together, every ConsumedBatchBytes and whenever the writer has no Data frame
    // left to write (from the writer's replies).
    static constexpr qint64 ConsumedBatchBytes = 64 * 1024;
    qint64 m_consumedSent = 0; // m_consumed as last reported
    qint64 m_consumedWaitUs = 0; // how long the last frame counted took from arrival to written
    qint64 m_consumedPending = 0; // Data frames handed to the writer, their reply not yet run
    void flushConsumed();

    quint64 m_linkGen = 0; // a Consumed of an earlier link is never sent on a later one

    // Received data handed to the writer and not yet written: past this the network thread waits
    // for the disk (the memory bound does not rely on the sender keeping to its window).
    static constexpr qint64 MaxQueuedBytes = qint64(32) << 20;
    // Last members: destroyed first, so no job or reply outlives the transfers they serve.
    std::unique_ptr<DiskWorker> m_reader;
    std::unique_ptr<DiskWorker> m_writer;
};

} // namespace Punchline
