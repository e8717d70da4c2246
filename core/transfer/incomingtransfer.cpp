#include "incomingtransfer.h"

#include "common/logging.h"
#include "diskworker.h"
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
    // Jobs still queued skip this transfer's files; they close them when they let go.
    if (m_file)
        m_file->stop = true;
    m_syncStop->store(true);
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
// folder and linked to its final name once verified (on the worker, after its data sync): one
// directory entry made, instead of a partial name made, looked up and renamed (per file of a
// folder of 10,000 that directory work was most of the receiver's time). Nothing can be planted
// under a name it does not have; if the link drops before FileEnd the file starts over, which
// costs one chunk.
bool IncomingTransfer::openPartial(
    int index, bool truncate, const Sha256 &prefix, Error *error, bool whole)
{
    if (!ensureFolder(index, error))
        return false;
    std::shared_ptr<SafeDir> dir = takeFolder(index, error);
    if (!dir)
        return false;
    int fd = -1;
    bool anonymous = false;
    if (whole && truncate) {
        fd = dir->openAnonymous(error);
        if (fd < 0 && error->isError())
            return false;
        anonymous = fd >= 0;
    }
    if (fd < 0)
        fd = dir->openForWrite(partialName(index), truncate, error);
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
    m_file = std::make_shared<DiskFile>(fd, prefix, m_state.at(index).written);
    m_file->what = QStringLiteral("%1 in %2").arg(m_files.at(index).path, m_downloadDir);
    m_file->writeBehind = true;
    m_anonymous = anonymous;
    m_current = index;
    m_currentDir = std::move(dir);
    return true;
}

// The folder file `index` goes into: the one kept from the previous file if it is the same,
// otherwise walked (and made) one level at a time from the download folder.
std::shared_ptr<SafeDir> IncomingTransfer::takeFolder(int index, Error *error)
{
    const QStringList names = dirNames(index);
    if (m_folder && names == m_folderNames)
        return m_folder;
    m_folder.reset();
    m_folderNames.clear();
    SafeDir dir = m_root.openPath(names, true, error);
    if (!dir.isValid())
        return {};
    m_folder = std::make_shared<SafeDir>(std::move(dir));
    m_folderNames = names;
    return m_folder;
}

// Rare (a link-down, a repeated offer, a sender that jumps between files): waits until the
// worker has written what was handed to it, so the hash covers exactly the file's content.
void IncomingTransfer::closeCurrent()
{
    if (m_file) {
        m_hooks.disk->waitIdle();
        FileState &state = m_state[m_current];
        if (m_anonymous) {
            // Gone with its descriptor: it starts over (one chunk).
            m_info.bytes -= state.written;
            state.written = 0;
            m_prefixState.remove(m_current);
        } else {
            if (m_file->error.isError()) {
                // Its failure is on its way as a reply; the file holds what landed.
                m_info.bytes -= state.written - m_file->size;
                state.written = m_file->size;
            }
            m_prefixState.insert(m_current, m_file->hash); // resume without re-reading the file
        }
        m_file->close();
        m_file.reset();
    }
    m_anonymous = false;
    m_current = -1;
    m_currentDir.reset(); // m_folder keeps it for the next file
}

void IncomingTransfer::handleData(const DataHeader &header, const QByteArray &frame)
{
    const qint64 length = frame.size() - TransferProtocol::DataHeaderSize;
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
    if (state.done || state.finishing) {
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
            m_hooks.disk->waitIdle(); // the worker is done with it
            m_file->hash.reset();
            m_file->size = 0;
            m_file->error = {};
            if (::ftruncate(m_file->fd, 0) != 0) {
                fail(SafeDir::errnoError(errno, QStringLiteral("cannot write %1").arg(file.path)),
                    true, index);
                return;
            }
        }
    }
    if (index != m_current) {
        closeCurrent();
        Sha256 prefix;
        if (offset > 0 && offset == state.written && m_prefixState.contains(index)) {
            prefix = m_prefixState.take(index);
        } else if (offset > 0) {
            fail({ ErrorCode::ProtocolError,
                     QStringLiteral("The sender continued %1 at byte %2, but %3 bytes are here.")
                         .arg(file.path)
                         .arg(offset)
                         .arg(state.written) },
                true);
            return;
        }
        if (!openPartial(
                index, offset == 0, prefix, &error, offset == 0 && length == file.size && !named)) {
            fail(error, true, index);
            return;
        }
    } else if (offset != state.written) {
        fail({ ErrorCode::ProtocolError,
                 QStringLiteral("Data for %1 arrived out of order.").arg(file.path) },
            true);
        return;
    }

    // Written and hashed on the worker; a failure comes back as a reply and fails the transfer.
    // A flushSyncs() that is due goes after this chunk (it does not wait for it).
    m_hooks.disk->post(
        [file = m_file, frame, offset, index, alive = std::weak_ptr<int>(m_alive), this] {
            if (file->stop || file->error.isError())
                return DiskWorker::Reply();
            if (file->write(frame.constData() + TransferProtocol::DataHeaderSize,
                    frame.size() - TransferProtocol::DataHeaderSize, offset))
                return DiskWorker::Reply();
            return DiskWorker::Reply(
                [alive, this, index, error = file->error, landed = file->size] {
                    if (alive.expired())
                        return;
                    if (isActive() && index < m_state.size()) {
                        // The failed transfer counts what is on disk (kept for a resume), not the
                        // chunks handed over after it.
                        FileState &state = m_state[index];
                        if (!state.done && state.written > landed) {
                            m_info.bytes -= state.written - landed;
                            state.written = landed;
                        }
                    }
                    fail(error, true, index);
                });
        },
        frame.size() + DiskWorker::JobOverheadBytes);
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
    if (state.done || state.finishing)
        return; // repeated after a reconnect
    const OfferFile &file = m_files.at(index);
    Error error;
    if (index != m_current) {
        closeCurrent();
        if (file.size == 0) {
            if (!openPartial(index, true, Sha256(), &error, true)) {
                fail(error, true, index);
                return;
            }
        } else if (state.written == file.size && m_prefixState.contains(index)) {
            if (!openPartial(index, false, m_prefixState.take(index), &error)) {
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
    // The worker checks the hash once the file's last chunk is written, then syncs and renames.
    // Several files go in one batch (one sync of their folder), so many small files do not pay a
    // journal commit each.
    state.finishing = true;
    // The folder's one handle goes with it: a batch of files of one folder syncs it once.
    m_toSync.append({ index, hash, std::exchange(m_file, {}), std::exchange(m_currentDir, {}),
        partialName(index), baseName(index), std::exchange(m_anonymous, false) });
    m_current = -1;
    bool rest = true; // every other file is done or finishing
    for (const FileState &s : std::as_const(m_state))
        rest = rest && (s.done || s.finishing);
    if (rest || m_syncsInFlight == 0 || m_toSync.size() >= SyncBatchFiles)
        flushSyncs();
}

// On the worker, per batch: each file's hash checked against the sender's, write-back started
// for all, then each file's data synced (fdatasync) before it is renamed into place, then each
// folder synced once: a file reported done survives a power cut (as Syncthing and SQLite do
// it). The results come back in order.
void IncomingTransfer::flushSyncs()
{
    if (m_toSync.isEmpty())
        return;
    ++m_syncsInFlight;
    m_hooks.disk->post([batch = std::exchange(m_toSync, {}), stop = m_syncStop,
                           alive = std::weak_ptr<int>(m_alive), this]() -> DiskWorker::Reply {
        QList<SyncResult> results;
        results.reserve(batch.size());
        for (const PendingSync &p : batch) {
            if (*stop)
                return {};
            SyncResult r;
            r.index = p.index;
            if (p.file->error.isError()) {
                r.error = p.file->error;
            } else {
                r.digest = p.file->hash.result();
                if (r.digest != p.expected) {
                    // Never presented as complete: the corrupt partial goes (an anonymous
                    // one with its descriptor).
                    r.mismatch = true;
                    p.file->close();
                    if (!p.anonymous)
                        p.dir->removeFile(p.partial);
                } else {
                    DiskFile::startWriteBack(p.file->fd);
                }
            }
            results.append(r);
        }
        QList<const SafeDir *> dirs;
        for (qsizetype i = 0; i < batch.size(); ++i) {
            const PendingSync &p = batch.at(i);
            SyncResult &r = results[i];
            if (*stop)
                return {};
            if (r.mismatch || r.error.isError())
                continue;
            if (!p.file->syncData(&r.error))
                continue;
            if (p.anonymous) {
                // Its data is on disk; now it gets a name (never replacing one).
                r.used = p.dir->linkUnique(p.file->fd, p.wanted, &r.error);
                p.file->close();
            } else {
                p.file->close();
                r.used = p.dir->renameUnique(p.partial, p.wanted, &r.error);
            }
            if (!r.used.isNull() && !dirs.contains(p.dir.get()))
                dirs.append(p.dir.get());
        }
        for (qsizetype i = 0; i < batch.size(); ++i)
            results[i].lost = batch.at(i).anonymous && results.at(i).used.isNull();
        for (const SafeDir *dir : std::as_const(dirs)) {
            Error error;
            if (!DiskFile::syncDir(dir->fd(), dir->path(), &error)) {
                for (qsizetype i = 0; i < batch.size(); ++i) {
                    if (batch.at(i).dir.get() == dir && !results.at(i).used.isNull())
                        results[i].error = error; // named, but not known to be on disk
                }
            }
        }
        return [alive, this, results] {
            if (!alive.expired())
                synced(results);
        };
    });
}

void IncomingTransfer::synced(const QList<SyncResult> &results)
{
    --m_syncsInFlight;
    if (!isActive())
        return;
    // Every file that got its name is recorded, even when another of the batch failed (a
    // resume must not ask for it again); then the first failure fails the transfer.
    const SyncResult *failed = nullptr;
    for (const SyncResult &r : results) {
        FileState &state = m_state[r.index];
        state.finishing = false;
        if (r.mismatch) {
            m_info.bytes -= state.written;
            state = FileState();
        }
        if (r.lost && !r.mismatch) {
            // Never named: its content went with its descriptor, a resume asks for it again.
            m_info.bytes -= state.written;
            state.written = 0;
            m_prefixState.remove(r.index);
        }
        if (r.mismatch || r.used.isNull()) {
            failed = failed ? failed : &r;
            continue;
        }
        QStringList names = dirNames(r.index);
        names.append(r.used);
        state.done = true;
        state.sha256 = r.digest;
        state.finalPath = names.join(QLatin1Char('/'));
        ++m_doneCount;
        m_prefixState.remove(r.index);
        Error error;
        if (!m_store->appendDone(storeKey(), { r.index, r.digest, state.finalPath }, &error))
            qCWarning(lcTransfer) << error.message;
        if (r.error.isError()) // in place, but its folder could not be synced
            failed = failed ? failed : &r;
    }
    if (failed && failed->mismatch) {
        const Error mismatch { ErrorCode::FileError,
            QStringLiteral("%1 arrived damaged (SHA-256 mismatch) and was discarded.")
                .arg(m_files.at(failed->index).path) };
        // Built from the offer's name only: the sender may see it as it is.
        m_hooks.sendControl(TransferProtocol::Abort, TransferProtocol::encodeAbort(m_id, mismatch));
        fail(mismatch, false);
    } else if (failed) {
        fail(failed->error, true, failed->index); // a partial file stays for a resume
    } else if (m_doneCount == m_files.size()) {
        complete();
    } else {
        flushSyncs(); // the files that ended meanwhile: the next group
        progress();
    }
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
    m_folder.reset();
    m_folderNames.clear();
    m_store->closeLog(storeKey());
    m_info.rateBytesPerSec = 0;
    m_info.etaMs = -1;
    publish();
}

// The worker skips whatever of ours is still queued and is done with our files when this
// returns (the partial files may be removed or adopted next). Files ended but not yet handed
// over stay partial files: a resume finds them complete and only checks them.
void IncomingTransfer::stopDisk()
{
    const bool busy = m_file || m_syncsInFlight > 0;
    if (m_file)
        m_file->stop = true;
    m_file.reset();
    m_anonymous = false;
    m_syncStop->store(true);
    m_syncStop = std::make_shared<std::atomic<bool>>(false);
    m_toSync.clear();
    if (busy)
        m_hooks.disk->waitIdle();
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
    stopDisk();
    m_current = -1;
    m_currentDir.reset();
    m_folder.reset();
    m_folderNames.clear();
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
