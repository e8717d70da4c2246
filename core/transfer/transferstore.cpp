#include "transferstore.h"

#include "common/logging.h"
#include "common/sha256.h"
#include "pathsafety.h"
#include "safedir.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace Punchline {

namespace {

constexpr int RecordVersion = 1;

bool isHexId(const QString &id)
{
    if (id.size() != TransferProtocol::IdSize * 2)
        return false;
    for (QChar c : id) {
        if (!((c >= QLatin1Char('0') && c <= QLatin1Char('9'))
                || (c >= QLatin1Char('a') && c <= QLatin1Char('f'))))
            return false;
    }
    return true;
}

// The partial-file tag becomes part of a file name: a damaged record must not make it a path.
bool isHexTag(const QString &tag)
{
    if (tag.isEmpty() || tag.size() > 32)
        return false;
    for (QChar c : tag) {
        if (!((c >= QLatin1Char('0') && c <= QLatin1Char('9'))
                || (c >= QLatin1Char('a') && c <= QLatin1Char('f'))))
            return false;
    }
    return true;
}

} // namespace

TransferStore::TransferStore(const QString &dir)
    : m_dir(dir)
{
    if (m_dir.isEmpty())
        return;
    QDir().mkpath(m_dir);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const QStringList names = QDir(m_dir).entryList({ QStringLiteral("*.json") }, QDir::Files);
    for (const QString &name : names) {
        const QString id = name.chopped(5);
        if (!isHexId(id))
            continue;
        const auto record = load(id);
        if (!record) {
            qCWarning(lcTransfer) << "ignoring unreadable transfer record" << name;
            continue;
        }
        const qint64 age = now - record->createdMs;
        if ((record->done && age > KeepDoneMs) || (!record->done && age > KeepUnfinishedMs)) {
            removeExpired(*record);
            continue;
        }
        m_index.insert(id, { record->digest, record->done, record->peer, record->createdMs });
        recount(id);
    }
}

TransferStore::~TransferStore()
{
    for (const int fd : std::as_const(m_logs))
        ::close(fd);
}

QString TransferStore::recordPath(const QString &id) const
{
    return m_dir + QLatin1Char('/') + id + QStringLiteral(".json");
}

QString TransferStore::donePath(const QString &id) const
{
    return m_dir + QLatin1Char('/') + id + QStringLiteral(".done");
}

QString TransferStore::topsPath(const QString &id) const
{
    return m_dir + QLatin1Char('/') + id + QStringLiteral(".tops");
}

qint64 TransferStore::sizeOnDisk(const QString &id) const
{
    qint64 size = 0;
    for (const QString &path : { recordPath(id), donePath(id), topsPath(id) }) {
        const QFileInfo info(path);
        size += info.exists() ? info.size() : 0;
    }
    return size;
}

// Brings the byte count of one record up to date after its files changed.
void TransferStore::recount(const QString &id)
{
    const auto it = m_index.find(id);
    if (it == m_index.end())
        return;
    const qint64 now = sizeOnDisk(id);
    m_bytes += now - it->bytes;
    it->bytes = now;
}

bool TransferStore::save(const TransferRecord &record, Error *error)
{
    if (m_dir.isEmpty())
        return true; // no profile: resume only within this run
    QJsonObject o;
    o.insert(QStringLiteral("version"), RecordVersion);
    o.insert(QStringLiteral("id"), record.id);
    o.insert(QStringLiteral("state"),
        record.done ? QStringLiteral("done") : QStringLiteral("receiving"));
    o.insert(QStringLiteral("digest"), record.digest);
    o.insert(QStringLiteral("partTag"), record.partTag);
    o.insert(QStringLiteral("downloadDir"), record.downloadDir);
    o.insert(QStringLiteral("total"), record.total);
    o.insert(QStringLiteral("manifest"), record.manifest);
    o.insert(QStringLiteral("createdMs"), record.createdMs);
    o.insert(QStringLiteral("peer"), record.peer);
    QJsonArray files;
    for (const OfferFile &f : record.files)
        files.append(QJsonArray { f.path, f.size, f.mtimeMs });
    o.insert(QStringLiteral("files"), files);
    QJsonObject tops;
    for (auto it = record.tops.cbegin(); it != record.tops.cend(); ++it)
        tops.insert(it.key(), it.value());
    o.insert(QStringLiteral("tops"), tops);

    QSaveFile file(recordPath(record.id));
    if (!file.open(QIODevice::WriteOnly)
        || file.write(QJsonDocument(o).toJson(QJsonDocument::Compact)) < 0 || !file.commit()) {
        *error = { file.error() == QFileDevice::ResourceError ? ErrorCode::DiskFull
                                                              : ErrorCode::FileError,
            QStringLiteral("Cannot save the transfer state in %1: %2.")
                .arg(m_dir, file.errorString()) };
        return false;
    }
    const qint64 bytes = m_index.value(record.id).bytes;
    m_index.insert(record.id, { record.digest, record.done, record.peer, record.createdMs, bytes });
    recount(record.id);
    return true;
}

std::optional<TransferRecord> TransferStore::load(const QString &id) const
{
    if (m_dir.isEmpty() || !isHexId(id))
        return std::nullopt;
    QFile file(recordPath(id));
    if (!file.open(QIODevice::ReadOnly))
        return std::nullopt;
    const QJsonObject o = QJsonDocument::fromJson(file.readAll()).object();
    if (o.value(QStringLiteral("version")).toInt() != RecordVersion
        || o.value(QStringLiteral("id")).toString() != id)
        return std::nullopt;
    TransferRecord r;
    r.id = id;
    r.done = o.value(QStringLiteral("state")).toString() == QLatin1String("done");
    r.digest = o.value(QStringLiteral("digest")).toString();
    r.partTag = o.value(QStringLiteral("partTag")).toString();
    r.downloadDir = o.value(QStringLiteral("downloadDir")).toString();
    r.total = o.value(QStringLiteral("total")).toInteger();
    r.manifest = o.value(QStringLiteral("manifest")).toString();
    r.createdMs = o.value(QStringLiteral("createdMs")).toInteger();
    r.peer = o.value(QStringLiteral("peer")).toString(); // absent in older records: nobody's
    const QJsonArray files = o.value(QStringLiteral("files")).toArray();
    for (const QJsonValue &v : files) {
        const QJsonArray a = v.toArray();
        OfferFile f { a.at(0).toString(), a.at(1).toInteger(), a.at(2).toInteger() };
        // The state folder is ours, but re-validate: a damaged record must not become a path.
        if (PathSafety::normalizedRelativePath(f.path) != f.path || f.size < 0)
            return std::nullopt;
        r.files.append(f);
    }
    const QJsonObject tops = o.value(QStringLiteral("tops")).toObject();
    for (auto it = tops.constBegin(); it != tops.constEnd(); ++it) {
        const QString onDisk = it.value().toString();
        if (!PathSafety::isSafeComponent(onDisk))
            return std::nullopt;
        r.tops.insert(it.key(), onDisk);
    }
    QFile topsLog(topsPath(id));
    if (topsLog.open(QIODevice::ReadOnly)) {
        while (!topsLog.atEnd()) {
            const QList<QByteArray> fields = topsLog.readLine().chopped(1).split('\t');
            if (fields.size() != 2)
                continue; // a line cut short by a crash
            const QString top = QString::fromUtf8(fields.at(0));
            const QString onDisk = QString::fromUtf8(fields.at(1));
            if (PathSafety::isSafeComponent(top) && PathSafety::isSafeComponent(onDisk))
                r.tops.insert(top, onDisk);
        }
    }
    if (r.files.isEmpty() || !isHexTag(r.partTag) || r.downloadDir.isEmpty()
        || digestOf(r.files) != r.digest)
        return std::nullopt;
    return r;
}

QString TransferStore::findUnfinishedByDigest(
    const QString &digest, const QString &peer, const QStringList &exclude) const
{
    for (auto it = m_index.cbegin(); it != m_index.cend(); ++it) {
        if (!it->done && it->digest == digest && it->peer == peer && !exclude.contains(it.key()))
            return it.key();
    }
    return {};
}

QList<DoneEntry> TransferStore::doneEntries(const QString &id) const
{
    QList<DoneEntry> entries;
    QFile file(donePath(id));
    if (m_dir.isEmpty() || !file.open(QIODevice::ReadOnly))
        return entries;
    while (!file.atEnd()) {
        const QByteArray line = file.readLine().trimmed();
        const QList<QByteArray> fields = line.split('\t');
        if (fields.size() != 3)
            continue; // a line cut short by a crash
        bool ok = false;
        const int index = fields.at(0).toInt(&ok);
        const QByteArray sha = QByteArray::fromHex(fields.at(1));
        const QString finalPath = QString::fromUtf8(fields.at(2));
        if (!ok || sha.size() != Sha256::Size
            || PathSafety::normalizedRelativePath(finalPath).isNull())
            continue;
        entries.append({ index, sha, finalPath });
    }
    return entries;
}

bool TransferStore::appendDone(const QString &id, const DoneEntry &entry, Error *error)
{
    if (m_dir.isEmpty())
        return true;
    const QByteArray line = QByteArray::number(entry.index) + '\t' + entry.sha256.toHex() + '\t'
        + entry.finalPath.toUtf8() + '\n';
    int fd = m_logs.value(id, -1);
    if (fd < 0) {
        if (!isHexId(id)) {
            *error = { ErrorCode::FileError, QStringLiteral("Bad transfer id %1.").arg(id) };
            return false;
        }
        if (m_logs.size() >= MaxOpenLogs)
            closeLog(m_logs.cbegin().key());
        fd = ::open(QFile::encodeName(donePath(id)).constData(),
            O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0) {
            *error = { ErrorCode::FileError,
                QStringLiteral("Cannot save the transfer state in %1: %2.")
                    .arg(m_dir, QString::fromLocal8Bit(strerror(errno))) };
            return false;
        }
        ++m_logOpens;
        m_logs.insert(id, fd);
    }
    qsizetype done = 0;
    while (done < line.size()) {
        const ssize_t n = ::write(fd, line.constData() + done, size_t(line.size() - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : ENOSPC;
            closeLog(id); // a torn line is skipped when read; the next append starts afresh
            *error = { ErrorCode::FileError,
                QStringLiteral("Cannot save the transfer state in %1: %2.")
                    .arg(m_dir, QString::fromLocal8Bit(strerror(err))) };
            return false;
        }
        done += n;
    }
    const auto it = m_index.find(id);
    if (it != m_index.end()) {
        it->bytes += line.size();
        m_bytes += line.size();
    }
    return true;
}

void TransferStore::closeLog(const QString &id)
{
    const auto it = m_logs.find(id);
    if (it == m_logs.end())
        return;
    ::close(it.value());
    m_logs.erase(it);
}

bool TransferStore::appendTop(
    const QString &id, const QString &top, const QString &used, Error *error)
{
    if (m_dir.isEmpty())
        return true;
    QFile file(topsPath(id));
    const QByteArray line = top.toUtf8() + '\t' + used.toUtf8() + '\n';
    if (!file.open(QIODevice::WriteOnly | QIODevice::Append) || file.write(line) != line.size()) {
        *error = { ErrorCode::FileError,
            QStringLiteral("Cannot save the transfer state in %1: %2.")
                .arg(m_dir, file.errorString()) };
        return false;
    }
    file.close();
    recount(id);
    return true;
}

void TransferStore::remove(const QString &id)
{
    if (m_dir.isEmpty() || !isHexId(id))
        return;
    closeLog(id);
    QFile::remove(recordPath(id));
    QFile::remove(donePath(id));
    QFile::remove(topsPath(id));
    m_bytes -= m_index.value(id).bytes;
    m_index.remove(id);
}

void TransferStore::renameLogs(const QString &from, const QString &to)
{
    if (m_dir.isEmpty())
        return;
    closeLog(from);
    closeLog(to);
    QFile::remove(donePath(to));
    QFile::rename(donePath(from), donePath(to));
    QFile::remove(topsPath(to));
    QFile::rename(topsPath(from), topsPath(to));
    recount(from);
    recount(to);
}

qint64 TransferStore::evictOldest(qint64 bytes, const QString &peer, const QStringList &keep)
{
    qint64 freed = 0;
    for (const bool done : { true, false }) {
        QList<std::pair<qint64, QString>> candidates;
        for (auto it = m_index.cbegin(); it != m_index.cend(); ++it) {
            if (it->done == done && it->peer == peer && !keep.contains(it.key()))
                candidates.append({ it->createdMs, it.key() });
        }
        std::sort(candidates.begin(), candidates.end());
        for (const auto &[created, id] : std::as_const(candidates)) {
            if (freed >= bytes)
                return freed;
            freed += m_index.value(id).bytes;
            if (!done) {
                if (const auto record = load(id))
                    removeExpired(*record); // its partial files go too
            }
            remove(id);
        }
    }
    return freed;
}

qint64 TransferStore::estimatedRecordBytes(const QList<OfferFile> &files)
{
    // The JSON lists every name with its size and time; the done log lists every final name
    // with its hash.
    qint64 bytes = 1024;
    for (const OfferFile &f : files)
        bytes += 2 * f.path.toUtf8().size() + 120;
    return bytes;
}

void TransferStore::removeExpired(const TransferRecord &record)
{
    // An unfinished transfer nobody re-offered for a month: its partial files go too.
    if (!record.done) {
        Error ignored;
        SafeDir root = SafeDir::openRoot(record.downloadDir, &ignored);
        const QList<DoneEntry> done = doneEntries(record.id);
        QSet<int> finished;
        for (const DoneEntry &d : done)
            finished.insert(d.index);
        for (int i = 0; root.isValid() && i < record.files.size(); ++i) {
            if (finished.contains(i))
                continue;
            QStringList names = record.files.at(i).path.split(QLatin1Char('/'));
            const QString base = names.takeLast();
            if (!names.isEmpty() && !record.tops.contains(names.first()))
                continue; // its folder was never made: no partial file of ours
            if (!names.isEmpty())
                names.first() = record.tops.value(names.first());
            SafeDir dir = root.openPath(names, false, &ignored);
            if (dir.isValid())
                dir.removeFile(PathSafety::partialName(base, record.partTag));
        }
    }
    closeLog(record.id);
    QFile::remove(recordPath(record.id));
    QFile::remove(donePath(record.id));
    QFile::remove(topsPath(record.id));
}

QString TransferStore::digestOf(const QList<OfferFile> &files)
{
    Sha256 h;
    for (const OfferFile &f : files) {
        const QByteArray line = f.path.toUtf8() + '\0' + QByteArray::number(f.size) + '\0'
            + QByteArray::number(f.mtimeMs) + '\n';
        h.addData(line);
    }
    return QString::fromLatin1(h.result().toHex());
}

} // namespace Punchline
