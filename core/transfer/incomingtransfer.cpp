#include "incomingtransfer.h"

#include "common/logging.h"
#include "pathsafety.h"
#include "prefixhasher.h"

#include <QDateTime>
#include <QRandomGenerator>
#include <QSet>
#include <QStorageInfo>

#include <algorithm>
#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>

namespace Punchline {

IncomingTransfer::IncomingTransfer(const QByteArray &id, const QList<OfferFile> &files,
    qint64 total, const QString &peer, TransferStore *store, Hooks hooks)
    : m_id(id)
    , m_files(files)
    , m_digest(TransferStore::digestOf(files))
    , m_peer(peer)
    , m_store(store)
    , m_hooks(std::move(hooks))
    , m_state(files.size())
{
    m_info.id = TransferProtocol::idToText(id);
    m_info.direction = TransferDirection::In;
    m_info.name = TransferProtocol::offerName(files);
    for (const OfferFile &f : files) {
        m_info.files.append({ f.path, f.size });
        m_nameBytes += f.path.toUtf8().size();
    }
    m_info.total = total;
    m_info.state = TransferState::Offered;
}

IncomingTransfer::~IncomingTransfer()
{
    stopHasher();
    if (m_fd >= 0)
        ::close(m_fd);
}

bool IncomingTransfer::isAccepted() const
{
    return isActive() && m_phase != Phase::Offered;
}

bool IncomingTransfer::isActive() const
{
    return m_info.state == TransferState::Offered || m_info.state == TransferState::Accepted
        || m_info.state == TransferState::Progress;
}

void IncomingTransfer::publish()
{
    if (m_hooks.changed)
        m_hooks.changed(m_info);
}

bool IncomingTransfer::hasFolder(int index) const
{
    const QString &path = m_files.at(index).path;
    return !path.contains(QLatin1Char('/'))
        || m_tops.contains(path.section(QLatin1Char('/'), 0, 0));
}

QStringList IncomingTransfer::dirNames(int index) const
{
    QStringList names = m_files.at(index).path.split(QLatin1Char('/'));
    names.removeLast();
    if (!names.isEmpty())
        names.first() = m_tops.value(names.first(), names.first());
    return names;
}

QString IncomingTransfer::baseName(int index) const
{
    return m_files.at(index).path.section(QLatin1Char('/'), -1);
}

QString IncomingTransfer::partialName(int index) const
{
    return PathSafety::partialName(baseName(index), m_partTag);
}

bool IncomingTransfer::openRoot(const QString &downloadDir)
{
    Error error;
    m_root = SafeDir::openRoot(downloadDir, &error);
    if (!m_root.isValid()) {
        finish(TransferState::Failed, error, Cleanup::KeepPartials);
        m_hooks.sendControl(TransferProtocol::Abort,
            TransferProtocol::encodeAbort(m_id,
                { ErrorCode::FileError,
                    QStringLiteral("The receiver cannot write to its download folder.") }));
        return false;
    }
    return true;
}

// A folder in the offer lands under a name that is free when its first file starts ("photos
// (1)" if "photos" exists); the choice is made once and remembered for resume. Not at accept:
// an offer of 3,000 folders must not make 3,000 empty folders before any data arrives.
bool IncomingTransfer::ensureFolder(int index, Error *error)
{
    if (hasFolder(index))
        return true;
    const QString top = m_files.at(index).path.section(QLatin1Char('/'), 0, 0);
    const QString used = m_root.createUniqueDir(top, error);
    if (used.isNull())
        return false;
    m_tops.insert(top, used);
    if (!m_store->appendTop(storeKey(), top, used, error)) {
        m_root.removeEmptyDir(used);
        m_tops.remove(top);
        return false;
    }
    return true;
}

void IncomingTransfer::accept(
    const QString &downloadDir, const std::optional<TransferRecord> &adopt)
{
    if (m_phase != Phase::Offered)
        return;
    m_createdMs = QDateTime::currentMSecsSinceEpoch();
    if (adopt) {
        m_downloadDir = adopt->downloadDir; // the partial files are there
        m_partTag = adopt->partTag;
        m_tops = adopt->tops;
    } else {
        m_downloadDir = downloadDir;
        // Random, not derived from the id the sender chose: nobody can plant a link or file
        // at a partial name in advance. The record keeps it for resume.
        m_partTag
            = QString::fromLatin1(QByteArray::number(QRandomGenerator::system()->generate64(), 16)
                                      .rightJustified(16, '0'));
    }
    if (!openRoot(m_downloadDir))
        return;
    if (adopt) {
        loadDoneFiles(adopt->id);
        prepare(); // finds the partial files
    }
    if (!checkFreeSpace())
        return;
    TransferRecord record { storeKey(), false, m_digest, m_partTag, m_downloadDir, m_files,
        m_info.total, m_tops, QString(), m_createdMs, m_peer };
    Error error;
    if (!m_store->save(record, &error)) {
        fail(error, true);
        return;
    }
    if (adopt && adopt->id != storeKey()) {
        m_store->renameLogs(adopt->id, storeKey());
        m_store->remove(adopt->id);
    }
    m_sinceAccept.start();
    m_info.state = TransferState::Accepted;
    publish();
    m_phase = Phase::Preparing;
    hashNextPartial();
}

void IncomingTransfer::resume(const TransferRecord &record)
{
    if (m_phase != Phase::Offered)
        return;
    m_downloadDir = record.downloadDir;
    m_partTag = record.partTag;
    m_tops = record.tops;
    m_createdMs = record.createdMs;
    if (!openRoot(m_downloadDir))
        return;
    loadDoneFiles(record.id);
    prepare();
    if (!checkFreeSpace())
        return;
    m_sinceAccept.start();
    m_info.state = TransferState::Accepted;
    publish();
    m_phase = Phase::Preparing;
    hashNextPartial();
}

// Files of the record already verified and renamed into place.
void IncomingTransfer::loadDoneFiles(const QString &recordId)
{
    const QList<DoneEntry> done = m_store->doneEntries(recordId);
    for (const DoneEntry &d : done) {
        if (d.index < 0 || d.index >= m_state.size() || m_state.at(d.index).done)
            continue;
        m_state[d.index] = { m_files.at(d.index).size, true, d.sha256, d.finalPath };
        ++m_doneCount;
    }
}

// Finds the partial files of unfinished files; their content is hashed before answering.
void IncomingTransfer::prepare()
{
    m_toHash.clear();
    for (int i = 0; i < m_files.size(); ++i) {
        if (m_state.at(i).done)
            continue;
        m_state[i].written = 0;
        if (!hasFolder(i))
            continue; // not started yet
        Error error;
        SafeDir dir = m_root.openPath(dirNames(i), false, &error);
        if (!dir.isValid())
            continue;
        const qint64 size = dir.fileSize(partialName(i));
        if (size > m_files.at(i).size) {
            dir.removeFile(partialName(i)); // cannot be ours: start that file over
        } else if (size > 0) {
            m_state[i].written = size;
            m_toHash.append(i);
        }
    }
}

bool IncomingTransfer::checkFreeSpace()
{
    qint64 have = 0;
    for (const FileState &s : std::as_const(m_state))
        have += s.written;
    const qint64 needed = m_info.total - have;
    QStorageInfo storage(m_downloadDir);
    storage.refresh();
    const qint64 available = storage.bytesAvailable();
    if (storage.isValid() && available >= 0 && available < needed) {
        const Error error { ErrorCode::DiskFull,
            QStringLiteral("Not enough free space in %1: the transfer needs %2 bytes, "
                           "%3 are free.")
                .arg(m_downloadDir)
                .arg(needed)
                .arg(available) };
        m_hooks.sendControl(TransferProtocol::Abort,
            TransferProtocol::encodeAbort(m_id,
                { ErrorCode::DiskFull,
                    QStringLiteral("The receiver does not have enough free space.") }));
        finish(TransferState::Failed, error, Cleanup::KeepPartials);
        return false;
    }
    return true;
}

void IncomingTransfer::hashNextPartial()
{
    while (!m_toHash.isEmpty()) {
        const int i = m_toHash.takeFirst();
        Error error;
        SafeDir dir = m_root.openPath(dirNames(i), false, &error);
        const int fd = dir.isValid() ? dir.openForRead(partialName(i), &error) : -1;
        if (fd < 0) {
            m_state[i].written = 0;
            continue;
        }
        m_hasher = new PrefixHasher(fd, m_state.at(i).written);
        m_hasher->start([this, i](const Sha256 &state, const Error &hashError) {
            m_hasher->deleteLater();
            m_hasher = nullptr;
            if (hashError.isError())
                m_state[i].written = 0; // unreadable partial: that file starts over
            else
                m_prefixState.insert(i, state);
            hashNextPartial();
        });
        return;
    }
    m_phase = Phase::Receiving;
    answer();
}

// Tells the sender what we have: verified files (complete) and the prefix of each partial file.
void IncomingTransfer::answer()
{
    QList<ResumeEntry> entries;
    qint64 have = 0;
    for (int i = 0; i < m_files.size(); ++i) {
        FileState &s = m_state[i];
        if (s.done) {
            entries.append({ i, s.written, s.sha256, true });
        } else if (s.written > 0 && m_prefixState.contains(i)) {
            entries.append({ i, s.written, m_prefixState.value(i).result(), false });
        } else {
            s.written = 0;
            m_prefixState.remove(i);
        }
        have += s.written;
    }
    m_info.bytes = have;
    if (have > 0)
        m_info.resumedFrom = have;
    m_meter.start(have);
    const QList<QByteArray> parts = TransferProtocol::encodeAccept(m_id, entries);
    for (const QByteArray &part : parts)
        m_hooks.sendControl(TransferProtocol::Accept, part);
    if (m_doneCount == m_files.size()) {
        complete(); // a crash after the last rename: nothing is missing
        return;
    }
    publish();
}

// A file that arrives whole (a small file: one chunk) is written to an anonymous file in its
// folder and linked to its final name once verified: one directory entry made, instead of a
// partial name made, looked up and renamed (per file of a folder of 10,000 that directory work
// was most of the receiver's time). Nothing can be planted under a name it does not have; if
// the link drops before FileEnd the file starts over, which costs one chunk.
bool IncomingTransfer::openPartial(int index, bool truncate, Error *error, bool whole)
{
    if (!ensureFolder(index, error))
        return false;
    SafeDir dir = takeFolder(index, error);
    if (!dir.isValid())
        return false;
    int fd = -1;
    m_anonymous = false;
    if (whole && truncate) {
        fd = dir.openAnonymous(error);
        if (fd < 0 && error->isError())
            return false;
        m_anonymous = fd >= 0;
    }
    if (fd < 0)
        fd = dir.openForWrite(partialName(index), truncate, error);
    if (fd < 0)
        return false;
    if (!truncate) {
        struct stat st = {};
        const qint64 expected = m_state.at(index).written;
        if (::fstat(fd, &st) != 0 || st.st_size < expected || ::ftruncate(fd, expected) != 0) {
            ::close(fd);
            *error = { ErrorCode::FileError,
                QStringLiteral("The partial file of %1 changed on disk.")
                    .arg(m_files.at(index).path) };
            return false;
        }
    }
    m_fd = fd;
    m_current = index;
    m_currentDir = std::move(dir);
    return true;
}

// The folder file `index` goes into: the one kept from the previous file if it is the same,
// otherwise walked (and made) one level at a time from the download folder.
SafeDir IncomingTransfer::takeFolder(int index, Error *error)
{
    QStringList names = dirNames(index);
    if (m_keptDir.isValid() && names == m_keptDirNames) {
        m_keptDirNames.clear();
        return std::move(m_keptDir);
    }
    m_keptDir = SafeDir();
    m_keptDirNames.clear();
    return m_root.openPath(names, true, error);
}

// The current file is done with its folder: keep that open for the next file.
void IncomingTransfer::keepFolder()
{
    if (m_currentDir.isValid() && m_current >= 0 && m_current < m_files.size()) {
        m_keptDirNames = dirNames(m_current);
        m_keptDir = std::move(m_currentDir);
    }
    m_currentDir = SafeDir();
}

void IncomingTransfer::closeCurrent()
{
    if (m_fd >= 0) {
        ::close(m_fd);
        if (m_anonymous && !m_state.at(m_current).done)
            m_state[m_current].written = 0; // gone with its descriptor: it starts over
        else if (!m_state.at(m_current).done)
            m_prefixState.insert(m_current, m_hash); // resume without re-reading the file
        m_anonymous = false;
    }
    keepFolder();
    m_fd = -1;
    m_current = -1;
}

void IncomingTransfer::handleData(const DataHeader &header, const char *data, qint64 length)
{
    if (m_phase != Phase::Receiving || !isActive())
        return; // chunks still in flight after a cancel/failure
    if (header.index >= quint32(m_files.size())) {
        fail({ ErrorCode::ProtocolError,
                 QStringLiteral("The sender sent data for a file that is not in the offer.") },
            true);
        return;
    }
    const int index = int(header.index);
    const OfferFile &file = m_files.at(index);
    if (header.offset > quint64(file.size)
        || quint64(length) > quint64(file.size) - header.offset) {
        // Checked before writing: an offer cannot make us store more than it announced.
        finish(TransferState::Failed,
            { ErrorCode::TransferRejected,
                QStringLiteral("The sender sent more data than it announced for %1 (%2 bytes); "
                               "the transfer was stopped.")
                    .arg(file.path)
                    .arg(file.size) },
            Cleanup::DeletePartials);
        m_hooks.sendControl(
            TransferProtocol::Abort, TransferProtocol::encodeAbort(m_id, m_info.error));
        return;
    }
    const qint64 offset = qint64(header.offset);
    FileState &state = m_state[index];
    if (state.done) {
        // A finished file is finished: starting it over would store another copy of it
        // ("name (1)", "name (2)"...) beyond what the user accepted.
        fail({ ErrorCode::ProtocolError,
                 QStringLiteral("The sender sent data for %1, which is already complete.")
                     .arg(file.path) },
            true);
        return;
    }
    Error error;
    const bool named = state.written > 0; // a partial file of it is on disk (resume)
    if (offset == 0 && state.written > 0) {
        // The sender starts this file over (its copy differs from our partial data).
        m_info.bytes -= state.written;
        state = FileState();
        m_prefixState.remove(index);
        if (index == m_current) {
            m_hash.reset();
            if (::ftruncate(m_fd, 0) != 0) {
                fail(SafeDir::errnoError(errno, QStringLiteral("cannot write %1").arg(file.path)),
                    true, index);
                return;
            }
        }
    }
    if (index != m_current) {
        closeCurrent();
        if (offset == 0) {
            m_hash.reset();
        } else if (offset == state.written && m_prefixState.contains(index)) {
            m_hash = m_prefixState.take(index);
        } else {
            fail({ ErrorCode::ProtocolError,
                     QStringLiteral("The sender continued %1 at byte %2, but %3 bytes are here.")
                         .arg(file.path)
                         .arg(offset)
                         .arg(state.written) },
                true);
            return;
        }
        if (!openPartial(
                index, offset == 0, &error, offset == 0 && length == file.size && !named)) {
            fail(error, true, index);
            return;
        }
    } else if (offset != state.written) {
        fail({ ErrorCode::ProtocolError,
                 QStringLiteral("Data for %1 arrived out of order.").arg(file.path) },
            true);
        return;
    }

    qint64 written = 0;
    while (written < length) {
        const ssize_t n
            = ::pwrite(m_fd, data + written, size_t(length - written), off_t(offset + written));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : ENOSPC;
            m_hash.addData(data, written); // what did land stays usable for a resume
            state.written += written;
            m_info.bytes += written;
            fail(SafeDir::errnoError(
                     err, QStringLiteral("cannot write %1 in %2").arg(file.path, m_downloadDir)),
                true, index);
            return;
        }
        written += n;
    }
    m_hash.addData(data, length);
    state.written += length;
    m_info.bytes += length;
    if (m_info.state == TransferState::Accepted) {
        m_info.state = TransferState::Progress;
        m_meter.tick(m_info.bytes);
        publish();
    }
    progress();
}

void IncomingTransfer::progress()
{
    if (m_meter.tick(m_info.bytes)) {
        m_info.rateBytesPerSec = m_meter.rateBytesPerSec();
        m_info.etaMs = m_meter.etaMs(m_info.total - m_info.bytes);
        publish();
    }
}

void IncomingTransfer::handleFileEnd(int index, const QByteArray &hash)
{
    if (m_phase != Phase::Receiving || !isActive())
        return;
    if (index >= m_files.size()) {
        fail({ ErrorCode::ProtocolError,
                 QStringLiteral("The sender finished a file that is not in the offer.") },
            true);
        return;
    }
    FileState &state = m_state[index];
    if (state.done)
        return; // repeated after a reconnect
    const OfferFile &file = m_files.at(index);
    Error error;
    if (index != m_current) {
        closeCurrent();
        if (file.size == 0) {
            m_hash.reset();
            if (!openPartial(index, true, &error, true)) {
                fail(error, true, index);
                return;
            }
        } else if (state.written == file.size && m_prefixState.contains(index)) {
            m_hash = m_prefixState.take(index);
            if (!openPartial(index, false, &error)) {
                fail(error, true, index);
                return;
            }
        }
    }
    if (index != m_current || state.written != file.size) {
        fail({ ErrorCode::ProtocolError,
                 QStringLiteral("The sender ended %1 after %2 of %3 bytes.")
                     .arg(file.path)
                     .arg(state.written)
                     .arg(file.size) },
            true);
        return;
    }
    const QByteArray digest = m_hash.result();
    if (digest != hash) {
        // Never presented as complete: the corrupt partial goes, nothing gets the final name.
        ::close(m_fd);
        m_fd = -1;
        m_currentDir.removeFile(partialName(index));
        m_current = -1;
        m_currentDir = SafeDir();
        m_info.bytes -= state.written;
        state = FileState();
        const Error mismatch { ErrorCode::FileError,
            QStringLiteral("%1 arrived damaged (SHA-256 mismatch) and was "
                           "discarded.")
                .arg(file.path) };
        // Built from the offer's name only: the sender may see it as it is.
        m_hooks.sendControl(TransferProtocol::Abort, TransferProtocol::encodeAbort(m_id, mismatch));
        fail(mismatch, false);
        return;
    }
    finalizeFile(index, digest);
}

// The verified file gets its final name (never replacing anything); m_fd is closed.
QString IncomingTransfer::placeFile(int index, Error *error)
{
    if (m_anonymous) {
        const QString used = m_currentDir.linkUnique(m_fd, baseName(index), error);
        ::close(m_fd);
        m_fd = -1;
        m_anonymous = false;
        if (used.isNull())
            m_state[index].written = 0; // its content went with the descriptor
        return used;
    }
    ::close(m_fd);
    m_fd = -1;
    return m_currentDir.renameUnique(partialName(index), baseName(index), error);
}

void IncomingTransfer::finalizeFile(int index, const QByteArray &digest)
{
    Error error;
    const QString used = placeFile(index, &error);
    if (used.isNull()) {
        m_prefixState.insert(index, m_hash);
        m_current = -1;
        m_currentDir = SafeDir();
        fail(error, true, index);
        return;
    }
    QStringList names = dirNames(index);
    names.append(used);
    FileState &state = m_state[index];
    state.done = true;
    state.sha256 = digest;
    state.finalPath = names.join(QLatin1Char('/'));
    ++m_doneCount;
    m_prefixState.remove(index);
    keepFolder();
    m_current = -1;
    if (!m_store->appendDone(storeKey(), { index, digest, state.finalPath }, &error))
        qCWarning(lcTransfer) << error.message;
    if (m_doneCount == m_files.size())
        complete();
    else
        progress();
}

void IncomingTransfer::complete()
{
    QList<QByteArray> hashes;
    hashes.reserve(m_state.size());
    for (const FileState &s : std::as_const(m_state))
        hashes.append(s.sha256);
    const QByteArray manifest = TransferProtocol::manifestHash(m_files, hashes);
    TransferRecord record { storeKey(), true, m_digest, m_partTag, m_downloadDir, m_files,
        m_info.total, m_tops, QString::fromLatin1(manifest.toHex()), m_createdMs, m_peer };
    Error error;
    if (!m_store->save(record, &error)) // only needed to answer a repeated offer
        qCWarning(lcTransfer) << error.message;
    m_hooks.sendControl(
        TransferProtocol::Complete, TransferProtocol::encodeComplete(m_id, manifest));

    QSet<QString> tops;
    for (const OfferFile &f : std::as_const(m_files))
        tops.insert(f.path.section(QLatin1Char('/'), 0, 0));
    if (tops.size() == 1) {
        const QString &first = m_files.first().path;
        m_info.path = m_root.path() + QLatin1Char('/')
            + (first.contains(QLatin1Char('/'))
                    ? m_tops.value(first.section(QLatin1Char('/'), 0, 0))
                    : m_state.first().finalPath);
    } else {
        m_info.path = m_root.path();
    }
    m_info.sha256 = QString::fromLatin1(manifest.toHex());
    m_info.bytes = m_info.total;
    m_info.elapsedMs = m_sinceAccept.isValid() ? m_sinceAccept.elapsed() : 0;
    m_info.rateBytesPerSec = m_meter.averageRate(m_info.bytes);
    m_info.etaMs = 0;
    finish(TransferState::Done, {}, Cleanup::KeepPartials);
}

void IncomingTransfer::supersede()
{
    if (!isActive())
        return;
    finish(TransferState::Failed,
        { ErrorCode::Canceled,
            QStringLiteral("The sender offered the same files again; continuing there.") },
        Cleanup::KeepPartials);
}

void IncomingTransfer::handleReoffer()
{
    m_offeredSinceLinkUp = true;
    switch (m_phase) {
    case Phase::Offered:
    case Phase::Preparing:
        return; // the answer follows the user's decision / the prefix check
    case Phase::Receiving:
        closeCurrent();
        answer();
        return;
    case Phase::Finished:
        break;
    }
    switch (m_info.state) {
    case TransferState::Done:
        m_hooks.sendControl(TransferProtocol::Complete,
            TransferProtocol::encodeComplete(m_id, QByteArray::fromHex(m_info.sha256.toLatin1())));
        break;
    case TransferState::Declined:
        m_hooks.sendControl(TransferProtocol::Decline, TransferProtocol::encodeIdOnly(m_id));
        break;
    case TransferState::Canceled:
        m_hooks.sendControl(TransferProtocol::Cancel, TransferProtocol::encodeIdOnly(m_id));
        break;
    default:
        m_hooks.sendControl(
            TransferProtocol::Abort, TransferProtocol::encodeAbort(m_id, m_info.error));
        break;
    }
}

void IncomingTransfer::decline()
{
    if (m_phase != Phase::Offered)
        return;
    m_hooks.sendControl(TransferProtocol::Decline, TransferProtocol::encodeIdOnly(m_id));
    finish(TransferState::Declined, {}, Cleanup::KeepPartials);
}

void IncomingTransfer::cancel()
{
    if (!isActive())
        return;
    m_hooks.sendControl(TransferProtocol::Cancel, TransferProtocol::encodeIdOnly(m_id));
    finish(TransferState::Canceled,
        { ErrorCode::Canceled, QStringLiteral("You canceled the transfer.") },
        m_phase == Phase::Offered ? Cleanup::KeepPartials : Cleanup::DeletePartials);
}

void IncomingTransfer::handleCancel()
{
    if (!isActive())
        return;
    finish(TransferState::Canceled,
        { ErrorCode::Canceled, QStringLiteral("The sender canceled the transfer.") },
        m_phase == Phase::Offered ? Cleanup::KeepPartials : Cleanup::DeletePartials);
}

void IncomingTransfer::handleAbort(const Error &error)
{
    if (!isActive())
        return;
    finish(TransferState::Failed,
        { error.code,
            QStringLiteral("The sender stopped the transfer: %1")
                .arg(PathSafety::displaySafe(error.message)) },
        Cleanup::KeepPartials);
}

// Local errors name our folders (the download folder, the profile); the sender only needs to
// know which of its files failed and why in general. Protocol and rejection messages are built
// from the offer and numbers alone, so they go as they are.
Error IncomingTransfer::peerError(const Error &error, int fileIndex) const
{
    const QString name
        = fileIndex >= 0 && fileIndex < m_files.size() ? m_files.at(fileIndex).path : QString();
    switch (error.code) {
    case ErrorCode::DiskFull:
        return { error.code,
            name.isEmpty()
                ? QStringLiteral("The receiver's disk is full.")
                : QStringLiteral("The receiver's disk is full (writing %1).").arg(name) };
    case ErrorCode::ProtocolError:
    case ErrorCode::TransferRejected:
    case ErrorCode::Canceled:
        return error;
    default:
        return { error.code,
            name.isEmpty() ? QStringLiteral("The receiver could not store the transfer.")
                           : QStringLiteral("The receiver could not write %1.").arg(name) };
    }
}

void IncomingTransfer::fail(const Error &error, bool notifyPeer, int fileIndex)
{
    if (!isActive())
        return;
    qCWarning(lcTransfer) << "incoming transfer" << m_info.id << "failed:" << error.message;
    if (notifyPeer)
        m_hooks.sendControl(TransferProtocol::Abort,
            TransferProtocol::encodeAbort(m_id, peerError(error, fileIndex)));
    finish(TransferState::Failed, error, Cleanup::KeepPartials);
}

void IncomingTransfer::linkDown()
{
    m_offeredSinceLinkUp = false;
    if (m_phase != Phase::Receiving || !isActive())
        return;
    closeCurrent();
    // Walked again after the link is back: the folders may change while nobody is sending.
    m_keptDir = SafeDir();
    m_keptDirNames.clear();
    m_store->closeLog(storeKey());
    m_info.rateBytesPerSec = 0;
    m_info.etaMs = -1;
    publish();
}

void IncomingTransfer::stopHasher()
{
    if (m_hasher) {
        m_hasher->cancel();
        m_hasher->deleteLater();
        m_hasher = nullptr;
    }
}

// Canceled or poisoned: partial files (and the folders this transfer made, if empty) go, and
// so does the record. Verified files stay where they are.
void IncomingTransfer::removePartials()
{
    if (!m_root.isValid())
        return;
    QSet<QString> dirs;
    for (int i = 0; i < m_files.size(); ++i) {
        if (!hasFolder(i))
            continue; // never started: nothing of ours there
        const QStringList names = dirNames(i);
        for (qsizetype depth = 1; depth <= names.size(); ++depth)
            dirs.insert(names.mid(0, depth).join(QLatin1Char('/')));
        if (m_state.at(i).done)
            continue;
        Error ignored;
        SafeDir dir = m_root.openPath(names, false, &ignored);
        if (dir.isValid())
            dir.removeFile(partialName(i));
    }
    QStringList ordered(dirs.cbegin(), dirs.cend());
    std::sort(ordered.begin(), ordered.end(), [](const QString &a, const QString &b) {
        return a.count(QLatin1Char('/')) > b.count(QLatin1Char('/'));
    });
    for (const QString &rel : std::as_const(ordered)) {
        QStringList names = rel.split(QLatin1Char('/'));
        const QString last = names.takeLast();
        Error ignored;
        SafeDir parent = m_root.openPath(names, false, &ignored);
        if (parent.isValid())
            parent.removeEmptyDir(last);
    }
    m_store->remove(storeKey());
}

void IncomingTransfer::finish(TransferState state, const Error &error, Cleanup cleanup)
{
    stopHasher();
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
    m_current = -1;
    m_currentDir = SafeDir();
    m_keptDir = SafeDir();
    m_keptDirNames.clear();
    m_store->closeLog(storeKey());
    if (cleanup == Cleanup::DeletePartials)
        removePartials();
    m_root = SafeDir(); // no descriptor outlives the transfer
    m_phase = Phase::Finished;
    m_info.state = state;
    m_info.error = error;
    if (state != TransferState::Done) {
        m_info.rateBytesPerSec = 0;
        m_info.etaMs = -1;
    }
    publish();
    // Kept only to answer a repeated offer (state, hash, digest): the file lists go, so that
    // finished transfers cost next to nothing however large they were.
    m_files = {};
    m_state = {};
    m_prefixState = {};
    m_toHash = {};
    m_tops = {};
    m_info.files = {};
}

} // namespace Punchline
