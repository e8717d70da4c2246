#include "knownpeers.h"

#include "common/textfilter.h"
#include "jsonfile.h"

#include <QDir>
#include <QJsonArray>
#include <QJsonObject>

#include <algorithm>

namespace Punchline {

namespace {

constexpr int MaxPeers = 1000;
constexpr int FingerprintBytes = 32;
constexpr int RendezvousBytes = 32;
constexpr int MaxNameBytes = 64;

QString timeText(const QDateTime &t)
{
    return t.isValid() ? t.toUTC().toString(Qt::ISODateWithMs) : QString();
}

QDateTime timeFrom(const QJsonValue &v)
{
    QDateTime t = QDateTime::fromString(v.toString(), Qt::ISODateWithMs);
    return t.isValid() ? t.toUTC() : QDateTime();
}

} // namespace

KnownPeers::KnownPeers(const QString &profileDir)
    : m_path(QDir(profileDir).filePath(QString::fromLatin1(FileName)))
{
}

bool KnownPeers::load(Error *error)
{
    m_peers.clear();
    const auto root = JsonFile::read(m_path, error);
    if (!root)
        return false;
    const QJsonArray list = root->value(QStringLiteral("peers")).toArray();
    for (const auto &v : list) {
        const QJsonObject o = v.toObject();
        KnownPeer peer;
        peer.fingerprint
            = QByteArray::fromHex(o.value(QStringLiteral("fingerprint")).toString().toLatin1());
        if (peer.fingerprint.size() != FingerprintBytes || find(peer.fingerprint))
            continue; // one bad entry does not cost the others
        peer.name = sanitizeDisplayName(o.value(QStringLiteral("name")).toString(), MaxNameBytes);
        const QJsonArray candidates = o.value(QStringLiteral("candidates")).toArray();
        for (const auto &c : candidates) {
            const auto e = Endpoint::parse(c.toString());
            if (e && peer.candidates.size() < MaxCandidates)
                peer.candidates.append(*e);
        }
        peer.firstSeen = timeFrom(o.value(QStringLiteral("firstSeen")));
        peer.lastSeen = timeFrom(o.value(QStringLiteral("lastSeen")));
        peer.pinnedByCode = o.value(QStringLiteral("trust")).toString() == QLatin1String("code");
        const auto secret = [&o](const char *key) {
            const QByteArray b
                = QByteArray::fromHex(o.value(QLatin1String(key)).toString().toLatin1());
            return b.size() == RendezvousBytes ? b : QByteArray();
        };
        peer.ourRendezvous = secret("rendezvousOurs");
        peer.theirRendezvous = secret("rendezvousTheirs");
        m_peers.append(peer);
        if (m_peers.size() >= MaxPeers)
            break;
    }
    std::stable_sort(m_peers.begin(), m_peers.end(),
        [](const KnownPeer &a, const KnownPeer &b) { return a.lastSeen > b.lastSeen; });
    return true;
}

bool KnownPeers::save(Error *error) const
{
    QJsonArray list;
    for (const KnownPeer &peer : m_peers) {
        QJsonArray candidates;
        for (const Endpoint &e : peer.candidates)
            candidates.append(e.toString());
        QJsonObject o {
            { QStringLiteral("fingerprint"), QString::fromLatin1(peer.fingerprint.toHex()) },
            { QStringLiteral("name"), peer.name },
            { QStringLiteral("candidates"), candidates },
            { QStringLiteral("firstSeen"), timeText(peer.firstSeen) },
            { QStringLiteral("lastSeen"), timeText(peer.lastSeen) },
            { QStringLiteral("trust"),
                peer.pinnedByCode ? QStringLiteral("code") : QStringLiteral("first-use") },
        };
        if (!peer.ourRendezvous.isEmpty())
            o.insert(
                QStringLiteral("rendezvousOurs"), QString::fromLatin1(peer.ourRendezvous.toHex()));
        if (!peer.theirRendezvous.isEmpty())
            o.insert(QStringLiteral("rendezvousTheirs"),
                QString::fromLatin1(peer.theirRendezvous.toHex()));
        list.append(o);
    }
    return JsonFile::write(m_path,
        QJsonObject { { QStringLiteral("version"), 1 }, { QStringLiteral("peers"), list } }, error);
}

std::optional<KnownPeer> KnownPeers::find(const QByteArray &fingerprint) const
{
    for (const KnownPeer &peer : m_peers) {
        if (peer.fingerprint == fingerprint)
            return peer;
    }
    return std::nullopt;
}

std::optional<KnownPeer> KnownPeers::findByCandidate(const Endpoint &endpoint) const
{
    for (const KnownPeer &peer : m_peers) { // most recently seen first
        if (peer.candidates.contains(endpoint))
            return peer;
    }
    return std::nullopt;
}

void KnownPeers::remember(const KnownPeer &peer)
{
    if (peer.fingerprint.size() != FingerprintBytes)
        return;
    KnownPeer merged = peer;
    merged.name = sanitizeDisplayName(peer.name, MaxNameBytes);
    if (!merged.lastSeen.isValid())
        merged.lastSeen = QDateTime::currentDateTimeUtc();
    for (qsizetype i = 0; i < m_peers.size(); ++i) {
        const KnownPeer &old = m_peers.at(i);
        if (old.fingerprint != peer.fingerprint)
            continue;
        merged.pinnedByCode = old.pinnedByCode || peer.pinnedByCode;
        if (merged.name.isEmpty())
            merged.name = old.name;
        if (merged.candidates.isEmpty())
            merged.candidates = old.candidates;
        if (old.firstSeen.isValid())
            merged.firstSeen = old.firstSeen;
        if (merged.ourRendezvous.isEmpty())
            merged.ourRendezvous = old.ourRendezvous;
        if (merged.theirRendezvous.isEmpty())
            merged.theirRendezvous = old.theirRendezvous;
        m_peers.removeAt(i);
        break;
    }
    if (!merged.firstSeen.isValid())
        merged.firstSeen = merged.lastSeen;
    QList<Endpoint> unique;
    for (const Endpoint &e : std::as_const(merged.candidates)) {
        if (e.isValid() && !unique.contains(e) && unique.size() < MaxCandidates)
            unique.append(e);
    }
    merged.candidates = unique;
    m_peers.prepend(merged);
    while (m_peers.size() > MaxPeers)
        m_peers.removeLast();
}

bool KnownPeers::setRendezvous(
    const QByteArray &fingerprint, const QByteArray &ours, const QByteArray &theirs)
{
    for (KnownPeer &peer : m_peers) {
        if (peer.fingerprint != fingerprint)
            continue;
        if (ours.size() == RendezvousBytes)
            peer.ourRendezvous = ours;
        if (theirs.size() == RendezvousBytes)
            peer.theirRendezvous = theirs;
        return true;
    }
    return false;
}

bool KnownPeers::forget(const QByteArray &fingerprint)
{
    for (qsizetype i = 0; i < m_peers.size(); ++i) {
        if (m_peers.at(i).fingerprint == fingerprint) {
            m_peers.removeAt(i);
            return true;
        }
    }
    return false;
}

} // namespace Punchline
