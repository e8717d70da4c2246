#include "transfermanager.h"

#include "common/logging.h"
#include "diskworker.h"
#include "incomingtransfer.h"
#include "outgoingtransfer.h"
#include "pathsafety.h"
#include "transferprotocol.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QUuid>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <sys/stat.h>
#include <unistd.h>

namespace Punchline {

namespace {

struct Walk
{
    QList<OutgoingTransfer::Source> sources;
    qint64 total = 0;
    Error error;
};

bool addFile(Walk &walk, const QString &absolute, const QString &relative, const struct stat &st)
{
    if (::access(QFile::encodeName(absolute).constData(), R_OK) != 0) {
        walk.error = { ErrorCode::FileError, QStringLiteral("%1 cannot be read.").arg(absolute) };
        return false;
    }
    if (walk.sources.size() >= TransferProtocol::MaxFiles) {
        walk.error = { ErrorCode::TransferRejected,
            QStringLiteral("More than %1 files in one transfer.").arg(TransferProtocol::MaxFiles) };
        return false;
    }
    walk.total += st.st_size;
    if (walk.total > TransferProtocol::MaxTotalBytes) {
        walk.error = { ErrorCode::TransferRejected, QStringLiteral("The transfer is too large.") };
        return false;
    }
    walk.sources.append(
        { absolute, { relative, qint64(st.st_size), OutgoingTransfer::mtimeMs(st) } });
    return true;
}

// Regular files below `absolute`, sorted; symlinks (to files or folders) and special files are
// skipped, never followed.
bool walkFolder(Walk &walk, const QString &absolute, const QString &relative, int depth)
{
    if (depth > PathSafety::MaxDepth) {
        walk.error = { ErrorCode::TransferRejected,
            QStringLiteral("%1 is nested too deeply.").arg(absolute) };
        return false;
    }
    QDir dir(absolute);
    if (!dir.isReadable()) {
        walk.error = { ErrorCode::FileError, QStringLiteral("%1 cannot be read.").arg(absolute) };
        return false;
    }
    const QStringList names = dir.entryList(
        QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot, QDir::Name);
    for (const QString &name : names) {
        const QString childAbsolute = absolute + QLatin1Char('/') + name;
        struct stat st = {};
        if (::lstat(QFile::encodeName(childAbsolute).constData(), &st) != 0)
            continue; // vanished meanwhile
        if (S_ISLNK(st.st_mode)) {
            qCInfo(lcTransfer) << "not sending symlink" << childAbsolute;
            continue;
        }
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
            qCInfo(lcTransfer) << "not sending special file" << childAbsolute;
            continue;
        }
        QString why;
        const QString childRelative
            = PathSafety::normalizedRelativePath(relative + QLatin1Char('/') + name, &why);
        if (childRelative.isNull()) {
            walk.error = { ErrorCode::TransferRejected,
                QStringLiteral("%1 cannot be sent: its name %2.").arg(childAbsolute, why) };
            return false;
        }
        if (S_ISDIR(st.st_mode) ? !walkFolder(walk, childAbsolute, childRelative, depth + 1)
                                : !addFile(walk, childAbsolute, childRelative, st))
            return false;
    }
    return true;
}

} // namespace

TransferManager::TransferManager(
    const QString &downloadDir, const QString &stateDir, AcceptPolicy policy, QObject *parent)
    : QObject(parent)
    , m_downloadDir(downloadDir)
    , m_policy(policy)
    , m_store(stateDir)
    , m_reader(std::make_unique<DiskWorker>("punchline-read"))
    , m_writer(std::make_unique<DiskWorker>("punchline-write"))
{
    m_budget = std::make_shared<TransferBudget>();
    m_budget->join(this);
    m_clock.start();
}

TransferManager::~TransferManager()
{
    m_budget->leave(this);
    // The workers go first (last members): jobs not started are dropped, the running one ends.
}

void TransferManager::setBudget(std::shared_ptr<TransferBudget> budget)
{
    m_budget->leave(this);
    m_budget = budget ? std::move(budget) : std::make_shared<TransferBudget>();
    m_budget->join(this);
}

// Offer files being assembled count, except those a re-offer of a transfer in progress repeats
// (the transfer counts them already; after a reconnect every unfinished one is offered again).
TransferBudget::Usage TransferManager::assemblyUsage(
    const QByteArray &id, qint64 files, qint64 nameBytes) const
{
    TransferBudget::Usage usage { files, nameBytes, 0, 0 };
    if (const IncomingTransfer *known = incoming(id); known && known->isActive()) {
        usage.files = std::max<qint64>(0, files - known->fileCount());
        usage.nameBytes = std::max<qint64>(0, nameBytes - known->nameBytes());
    }
    return usage;
}

TransferBudget::Usage TransferManager::budgetUsage() const
{
    TransferBudget::Usage usage;
    for (auto it = m_assemblies.cbegin(); it != m_assemblies.cend(); ++it) {
        const auto part = assemblyUsage(it.key(), it->files.size(), it->nameBytes);
        usage.files += part.files;
        usage.nameBytes += part.nameBytes;
    }
    for (const auto &[id, in] : m_incoming) {
        if (!in->isActive())
            continue;
        usage.files += in->fileCount();
        usage.nameBytes += in->nameBytes();
        usage.active += in->isAccepted() ? 1 : 0;
    }
    usage.recordBytes = m_store.bytesOnDisk();
    return usage;
}

// Old records of this peer make way for a new one when it would not fit.
bool TransferManager::makeRoomForRecord(qint64 bytes, const QStringList &keep)
{
    const TransferBudget::Limits &limits = m_budget->limits();
    const qint64 overPeer = m_store.bytesOnDisk() + bytes - limits.recordBytesPerPeer;
    const qint64 overTotal = m_budget->total().recordBytes + bytes - limits.recordBytesTotal;
    const qint64 over = std::max(overPeer, overTotal);
    return over <= 0 || m_store.evictOldest(over, m_peer, keep) >= over;
}

void TransferManager::publish(const TransferInfo &info)
{
    // Queued: a slot may call back into the manager (cancel, accept) without re-entering the
    // transfer that is reporting.
    QMetaObject::invokeMethod(
        this, [this, info] { Q_EMIT transferUpdated(info); }, Qt::QueuedConnection);
}

void TransferManager::changed(const TransferInfo &info)
{
    publish(info);
    // A finished transfer may make us idle: let the session look again ("both sides done").
    const bool finished = info.state == TransferState::Done || info.state == TransferState::Failed
        || info.state == TransferState::Canceled || info.state == TransferState::Declined;
    if (finished && bulkAvailable)
        bulkAvailable();
}

void TransferManager::sendControl(quint16 type, const QByteArray &payload)
{
    if (m_linkUp && m_send)
        m_send(type, payload);
}

IncomingTransfer *TransferManager::incoming(const QByteArray &id) const
{
    const auto it = m_incoming.find(id);
    return it == m_incoming.end() ? nullptr : it->second.get();
}

OutgoingTransfer *TransferManager::outgoing(const QByteArray &id) const
{
    const auto it = m_outgoing.find(id);
    return it == m_outgoing.end() ? nullptr : it->second.get();
}

QString TransferManager::offerPaths(const QStringList &absolutePaths, Error *error)
{
    return offerPaths(QUuid::createUuid().toString(QUuid::WithoutBraces), absolutePaths, error);
}

QString TransferManager::offerPaths(
    const QString &transferId, const QStringList &absolutePaths, Error *error)
{
    Error ignored;
    Error &err = error ? *error : ignored;
    err = {};
    const QByteArray id = TransferProtocol::idFromText(transferId);
    if (id.isEmpty() || outgoing(id) || incoming(id)) {
        err = { ErrorCode::BadUsage,
            QStringLiteral("Bad or duplicate transfer id %1.").arg(transferId) };
        return {};
    }
    if (absolutePaths.isEmpty()) {
        err = { ErrorCode::BadUsage, QStringLiteral("Nothing to send.") };
        return {};
    }
    Walk walk;
    QSet<QString> topNames;
    QStringList sent;
    for (const QString &given : absolutePaths) {
        if (!QDir::isAbsolutePath(given)) {
            err = { ErrorCode::BadUsage, QStringLiteral("%1 is not an absolute path.").arg(given) };
            return {};
        }
        const QString absolute = QDir::cleanPath(given);
        struct stat st = {};
        if (::lstat(QFile::encodeName(absolute).constData(), &st) != 0) {
            err = { ErrorCode::FileError, QStringLiteral("%1 does not exist.").arg(absolute) };
            return {};
        }
        if (S_ISLNK(st.st_mode)) {
            err = { ErrorCode::FileError,
                QStringLiteral("%1 is a symbolic link; links are not sent. Choose the file or "
                               "folder it points to.")
                    .arg(absolute) };
            return {};
        }
        QString why;
        const QString name
            = PathSafety::normalizedRelativePath(QFileInfo(absolute).fileName(), &why);
        if (name.isNull()) {
            err = { ErrorCode::TransferRejected,
                QStringLiteral("%1 cannot be sent: its name %2.").arg(absolute, why) };
            return {};
        }
        if (topNames.contains(name)) {
            err = { ErrorCode::BadUsage,
                QStringLiteral("Two of the items are named %1.").arg(name) };
            return {};
        }
        topNames.insert(name);
        sent.append(absolute);
        if (S_ISDIR(st.st_mode)) {
            if (!walkFolder(walk, absolute, name, 1)) {
                err = walk.error;
                return {};
            }
        } else if (S_ISREG(st.st_mode)) {
            if (!addFile(walk, absolute, name, st)) {
                err = walk.error;
                return {};
            }
        } else {
            err = { ErrorCode::FileError,
                QStringLiteral("%1 is neither a file nor a folder.").arg(absolute) };
            return {};
        }
    }
    if (walk.sources.isEmpty()) {
        err = { ErrorCode::FileError, QStringLiteral("The chosen folders contain no files.") };
        return {};
    }

    OutgoingTransfer::Hooks hooks;
    hooks.sendControl
        = [this](quint16 type, const QByteArray &payload) { sendControl(type, payload); };
    hooks.bulkReady = [this] {
        if (bulkAvailable)
            bulkAvailable();
    };
    hooks.changed = [this](const TransferInfo &info) { changed(info); };
    hooks.disk = m_reader.get();
    auto transfer = std::make_unique<OutgoingTransfer>(
        id, walk.sources, sent.join(QLatin1Char('\n')), std::move(hooks));
    OutgoingTransfer *raw = transfer.get();
    m_outgoing.emplace(id, std::move(transfer));
    m_sendOrder.append(id);
    publish(raw->info());
    if (m_linkUp)
        raw->sendOffer();
    return raw->info().id;
}

void TransferManager::accept(const QString &id)
{
    IncomingTransfer *transfer = incoming(TransferProtocol::idFromText(id));
    if (transfer && transfer->isWaitingForDecision())
        acceptIncoming(transfer);
}

void TransferManager::acceptIncoming(IncomingTransfer *transfer)
{
    // The same files offered again under a new id (the sender restarted, or re-sent after a
    // failure): continue from that record's partial data.
    // An unfinished transfer still in memory is only taken over when its sender abandoned it.
    QStringList busy { transfer->storeKey() };
    for (const auto &[id, in] : m_incoming) {
        if (in->isActive() && !in->isAbandoned())
            busy.append(in->storeKey());
    }
    std::optional<TransferRecord> adopt;
    // Only this peer's records: another identity offering the same path, size and mtime must
    // not learn our position in (or the hash of) what someone else sent.
    const QString previous = m_store.findUnfinishedByDigest(transfer->digest(), m_peer, busy);
    if (!previous.isEmpty()) {
        adopt = m_store.load(previous);
        if (adopt && adopt->peer != m_peer)
            adopt.reset();
        for (const auto &[id, in] : m_incoming) {
            if (adopt && in->storeKey() == previous)
                in->supersede();
        }
    }
    // Bounded: transfers in progress (descriptors, memory) and record space in the profile.
    TransferBudget::Usage more;
    more.active = 1;
    if (!adopt) {
        more.recordBytes = TransferStore::estimatedRecordBytes(transfer->files());
        QStringList keep = busy;
        for (const auto &[id, in] : m_incoming) {
            if (in->isActive())
                keep.append(in->storeKey());
        }
        makeRoomForRecord(more.recordBytes, keep);
    }
    Error error;
    if (!m_budget->allows(this, more, &error)) {
        transfer->fail(error, true);
        return;
    }
    transfer->accept(m_downloadDir, adopt);
}

void TransferManager::decline(const QString &id)
{
    if (IncomingTransfer *transfer = incoming(TransferProtocol::idFromText(id)))
        transfer->decline();
}

void TransferManager::cancel(const QString &id)
{
    const QByteArray raw = TransferProtocol::idFromText(id);
    if (OutgoingTransfer *transfer = outgoing(raw))
        transfer->cancel();
    else if (IncomingTransfer *in = incoming(raw))
        in->cancel();
}

void TransferManager::setDownloadDir(const QString &dir)
{
    m_downloadDir = dir;
}

void TransferManager::setAcceptPolicy(AcceptPolicy policy)
{
    m_policy = policy;
}

QList<TransferInfo> TransferManager::transfers() const
{
    QList<TransferInfo> list;
    for (const auto &[id, t] : m_outgoing)
        list.append(t->info());
    for (const auto &[id, t] : m_incoming)
        list.append(t->info());
    return list;
}

void TransferManager::setPeer(const QByteArray &fingerprint)
{
    m_peer = QString::fromLatin1(fingerprint.toHex());
}

void TransferManager::setSendControl(SendControl send)
{
    m_send = std::move(send);
}

void TransferManager::setPeerCapabilities(const QStringList &capabilities)
{
    m_peerFlow = capabilities.contains(QLatin1String(FlowCapability));
}

void TransferManager::onLinkUp()
{
    m_linkUp = true;
    // Both sides count from zero on every link.
    m_flow.reset();
    m_consumed = 0;
    m_consumedSent = 0;
    for (const auto &[id, transfer] : m_outgoing)
        transfer->sendOffer(); // re-offer: the receiver answers with what it already has
}

void TransferManager::onLinkDown()
{
    // What arrived is written and what ended is synced and named (a resume then continues
    // after it).
    for (const auto &[id, transfer] : m_incoming)
        transfer->flushSyncs();
    drainWriter();
    ++m_linkGen;
    m_linkUp = false;
    m_assemblies.clear();
    for (const auto &[id, transfer] : m_outgoing)
        transfer->linkDown();
    for (const auto &[id, transfer] : m_incoming)
        transfer->linkDown();
}

bool TransferManager::isIdle() const
{
    if (!m_assemblies.isEmpty() || !m_writer->isIdle())
        return false;
    // Data still unacknowledged: the peer is going to answer it, so neither side may take the
    // conversation for finished (and close under a late Consumed frame) yet.
    if (m_linkUp && m_peerFlow && m_flow.inFlight() > 0)
        return false;
    for (const auto &[id, transfer] : m_outgoing) {
        if (transfer->isActive())
            return false;
    }
    for (const auto &[id, transfer] : m_incoming) {
        if (transfer->isActive())
            return false;
    }
    return true;
}

std::optional<std::pair<quint16, QByteArray>> TransferManager::nextBulkFrame()
{
    if (!m_linkUp)
        return std::nullopt;
    if (m_peerFlow && !m_flow.canSend())
        return std::nullopt; // the peer's Consumed frames reopen it (bulkAvailable)
    // Round robin: each transfer with data gets one chunk in turn.
    for (qsizetype tried = 0; tried < m_sendOrder.size();) {
        if (m_nextSender >= m_sendOrder.size())
            m_nextSender = 0;
        OutgoingTransfer *transfer = outgoing(m_sendOrder.at(m_nextSender));
        if (!transfer || !transfer->isActive()) {
            m_sendOrder.removeAt(m_nextSender);
            continue;
        }
        ++m_nextSender;
        ++tried;
        if (auto frame = transfer->nextFrame()) {
            if (m_peerFlow && frame->first == TransferProtocol::Data)
                m_flow.onSent(frame->second.size(), m_clock.nsecsElapsed() / 1000);
            return frame;
        }
    }
    return std::nullopt;
}

void TransferManager::handleFrame(quint16 type, const QByteArray &payload)
{
    switch (type) {
    case TransferProtocol::Consumed:
        handleConsumed(payload); // about what we send: independent of the incoming stream
        return;
    case TransferProtocol::Offer:
        handleOfferPart(payload);
        return;
    case TransferProtocol::Data:
        // Checked here, written and hashed on the writer thread: a chat line behind megabytes of
        // data is handled as soon as it has been read. Control frames keep their place: a
        // FileEnd's check and sync are queued behind its file's chunks.
        handleData(payload);
        return;
    default:
        handleControl(type, payload);
        return;
    }
}

void TransferManager::drainWriter()
{
    m_writer->drain();
}

// Reports what was written and not reported yet. Called from the writer's replies: at once when
// ConsumedBatchBytes have built up (a 128 KiB chunk: every time), and whenever the writer has
// no Data left to write, so a frame waits for its acknowledgement at most until the writer has
// caught up or ConsumedBatchBytes more were written.
void TransferManager::flushConsumed()
{
    if (!m_peerFlow || m_consumed == m_consumedSent)
        return;
    m_consumedSent = m_consumed;
    sendControl(
        TransferProtocol::Consumed, TransferProtocol::encodeConsumed(m_consumed, m_consumedWaitUs));
}

void TransferManager::handleConsumed(const QByteArray &payload)
{
    QString why;
    const auto consumed = TransferProtocol::decodeConsumed(payload, &why);
    if (!consumed || !m_peerFlow
        || !m_flow.onConsumed(
            consumed->totalBytes, m_clock.nsecsElapsed() / 1000, consumed->queueUs)) {
        // Only our own sending speed is at stake; note it and carry on.
        qCWarning(lcTransfer) << "ignoring a bad consumed-bytes message"
                              << (consumed ? QString::number(consumed->totalBytes) : why);
        return;
    }
    if (!m_flowLog.isValid() || m_flowLog.elapsed() >= 1000) {
        m_flowLog.start();
        qCDebug(lcTransfer) << "flow window" << m_flow.window() << "in flight" << m_flow.inFlight()
                            << "base delay us" << m_flow.baseDelayUs() << "queue us"
                            << m_flow.queueDelayUs();
    }
    if (m_flow.canSend() && bulkAvailable)
        bulkAvailable();
}

void TransferManager::handleData(const QByteArray &payload)
{
    QString why;
    const auto header = TransferProtocol::decodeDataHeader(payload, &why);
    if (!header) {
        // Data only ever flows to a receiver: a bad chunk fails that incoming transfer.
        if (IncomingTransfer *in = incoming(payload.left(TransferProtocol::IdSize)))
            in->fail({ ErrorCode::ProtocolError,
                         QStringLiteral("The sender sent a malformed %1.").arg(why) },
                true);
        return;
    }
    if (IncomingTransfer *transfer = incoming(header->id))
        transfer->handleData(*header, payload);
    if (m_peerFlow) {
        // Acknowledged once the writer is past it (written, refused or dropped alike): the
        // sender's window counts bytes on their way, so it sees the disk's pace. With it goes
        // how long the chunk took from arrival until written (see FlowWindow).
        const auto arrived = std::chrono::steady_clock::now();
        // Small frames (a folder of small files: one per file) are acknowledged together.
        ++m_consumedPending;
        m_writer->post(
            [this, arrived, bytes = payload.size(), gen = m_linkGen] {
                const auto waitedUs = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - arrived)
                                          .count();
                return [this, bytes, gen, waitedUs] {
                    --m_consumedPending;
                    if (gen != m_linkGen)
                        return; // a later link counts from zero
                    m_consumed += bytes;
                    m_consumedWaitUs = waitedUs;
                    if (m_consumed - m_consumedSent >= ConsumedBatchBytes || m_consumedPending == 0)
                        flushConsumed();
                    if (m_writer->isIdle() && bulkAvailable)
                        bulkAvailable(); // the session re-checks "done"
                };
            },
            DiskWorker::JobOverheadBytes);
    }
    // The memory bound does not rely on the sender keeping to its window.
    if (m_writer->pendingBytes() > MaxQueuedBytes)
        m_writer->waitForBytesBelow(MaxQueuedBytes);
}

void TransferManager::handleControl(quint16 type, const QByteArray &payload)
{
    QString why;
    switch (type) {
    case TransferProtocol::Accept:
        if (const auto part = TransferProtocol::decodeAcceptPart(payload, &why)) {
            if (OutgoingTransfer *transfer = outgoing(part->id))
                transfer->handleAccept(*part);
            return;
        }
        break;
    case TransferProtocol::Decline:
        if (const auto id = TransferProtocol::decodeIdOnly(payload, &why)) {
            if (OutgoingTransfer *transfer = outgoing(*id))
                transfer->handleDecline();
            return;
        }
        break;
    case TransferProtocol::Cancel:
        if (const auto id = TransferProtocol::decodeIdOnly(payload, &why)) {
            m_assemblies.remove(*id);
            if (OutgoingTransfer *transfer = outgoing(*id))
                transfer->handleCancel();
            else if (IncomingTransfer *in = incoming(*id))
                in->handleCancel();
            return;
        }
        break;
    case TransferProtocol::Abort:
        if (const auto abort = TransferProtocol::decodeAbort(payload, &why)) {
            m_assemblies.remove(abort->first);
            if (OutgoingTransfer *transfer = outgoing(abort->first))
                transfer->handleAbort(abort->second);
            else if (IncomingTransfer *in = incoming(abort->first))
                in->handleAbort(abort->second);
            return;
        }
        break;
    case TransferProtocol::FileEnd: {
        QByteArray id;
        if (const auto end = TransferProtocol::decodeFileEnd(payload, &id, &why)) {
            if (IncomingTransfer *transfer = incoming(id))
                transfer->handleFileEnd(end->first, end->second);
            return;
        }
        break;
    }
    case TransferProtocol::Complete: {
        QByteArray id;
        if (const auto hash = TransferProtocol::decodeComplete(payload, &id, &why)) {
            if (OutgoingTransfer *transfer = outgoing(id))
                transfer->handleComplete(*hash);
            return;
        }
        break;
    }
    default:
        qCInfo(lcTransfer) << "ignoring unknown transfer frame type" << Qt::hex << type;
        return;
    }
    // A control frame that does not parse: if it names one of our transfers, that one fails.
    qCWarning(lcTransfer) << "malformed transfer frame" << Qt::hex << type << why;
    const QByteArray id = TransferProtocol::peekId(payload);
    if (!id.isEmpty())
        failTransfer(id,
            { ErrorCode::ProtocolError,
                QStringLiteral("The other side sent a malformed message (%1).").arg(why) });
}

void TransferManager::failTransfer(const QByteArray &id, const Error &error)
{
    if (OutgoingTransfer *transfer = outgoing(id)) {
        if (transfer->isActive())
            sendControl(TransferProtocol::Abort, TransferProtocol::encodeAbort(id, error));
        transfer->handleAbort(error);
    } else if (IncomingTransfer *in = incoming(id))
        in->fail(error, true);
}

void TransferManager::handleOfferPart(const QByteArray &payload)
{
    QString why;
    const auto part = TransferProtocol::decodeOfferPart(payload, &why);
    if (!part) {
        const QByteArray id = TransferProtocol::peekId(payload);
        if (id.isEmpty() || outgoing(id) || incoming(id))
            return;
        if (m_rejected.contains(id))
            sendControl(
                TransferProtocol::Abort, TransferProtocol::encodeAbort(id, m_rejected.value(id)));
        else
            rejectOffer(id,
                { ErrorCode::ProtocolError,
                    QStringLiteral("An offer could not be read (%1).").arg(why) });
        return;
    }
    if (outgoing(part->id)) {
        qCWarning(lcTransfer) << "ignoring an offer that reuses one of our transfer ids";
        return;
    }
    if (m_rejected.contains(part->id)) {
        if (part->first == 0)
            sendControl(TransferProtocol::Abort,
                TransferProtocol::encodeAbort(part->id, m_rejected.value(part->id)));
        return;
    }
    qint64 partNameBytes = 0;
    for (const OfferFile &f : part->files)
        partNameBytes += f.path.toUtf8().size();
    {
        // Checked before the part is kept: memory is bounded per peer and per device.
        const auto assembly = m_assemblies.constFind(part->id);
        const qint64 haveFiles = assembly == m_assemblies.cend() ? 0 : assembly->files.size();
        const qint64 haveBytes = assembly == m_assemblies.cend() ? 0 : assembly->nameBytes;
        const auto before = assemblyUsage(part->id, haveFiles, haveBytes);
        const auto after
            = assemblyUsage(part->id, haveFiles + part->files.size(), haveBytes + partNameBytes);
        TransferBudget::Usage more;
        more.files = after.files - before.files;
        more.nameBytes = after.nameBytes - before.nameBytes;
        Error error;
        if (!m_budget->allows(this, more, &error)) {
            m_assemblies.remove(part->id);
            rejectOffer(part->id, error);
            return;
        }
    }
    auto it = m_assemblies.find(part->id);
    if (part->first == 0) {
        if (it == m_assemblies.end() && m_assemblies.size() >= MaxOffersInFlight) {
            rejectOffer(part->id,
                { ErrorCode::TransferRejected,
                    QStringLiteral("Too many offers arrived at once.") });
            return;
        }
        OfferAssembly fresh;
        fresh.count = part->count;
        fresh.total = part->total;
        it = m_assemblies.insert(part->id, fresh);
    } else if (it == m_assemblies.end() || it->count != part->count || it->total != part->total
        || it->files.size() != part->first) {
        if (it != m_assemblies.end())
            m_assemblies.erase(it);
        rejectOffer(part->id,
            { ErrorCode::ProtocolError,
                QStringLiteral("The parts of an offer arrived out of order.") });
        return;
    }
    Error error;
    if (!addOfferFiles(*it, part->files, &error)) {
        m_assemblies.erase(it);
        rejectOffer(part->id, error);
        return;
    }
    it->nameBytes += partNameBytes;
    if (it->files.size() < it->count)
        return; // more parts follow
    const OfferAssembly offer = *it;
    m_assemblies.erase(it);
    if (offer.sum != offer.total) {
        rejectOffer(part->id,
            { ErrorCode::TransferRejected,
                QStringLiteral("The offer's sizes do not add up to its total.") });
        return;
    }
    offerComplete(part->id, offer);
}

// Every name is validated and normalised before anything else sees it; the offer as a whole
// must describe a tree (no duplicate names, no file that is also a folder).
bool TransferManager::addOfferFiles(
    OfferAssembly &offer, const QList<OfferFile> &files, Error *error) const
{
    for (const OfferFile &raw : files) {
        QString why;
        const QString path = PathSafety::normalizedRelativePath(raw.path, &why);
        if (path.isNull()) {
            *error = { ErrorCode::TransferRejected,
                QStringLiteral("Refused an offer: the name \"%1\" %2.")
                    .arg(PathSafety::displaySafe(raw.path, 100), why) };
            return false;
        }
        if (offer.paths.contains(path)) {
            *error = { ErrorCode::TransferRejected,
                QStringLiteral("Refused an offer: \"%1\" appears twice.").arg(path) };
            return false;
        }
        offer.paths.insert(path);
        offer.sum += raw.size;
        if (offer.sum > offer.total) {
            *error = { ErrorCode::TransferRejected,
                QStringLiteral("Refused an offer: its files are larger than announced.") };
            return false;
        }
        offer.files.append({ path, raw.size, raw.mtimeMs });
    }
    if (offer.files.size() == offer.count) {
        // "a" as a file and "a/b" as a file cannot both exist.
        for (const OfferFile &f : std::as_const(offer.files)) {
            qsizetype slash = f.path.indexOf(QLatin1Char('/'));
            while (slash > 0) {
                if (offer.paths.contains(f.path.left(slash))) {
                    *error = { ErrorCode::TransferRejected,
                        QStringLiteral("Refused an offer: \"%1\" is both a file and a folder.")
                            .arg(f.path.left(slash)) };
                    return false;
                }
                slash = f.path.indexOf(QLatin1Char('/'), slash + 1);
            }
        }
    }
    return true;
}

void TransferManager::rejectOffer(const QByteArray &id, const Error &error)
{
    qCWarning(lcTransfer) << error.message;
    if (m_rejected.size() >= MaxFinishedKept)
        m_rejected.clear(); // a peer spraying bad offers cannot grow this without bound
    m_rejected.insert(id, error);
    sendControl(TransferProtocol::Abort, TransferProtocol::encodeAbort(id, error));
    TransferInfo info;
    info.id = TransferProtocol::idToText(id);
    info.direction = TransferDirection::In;
    info.name = QStringLiteral("refused offer");
    info.state = TransferState::Failed;
    info.error = error;
    publish(info);
}

std::unique_ptr<IncomingTransfer> TransferManager::makeIncoming(
    const QByteArray &id, const QList<OfferFile> &files, qint64 total)
{
    IncomingTransfer::Hooks hooks;
    hooks.sendControl
        = [this](quint16 type, const QByteArray &payload) { sendControl(type, payload); };
    hooks.changed = [this](const TransferInfo &info) { changed(info); };
    hooks.disk = m_writer.get();
    return std::make_unique<IncomingTransfer>(id, files, total, m_peer, &m_store, std::move(hooks));
}

// Finished incoming transfers are kept to answer a repeated offer (Complete, Decline, ...), but
// not forever: a peer offering endlessly under new ids (say to a receiver that declines all)
// must not grow memory. Records on disk still answer for finished ones.
void TransferManager::forgetOldTransfers()
{
    qsizetype finished = 0;
    for (const auto &[id, in] : m_incoming)
        finished += in->isActive() ? 0 : 1;
    for (auto it = m_incoming.begin(); it != m_incoming.end() && finished > MaxFinishedKept;) {
        if (!it->second->isActive()) {
            it = m_incoming.erase(it);
            --finished;
        } else {
            ++it;
        }
    }
}

void TransferManager::offerComplete(const QByteArray &id, const OfferAssembly &offer)
{
    const QString digest = TransferStore::digestOf(offer.files);
    if (IncomingTransfer *known = incoming(id)) {
        if (known->digest() != digest)
            known->fail({ ErrorCode::ProtocolError,
                            QStringLiteral(
                                "The sender offered different files under the same transfer id.") },
                true);
        else {
            // After a reconnect. Files that ended are synced and named (or failed) first, so
            // the answer says exactly what is on disk.
            known->flushSyncs();
            drainWriter();
            known->handleReoffer();
        }
        return;
    }
    const QString hexId = QString::fromLatin1(id.toHex());
    if (m_store.contains(hexId)) {
        // Accepted before this process started.
        const auto record = m_store.load(hexId);
        if (record && record->peer != m_peer) {
            // Another peer's transfer (a shared state folder): neither resumed nor answered.
            rejectOffer(id,
                { ErrorCode::ProtocolError,
                    QStringLiteral("The sender offered files under a transfer id that is in "
                                   "use.") });
            return;
        }
        if (record && record->digest == digest) {
            if (record->done) {
                sendControl(TransferProtocol::Complete,
                    TransferProtocol::encodeComplete(
                        id, QByteArray::fromHex(record->manifest.toLatin1())));
                return;
            }
            Error error;
            if (!m_budget->allows(this, { 0, 0, 1, 0 }, &error)) {
                rejectOffer(id, error); // the record stays: a later offer resumes from it
                return;
            }
            auto transfer = makeIncoming(id, offer.files, offer.total);
            IncomingTransfer *raw = transfer.get();
            m_incoming.emplace(id, std::move(transfer));
            raw->resume(*record);
            return;
        }
        if (record) {
            rejectOffer(id,
                { ErrorCode::ProtocolError,
                    QStringLiteral(
                        "The sender offered different files under a known transfer id.") });
            return;
        }
        m_store.remove(hexId); // unreadable record: a fresh offer
    }
    forgetOldTransfers();
    int pending = 0;
    for (const auto &[key, in] : m_incoming)
        pending += in->isWaitingForDecision() ? 1 : 0;
    if (pending >= MaxPendingOffers) {
        rejectOffer(id,
            { ErrorCode::TransferRejected,
                QStringLiteral("Too many offers are waiting for an answer.") });
        return;
    }
    auto transfer = makeIncoming(id, offer.files, offer.total);
    IncomingTransfer *raw = transfer.get();
    m_incoming.emplace(id, std::move(transfer));
    publish(raw->info());
    switch (m_policy) {
    case AcceptPolicy::All:
        acceptIncoming(raw);
        break;
    case AcceptPolicy::None:
        raw->decline();
        break;
    case AcceptPolicy::Ask:
        break;
    }
}

} // namespace Punchline
