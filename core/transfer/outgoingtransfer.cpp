#include "outgoingtransfer.h"

#include "common/logging.h"
#include "diskworker.h"
#include "pathsafety.h"
#include "prefixhasher.h"
#include "safedir.h"

#include <QFile>

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace Punchline {

OutgoingTransfer::OutgoingTransfer(
    const QByteArray &id, const QList<Source> &sources, const QString &sentPath, Hooks hooks)
    : m_id(id)
    , m_sources(sources)
    , m_hooks(std::move(hooks))
{
    QList<OfferFile> files;
    for (const Source &s : m_sources) {
        files.append(s.file);
        m_info.files.append({ s.file.path, s.file.size });
        m_info.total += s.file.size;
    }
    m_info.id = TransferProtocol::idToText(id);
    m_info.direction = TransferDirection::Out;
    m_info.name = TransferProtocol::offerName(files);
    m_info.state = TransferState::Offered;
    m_info.path = sentPath;
    m_hashes.resize(m_sources.size());
}

qint64 OutgoingTransfer::mtimeMs(const struct stat &st)
{
#if defined(__APPLE__)
    return qint64(st.st_mtimespec.tv_sec) * 1000 + st.st_mtimespec.tv_nsec / 1000000;
#else
    return qint64(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
#endif
}

OutgoingTransfer::~OutgoingTransfer()
{
    stopHasher();
    resetReads();
}

bool OutgoingTransfer::isActive() const
{
    return m_info.state == TransferState::Offered || m_info.state == TransferState::Accepted
        || m_info.state == TransferState::Progress;
}

void OutgoingTransfer::publish()
{
    if (m_hooks.changed)
        m_hooks.changed(m_info);
}

void OutgoingTransfer::sendOffer()
{
    if (!isActive())
        return;
    stopHasher();
    resetReads();
    m_phase = Phase::WaitingAccept;
    m_acceptEntries.clear();
    m_acceptCount = -1;
    m_pendingComplete.clear();
    QList<OfferFile> files;
    files.reserve(m_sources.size());
    for (const Source &s : m_sources)
        files.append(s.file);
    const QList<QByteArray> parts = TransferProtocol::encodeOffer(m_id, files, m_info.total);
    for (const QByteArray &part : parts)
        m_hooks.sendControl(TransferProtocol::Offer, part);
}

void OutgoingTransfer::handleAccept(const AcceptPart &part)
{
    if (m_phase != Phase::WaitingAccept || !isActive())
        return; // a late or duplicate answer
    if (part.first == 0) {
        m_acceptEntries.clear();
        m_acceptCount = part.count;
    } else if (part.count != m_acceptCount || part.first != m_acceptEntries.size()) {
        fail({ ErrorCode::ProtocolError,
                 QStringLiteral("The receiver's answer arrived out of order.") },
            true);
        return;
    }
    m_acceptEntries += part.entries;
    if (m_acceptEntries.size() == m_acceptCount)
        acceptComplete();
}

void OutgoingTransfer::acceptComplete()
{
    const int n = int(m_sources.size());
    m_startOffset = QList<qint64>(n, 0);
    m_skip = QList<bool>(n, false);
    m_prefixState.clear();
    QSet<int> seen;
    for (const ResumeEntry &e : std::as_const(m_acceptEntries)) {
        const bool valid = e.index < n && !seen.contains(e.index)
            && e.offset <= m_sources.at(e.index).file.size
            && (!e.complete || e.offset == m_sources.at(e.index).file.size);
        if (!valid) {
            fail({ ErrorCode::ProtocolError,
                     QStringLiteral("The receiver answered with an impossible resume position.") },
                true);
            return;
        }
        seen.insert(e.index);
    }
    if (!m_sinceAccept.isValid())
        m_sinceAccept.start();
    if (m_info.state == TransferState::Offered) {
        m_info.state = TransferState::Accepted;
        publish();
    }
    m_phase = Phase::Verifying;
    m_verifyPos = 0;
    verifyNext();
}

// Checks, one entry at a time, that what the receiver has is a prefix of our file: its SHA-256
// of the first `offset` bytes must equal ours. A mismatch (the file was a different version)
// restarts that file from zero instead of failing. A file the receiver finished is never sent
// again (it refuses that: a finished file is finished), so a mismatch there fails the transfer.
void OutgoingTransfer::verifyNext()
{
    while (m_verifyPos < m_acceptEntries.size()) {
        const ResumeEntry e = m_acceptEntries.at(m_verifyPos);
        const QString name = m_sources.at(e.index).file.path;
        if (e.complete && !m_hashes.at(e.index).isEmpty()) {
            if (m_hashes.at(e.index) != e.prefixHash) {
                failFinishedDiffers(e.index);
                return;
            }
            m_skip[e.index] = true;
            ++m_verifyPos;
            continue;
        }
        if (e.offset == 0) {
            if (e.complete && e.prefixHash == Sha256::hash({})) {
                m_skip[e.index] = true;
                m_hashes[e.index] = e.prefixHash;
            }
            ++m_verifyPos;
            continue;
        }
        Error error;
        const int fd = openSource(e.index, &error);
        if (fd < 0) {
            fail(error, true, e.index);
            return;
        }
        m_hasher = new PrefixHasher(fd, e.offset);
        m_hasher->start([this, e, name](const Sha256 &state, const Error &hashError) {
            m_hasher->deleteLater();
            m_hasher = nullptr;
            if (hashError.isError()) {
                fail(hashError, true, e.index);
                return;
            }
            if (state.result() == e.prefixHash) {
                if (e.complete) {
                    m_skip[e.index] = true;
                    m_hashes[e.index] = e.prefixHash;
                } else {
                    m_startOffset[e.index] = e.offset;
                    m_prefixState.insert(e.index, state);
                }
            } else if (e.complete) {
                failFinishedDiffers(e.index);
                return;
            } else {
                qCInfo(lcTransfer) << "receiver's partial" << name << "is not a prefix of ours;"
                                   << "sending it from the start";
            }
            ++m_verifyPos;
            verifyNext();
        });
        return; // continues in the callback
    }
    beginSending();
}

void OutgoingTransfer::beginSending()
{
    qint64 resumed = 0;
    for (int i = 0; i < m_sources.size(); ++i)
        resumed += m_skip.at(i) ? m_sources.at(i).file.size : m_startOffset.at(i);
    m_info.bytes = resumed;
    if (resumed > 0)
        m_info.resumedFrom = resumed;
    m_info.state = TransferState::Progress;
    m_meter.start(resumed);
    m_phase = Phase::Sending;
    resetReads();
    publish();
    if (m_hooks.bulkReady)
        m_hooks.bulkReady();
}

int OutgoingTransfer::openSource(int index, Error *error) const
{
    const Source &source = m_sources.at(index);
    const QByteArray path = QFile::encodeName(source.absolutePath);
    const int fd = ::open(path.constData(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *error = errno == ELOOP ? Error { ErrorCode::FileError,
            QStringLiteral("%1 became a symbolic link; it is not sent.").arg(source.absolutePath) }
                                : SafeDir::errnoError(errno,
                                    QStringLiteral("cannot read %1").arg(source.absolutePath));
        return -1;
    }
    struct stat st = {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != source.file.size
        || mtimeMs(st) != source.file.mtimeMs) {
        ::close(fd);
        *error = { ErrorCode::FileError,
            QStringLiteral("%1 changed after it was offered; send it again.")
                .arg(source.absolutePath) };
        return -1;
    }
    SafeDir::clearNonBlocking(fd);
#ifdef POSIX_FADV_SEQUENTIAL // not on macOS
    // Read-ahead matters for files of several chunks; a small file is one read (and one
    // system call less per file of a folder of 10,000).
    if (st.st_size > TransferProtocol::SendChunkSize)
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    return fd;
}

std::optional<std::pair<quint16, QByteArray>> OutgoingTransfer::nextFrame()
{
    if (m_phase != Phase::Sending)
        return std::nullopt;
    requestMore();
    if (m_phase != Phase::Sending)
        return std::nullopt; // a file could not be opened
    if (m_ready.empty()) {
        if (m_allRequested && m_readsInFlight == 0) {
            m_phase = Phase::AwaitingComplete;
            if (!m_pendingComplete.isEmpty())
                handleComplete(std::exchange(m_pendingComplete, {}));
        }
        return std::nullopt; // the worker's next reply calls bulkReady
    }
    std::pair<quint16, QByteArray> frame = std::move(m_ready.front());
    m_ready.pop_front();
    if (frame.first == TransferProtocol::Data) {
        m_info.bytes += frame.second.size() - TransferProtocol::DataHeaderSize;
        if (m_meter.tick(m_info.bytes)) {
            m_info.rateBytesPerSec = m_meter.rateBytesPerSec();
            m_info.etaMs = m_meter.etaMs(m_info.total - m_info.bytes);
            publish();
        }
    }
    requestMore();
    return frame;
}

// A read job builds the whole Data frame (header and bytes) so the network thread hands it to
// the link as it is. A link that could take a file range itself (kernel TLS with sendfile)
// would get (file, offset, length) here instead, and the worker would only hash.
void OutgoingTransfer::requestMore()
{
    while (m_phase == Phase::Sending && !m_allRequested
        && m_readsInFlight + qsizetype(m_ready.size()) < ReadAhead) {
        if (!m_source) {
            int next = m_reqFile + 1;
            while (next < m_sources.size() && m_skip.at(next))
                ++next;
            if (next >= m_sources.size()) {
                m_allRequested = true;
                return;
            }
            Error error;
            const int fd = openSource(next, &error);
            if (fd < 0) {
                fail(error, true, next);
                return;
            }
            m_reqFile = next;
            m_reqPos = m_startOffset.at(next);
            m_source = std::make_shared<DiskFile>(
                fd, m_prefixState.contains(next) ? m_prefixState.take(next) : Sha256(), m_reqPos);
            m_source->what = m_sources.at(next).absolutePath;
        }
        const int index = m_reqFile;
        const Source &source = m_sources.at(index);
        const auto alive = std::weak_ptr<int>(m_alive);
        const quint64 gen = m_readGen;
        const auto failed = [alive, this, gen, index](const Error &error) {
            return [alive, this, gen, index, error] {
                if (!alive.expired() && gen == m_readGen)
                    fail(error, true, index);
            };
        };
        ++m_readsInFlight;
        if (m_reqPos < source.file.size) {
            const qint64 want
                = qMin<qint64>(TransferProtocol::SendChunkSize, source.file.size - m_reqPos);
            m_hooks.disk->post(
                [file = m_source, id = m_id, index, pos = m_reqPos, want, alive, this, gen,
                    failed]() -> DiskWorker::Reply {
                    if (file->stop)
                        return {};
                    QByteArray frame(TransferProtocol::DataHeaderSize + want, Qt::Uninitialized);
                    TransferProtocol::writeDataHeader(
                        frame.data(), id, quint32(index), quint64(pos));
                    if (!file->read(frame.data() + TransferProtocol::DataHeaderSize, want, pos))
                        return failed(file->error);
                    return [alive, this, gen, frame] {
                        if (alive.expired() || gen != m_readGen)
                            return;
                        --m_readsInFlight;
                        m_ready.emplace_back(quint16(TransferProtocol::Data), frame);
                        if (m_hooks.bulkReady)
                            m_hooks.bulkReady();
                    };
                },
                want);
            m_reqPos += want;
            continue;
        }
        // The last byte was read: the file must still be what was offered, or what went out may
        // mix two versions and the receiver must not keep it as complete.
        m_hooks.disk->post([file = std::exchange(m_source, {}), offered = source, alive, this, gen,
                               failed, index]() -> DiskWorker::Reply {
            if (file->stop)
                return {};
            struct stat st = {};
            if (::fstat(file->fd, &st) != 0 || st.st_size != offered.file.size
                || mtimeMs(st) != offered.file.mtimeMs)
                return failed({ ErrorCode::FileError,
                    QStringLiteral("%1 changed while it was sent; send it again.")
                        .arg(offered.absolutePath) });
            const QByteArray digest = file->hash.result();
            file->close();
            return [alive, this, gen, index, digest] {
                if (alive.expired() || gen != m_readGen)
                    return;
                --m_readsInFlight;
                m_hashes[index] = digest;
                m_ready.emplace_back(quint16(TransferProtocol::FileEnd),
                    TransferProtocol::encodeFileEnd(m_id, index, digest));
                if (m_hooks.bulkReady)
                    m_hooks.bulkReady();
            };
        });
    }
}

void OutgoingTransfer::resetReads()
{
    ++m_readGen;
    if (m_source)
        m_source->stop = true;
    m_source.reset();
    m_reqFile = -1;
    m_reqPos = 0;
    m_allRequested = false;
    m_readsInFlight = 0;
    m_ready.clear();
}

void OutgoingTransfer::handleComplete(const QByteArray &hash)
{
    if (!isActive())
        return;
    if (m_phase == Phase::Verifying || m_phase == Phase::Sending) {
        // The receiver had everything already; finish once we have confirmed that ourselves.
        m_pendingComplete = hash;
        return;
    }
    // Also accepted while waiting for an answer: after a reconnect the receiver may already
    // have finished (our last frames arrived, its Complete did not).
    QList<OfferFile> files;
    for (const Source &s : m_sources)
        files.append(s.file);
    const QByteArray ours = TransferProtocol::manifestHash(files, m_hashes);
    if (ours.isEmpty() || ours != hash) {
        const Error mismatch { ErrorCode::FileError,
            QStringLiteral("The receiver's checksum does not match what was sent.") };
        m_hooks.sendControl(TransferProtocol::Abort, TransferProtocol::encodeAbort(m_id, mismatch));
        fail(mismatch, false);
        return;
    }
    m_info.sha256 = QString::fromLatin1(ours.toHex());
    m_info.bytes = m_info.total;
    m_info.elapsedMs = m_sinceAccept.isValid() ? m_sinceAccept.elapsed() : 0;
    m_info.rateBytesPerSec = m_meter.averageRate(m_info.bytes);
    m_info.etaMs = 0;
    finish(TransferState::Done);
}

void OutgoingTransfer::handleDecline()
{
    if (m_info.state != TransferState::Offered)
        return;
    finish(TransferState::Declined,
        { ErrorCode::TransferRejected, QStringLiteral("The other side declined the transfer.") });
}

void OutgoingTransfer::handleCancel()
{
    if (!isActive())
        return;
    finish(TransferState::Canceled,
        { ErrorCode::Canceled, QStringLiteral("The other side canceled the transfer.") });
}

void OutgoingTransfer::handleAbort(const Error &error)
{
    if (!isActive())
        return;
    finish(TransferState::Failed,
        { error.code,
            QStringLiteral("The receiver stopped the transfer: %1")
                .arg(PathSafety::displaySafe(error.message)) });
}

void OutgoingTransfer::cancel()
{
    if (!isActive())
        return;
    m_hooks.sendControl(TransferProtocol::Cancel, TransferProtocol::encodeIdOnly(m_id));
    finish(TransferState::Canceled,
        { ErrorCode::Canceled, QStringLiteral("You canceled the transfer.") });
}

void OutgoingTransfer::linkDown()
{
    if (!isActive())
        return;
    stopHasher();
    resetReads();
    m_phase = Phase::WaitingAccept; // sendOffer() on the next link up
    m_info.rateBytesPerSec = 0;
    m_info.etaMs = -1;
    publish();
}

void OutgoingTransfer::failFinishedDiffers(int index)
{
    const Error error { ErrorCode::FileError,
        QStringLiteral("The receiver already has a different %1; send it again as a new "
                       "transfer.")
            .arg(m_sources.at(index).file.path) };
    m_hooks.sendControl(TransferProtocol::Abort, TransferProtocol::encodeAbort(m_id, error));
    fail(error, false);
}

// Our errors name our own folders; the receiver only learns which file of the offer failed.
Error OutgoingTransfer::peerError(const Error &error, int fileIndex) const
{
    switch (error.code) {
    case ErrorCode::ProtocolError:
    case ErrorCode::TransferRejected:
    case ErrorCode::Canceled:
        return error; // built from the offer and numbers only
    default:
        break;
    }
    if (fileIndex < 0 || fileIndex >= m_sources.size())
        return { error.code, QStringLiteral("The sender could not send the transfer.") };
    return { error.code,
        QStringLiteral("The sender could not read %1, or it changed while it was sent.")
            .arg(m_sources.at(fileIndex).file.path) };
}

void OutgoingTransfer::fail(const Error &error, bool notifyPeer, int fileIndex)
{
    if (!isActive())
        return;
    qCWarning(lcTransfer) << "outgoing transfer" << m_info.id << "failed:" << error.message;
    if (notifyPeer)
        m_hooks.sendControl(TransferProtocol::Abort,
            TransferProtocol::encodeAbort(m_id, peerError(error, fileIndex)));
    finish(TransferState::Failed, error);
}

void OutgoingTransfer::finish(TransferState state, const Error &error)
{
    stopHasher();
    resetReads();
    m_phase = Phase::Finished;
    m_prefixState.clear();
    m_info.state = state;
    m_info.error = error;
    if (state != TransferState::Done) {
        m_info.rateBytesPerSec = 0;
        m_info.etaMs = -1;
    }
    publish();
}

void OutgoingTransfer::stopHasher()
{
    if (m_hasher) {
        m_hasher->cancel();
        m_hasher->deleteLater();
        m_hasher = nullptr;
    }
}

} // namespace Punchline
