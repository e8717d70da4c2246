#include "friendfinder.h"

#include "common/logging.h"
#include "identity/jsonfile.h"
#include "rendezvous/record.h"

#include <QCryptographicHash>
#include <QDir>
#include <QJsonArray>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QTimer>
#include <QtEndian>

#include <limits>

namespace Punchline {

namespace R = Rendezvous;

namespace {

constexpr quint8 TypePresence = 1;
constexpr quint8 TypeRequest = 2;
constexpr quint8 TypeReply = 3;
constexpr quint8 FlagOnline = 1;
constexpr quint8 FlagGoingOffline = 2;
constexpr int MaxReplyGroups = 16;
constexpr int MaxRequestSeqs = 1024;
constexpr const char *StateFile = "friend-finder.json";

qint64 nowSeconds()
{
    return QDateTime::currentSecsSinceEpoch();
}

QByteArray group(char kind, const QByteArray &fp)
{
    return QByteArray(1, kind) + fp;
}

} // namespace

FriendFinder::FriendFinder(
    const QByteArray &ourFingerprint, const QString &profileDir, QObject *parent)
    : QObject(parent)
    , m_ourFp(ourFingerprint)
    , m_profileDir(profileDir)
{
    m_epochTimer = new QTimer(this);
    m_epochTimer->setInterval(EpochCheckMs);
    connect(m_epochTimer, &QTimer::timeout, this, &FriendFinder::onEpochTick);
    m_republishTimer = new QTimer(this);
    m_republishTimer->setInterval(RepublishMs);
    connect(m_republishTimer, &QTimer::timeout, this, &FriendFinder::republish);
    m_pendingTimer = new QTimer(this);
    m_pendingTimer->setSingleShot(true);
    connect(m_pendingTimer, &QTimer::timeout, this, &FriendFinder::expirePending);
    m_saveTimer = new QTimer(this);
    m_saveTimer->setSingleShot(true);
    m_saveTimer->setInterval(SaveDelayMs);
    connect(m_saveTimer, &QTimer::timeout, this, &FriendFinder::saveState);
    loadState();
}

FriendFinder::~FriendFinder()
{
    if (m_dht)
        m_dht->stop();
    if (m_saveTimer->isActive())
        saveState(); // what a coalesced write still held
}

void FriendFinder::setSigningIdentity(
    const QByteArray &certificateDer, const QByteArray &privateKeyPem)
{
    m_signer = R::ReplySigner::fromIdentity(certificateDer, privateKeyPem);
    if (!m_signer.isValid())
        qCWarning(lcEngine) << "friend finder: our identity cannot sign replies";
}

void FriendFinder::start(const DhtClient::Options &options)
{
    if (!m_dht) {
        m_dht = new DhtClient(this);
        connect(m_dht, &DhtClient::valuesReceived, this, &FriendFinder::onValues);
        connect(m_dht, &DhtClient::onlineChanged, this, [this](bool online, const QString &s) {
            m_status = s;
            Q_EMIT onlineChanged(online, s);
        });
    }
    m_dht->start(options);
    m_epochs = R::epochsAround(nowSeconds());
    m_epochTimer->start();
    m_republishTimer->start();
    refreshKeys();
    publishAll();
}

void FriendFinder::stop()
{
    if (!m_dht || !m_dht->isRunning())
        return;
    m_epochTimer->stop();
    m_republishTimer->stop();
    publishAll(true); // best effort: friends see "offline" at once instead of at expiry
    m_dht->stop();
    saveState();
}

void FriendFinder::setSelf(const QString &name, const PeerTargets &targets)
{
    if (name == m_name && targets == m_targets)
        return;
    m_name = name;
    m_targets = targets;
    publishAll();
}

QByteArray FriendFinder::pairSecret(const QByteArray &fpA, const QByteArray &contributionA,
    const QByteArray &fpB, const QByteArray &contributionB)
{
    if (contributionA.size() != 32 || contributionB.size() != 32 || fpA == fpB)
        return {};
    // Ordered by fingerprint so both sides compute the same secret.
    const bool aFirst = fpA < fpB;
    QCryptographicHash h(QCryptographicHash::Sha256);
    h.addData(QByteArrayView("punchline/pair/v1"));
    h.addData(aFirst ? contributionA : contributionB);
    h.addData(aFirst ? contributionB : contributionA);
    return h.result();
}

void FriendFinder::setFriend(const QByteArray &fingerprint, const QByteArray &pairSecret)
{
    if (pairSecret.size() != 32 || fingerprint == m_ourFp)
        return;
    auto it = m_friends.find(fingerprint);
    if (it == m_friends.end()) {
        if (m_friends.size() >= MaxFriends)
            return;
        it = m_friends.insert(fingerprint, FriendEntry {});
    } else if (it->secret == pairSecret) {
        return;
    }
    it->secret = pairSecret;
    refreshKeys();
    publishTo(fingerprint, *it, false);
}

void FriendFinder::removeFriend(const QByteArray &fingerprint)
{
    if (m_friends.remove(fingerprint)) {
        cancelPuts(group('f', fingerprint));
        refreshKeys();
    }
}

FriendFinder::Invitation FriendFinder::currentInvitation(qint64 lifetimeSeconds, bool singleUse)
{
    const qint64 now = nowSeconds();
    for (const Invitation &i : std::as_const(m_invitations)) {
        if (i.isLive(now) && !(i.singleUse && !i.usedBy.isEmpty()))
            return i;
    }
    return renewInvitation(lifetimeSeconds, singleUse);
}

FriendFinder::Invitation FriendFinder::renewInvitation(qint64 lifetimeSeconds, bool singleUse)
{
    const qint64 now = nowSeconds();
    for (Invitation &i : m_invitations)
        i.revoked = true;
    // Revoked ones are kept (and answered "revoked") until they would have expired.
    m_invitations.erase(std::remove_if(m_invitations.begin(), m_invitations.end(),
                            [now](const Invitation &i) { return now >= i.expires; }),
        m_invitations.end());
    const R::Invitation made
        = R::Invitation::create(now, qMax<qint64>(60, lifetimeSeconds), singleUse);
    Invitation i;
    i.secret = made.secret16;
    i.created = made.createdUnix;
    i.expires = made.expiresUnix;
    i.singleUse = made.singleUse;
    m_invitations.prepend(i);
    while (m_invitations.size() > MaxInvitations)
        m_invitations.removeLast();
    saveState();
    refreshKeys();
    return i;
}

void FriendFinder::request(const QByteArray &inviterFingerprint, const QByteArray &inviteSecret)
{
    if (inviterFingerprint.size() != 32 || inviteSecret.size() != 16)
        return;
    OutgoingRequest r;
    r.secret = inviteSecret;
    r.id = QByteArray(R::Record::RequestIdBytes, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(
        reinterpret_cast<quint32 *>(r.id.data()), R::Record::RequestIdBytes / 4);
    m_requests.insert(inviterFingerprint, r);
    refreshKeys();
    putRequest(inviterFingerprint, r);
}

void FriendFinder::cancelRequest(const QByteArray &inviterFingerprint)
{
    if (m_requests.remove(inviterFingerprint)) {
        cancelPuts(group('q', inviterFingerprint));
        refreshKeys();
    }
}

void FriendFinder::answer(const QByteArray &requesterFingerprint, bool accept)
{
    const auto it = m_pending.find(requesterFingerprint);
    if (it == m_pending.end())
        return;
    const Pending pending = it.value();
    m_pending.erase(it);
    for (Invitation &i : m_invitations) {
        if (i.secret == pending.secret && accept && i.singleUse && i.usedBy.isEmpty()) {
            i.usedBy = requesterFingerprint;
            saveState();
        }
    }
    putReply(requesterFingerprint,
        Reply { pending.secret, pending.requestId,
            accept ? ReplyStatus::Accepted : ReplyStatus::Declined });
}

const FriendFinder::Invitation *FriendFinder::invitation(const QByteArray &secret) const
{
    for (const Invitation &i : m_invitations) {
        if (i.secret == secret)
            return &i;
    }
    return nullptr;
}

quint64 FriendFinder::nextSeq()
{
    m_lastSeq = qMax<quint64>(quint64(QDateTime::currentMSecsSinceEpoch()), m_lastSeq + 1);
    return m_lastSeq;
}

void FriendFinder::put(const QByteArray &groupName, const QByteArray &key, const QByteArray &value)
{
    if (!m_dht || !m_dht->isRunning() || value.isEmpty())
        return;
    // Every record gets a new random value id: the nodes that store a key refuse a different
    // value under an id they hold (OpenDHT's edit policy for unsigned values), so reusing one
    // would leave our old record there until it expires. We stop refreshing the previous one
    // (it expires within 10 minutes) and readers keep only the newest sequence number.
    QList<std::pair<QByteArray, quint64>> &puts = m_puts[groupName];
    for (qsizetype i = puts.size() - 1; i >= 0; --i) {
        if (puts.at(i).first == key) {
            m_dht->cancelPut(key, puts.at(i).second);
            puts.removeAt(i);
        }
    }
    const quint64 id = QRandomGenerator::system()->generate64() | 1;
    m_dht->put(key, value, id);
    puts.append({ key, id });
}

void FriendFinder::cancelPuts(const QByteArray &groupName)
{
    const auto puts = m_puts.take(groupName);
    if (!m_dht)
        return;
    for (const auto &[k, id] : puts)
        m_dht->cancelPut(k, id);
}

void FriendFinder::listenKey(const QByteArray &key, const Listened &l)
{
    if (!m_dht || !m_dht->isRunning())
        return;
    if (m_dht->listen(key))
        m_listened.insert(key, l);
}

void FriendFinder::refreshKeys()
{
    if (!m_dht || !m_dht->isRunning())
        return;
    QHash<QByteArray, Listened> wanted;
    for (auto it = m_friends.cbegin(); it != m_friends.cend(); ++it) {
        if (it->secret.size() != 32)
            continue; // known from the saved state only; its secret comes with setFriend()
        const auto channel = R::Channel::friendDirection(it->secret, it.key(), m_ourFp);
        for (const qint64 e : std::as_const(m_epochs))
            wanted.insert(channel.dhtKey(e), Listened { Listened::Friend, it.key(), {}, e });
    }
    const qint64 now = nowSeconds();
    for (const Invitation &i : std::as_const(m_invitations)) {
        if (now >= i.expires)
            continue; // an expired code is refused by the pasting side itself
        const auto channel = R::Channel::inviteRequests(i.secret, m_ourFp);
        for (const qint64 e : std::as_const(m_epochs))
            wanted.insert(channel.dhtKey(e), Listened { Listened::Invite, {}, i.secret, e });
    }
    for (auto it = m_requests.cbegin(); it != m_requests.cend(); ++it) {
        const auto channel = R::Channel::inviteReplies(it->secret, it.key(), m_ourFp);
        for (const qint64 e : std::as_const(m_epochs))
            wanted.insert(channel.dhtKey(e), Listened { Listened::Reply, it.key(), it->secret, e });
    }
    const QList<QByteArray> current = m_listened.keys();
    for (const QByteArray &k : current) {
        if (!wanted.contains(k)) {
            m_dht->cancelListen(k);
            m_listened.remove(k);
        }
    }
    for (auto it = wanted.cbegin(); it != wanted.cend(); ++it) {
        if (!m_listened.contains(it.key()))
            listenKey(it.key(), it.value());
    }
}

void FriendFinder::onEpochTick()
{
    const QList<qint64> epochs = R::epochsAround(nowSeconds());
    if (epochs == m_epochs)
        return;
    m_epochs = epochs;
    // New keys for a new day: yesterday's records are left to expire.
    for (auto it = m_puts.begin(); it != m_puts.end(); ++it) {
        for (const auto &[k, id] : std::as_const(it.value()))
            m_dht->cancelPut(k, id);
        it->clear();
    }
    refreshKeys();
    republish();
}

void FriendFinder::republish()
{
    // Every record says when it expires (RecordLifetimeMs): seal all we keep published again,
    // with a new seq and expiry, well before that.
    publishAll();
    const auto replies = m_replies;
    for (auto it = replies.cbegin(); it != replies.cend(); ++it)
        putReply(it.key(), it.value());
}

void FriendFinder::publishAll(bool goingOffline)
{
    for (auto it = m_friends.cbegin(); it != m_friends.cend(); ++it)
        publishTo(it.key(), it.value(), goingOffline);
    if (goingOffline)
        return;
    for (auto it = m_requests.cbegin(); it != m_requests.cend(); ++it)
        putRequest(it.key(), it.value());
}

void FriendFinder::publishTo(
    const QByteArray &fingerprint, const FriendEntry &entry, bool goingOffline)
{
    if (!m_dht || !m_dht->isRunning() || m_targets.isEmpty() || entry.secret.size() != 32)
        return;
    R::Record r;
    r.type = TypePresence;
    r.seq = nextSeq();
    r.expiresMs = r.seq + RecordLifetimeMs;
    r.flags = goingOffline ? FlagGoingOffline : FlagOnline;
    r.name = m_name;
    if (!goingOffline) {
        r.direct = m_targets.direct;
        r.mapped = m_targets.mapped;
        r.relays = m_targets.relays;
    }
    const auto channel = R::Channel::friendDirection(entry.secret, m_ourFp, fingerprint);
    for (const qint64 e : std::as_const(m_epochs))
        put(group('f', fingerprint), channel.dhtKey(e), R::seal(channel, e, r));
}

void FriendFinder::putRequest(const QByteArray &inviterFp, const OutgoingRequest &request)
{
    if (!m_dht || !m_dht->isRunning())
        return;
    R::Record r;
    r.type = TypeRequest;
    r.seq = nextSeq();
    r.expiresMs = r.seq + RecordLifetimeMs;
    r.requestId = request.id;
    r.flags = FlagOnline;
    r.name = m_name;
    r.fingerprint = m_ourFp;
    r.direct = m_targets.direct;
    r.mapped = m_targets.mapped;
    r.relays = m_targets.relays;
    const auto channel = R::Channel::inviteRequests(request.secret, inviterFp);
    for (const qint64 e : std::as_const(m_epochs))
        put(group('q', inviterFp), channel.dhtKey(e), R::seal(channel, e, r));
}

void FriendFinder::putReply(const QByteArray &requesterFp, const Reply &reply)
{
    if (!m_dht || !m_dht->isRunning())
        return;
    if (!m_signer.isValid()) {
        // Requesters drop unsigned replies: putting one would only cost traffic.
        drop(QStringLiteral("no identity to sign our reply with"));
        return;
    }
    // Bounded: the oldest replies stop being refreshed (they have been read by then).
    if (!m_replies.contains(requesterFp) && m_replies.size() >= MaxReplyGroups) {
        auto oldestIt = m_replies.cbegin();
        for (auto it = m_replies.cbegin(); it != m_replies.cend(); ++it) {
            if (it->madeMs < oldestIt->madeMs)
                oldestIt = it;
        }
        const QByteArray oldest = oldestIt.key();
        m_replies.remove(oldest);
        cancelPuts(group('r', oldest));
    }
    Reply kept = reply;
    if (!kept.madeMs)
        kept.madeMs = QDateTime::currentMSecsSinceEpoch();
    m_replies.insert(requesterFp, kept);
    R::Record r;
    r.type = TypeReply;
    r.seq = nextSeq();
    r.expiresMs = r.seq + RecordLifetimeMs;
    r.status = quint8(reply.status);
    r.name = m_name;
    if (reply.status == ReplyStatus::Accepted) {
        r.direct = m_targets.direct;
        r.mapped = m_targets.mapped;
        r.relays = m_targets.relays;
    }
    const R::ReplyBinding binding { m_ourFp, requesterFp, reply.requestId };
    const auto channel = R::Channel::inviteReplies(reply.secret, m_ourFp, requesterFp);
    for (const qint64 e : std::as_const(m_epochs))
        put(group('r', requesterFp), channel.dhtKey(e),
            R::sealReply(channel, e, r, m_signer, binding));
}

void FriendFinder::drop(const QString &why)
{
    ++m_dropped;
    qCDebug(lcEngine).noquote() << "friend finder: dropped a value:" << why;
}

void FriendFinder::onValues(const QByteArray &key, const QList<QByteArray> &values, bool expired)
{
    const auto it = m_listened.constFind(key);
    if (it == m_listened.cend())
        return;
    const Listened l = it.value(); // the handlers may change m_listened
    for (const QByteArray &value : values) {
        switch (l.kind) {
        case Listened::Friend:
            onFriendRecord(l, value, expired);
            break;
        case Listened::Invite:
            if (!expired)
                onInviteRecord(l, value);
            break;
        case Listened::Reply:
            if (!expired)
                onReplyRecord(l, value);
            break;
        }
    }
}

void FriendFinder::onFriendRecord(const Listened &l, const QByteArray &value, bool expired)
{
    const auto entry = m_friends.find(l.who);
    if (entry == m_friends.end() || entry->secret.size() != 32)
        return;
    const auto channel = R::Channel::friendDirection(entry->secret, l.who, m_ourFp);
    Error error;
    const auto r = R::open(channel, l.epoch, value, &error);
    if (!r || r->type != TypePresence) {
        drop(r ? QStringLiteral("not a presence record") : error.message);
        return;
    }
    // A record's own expiry (sealed inside it) makes a captured one worthless later, also on
    // the same day's key and after a restart; a seq from the future is refused as well.
    if (!expired && !R::isCurrent(*r, QDateTime::currentMSecsSinceEpoch())) {
        drop(QStringLiteral("a record that has expired or comes from the future"));
        return;
    }
    if (r->seq < entry->lastSeq) {
        drop(QStringLiteral("an older record (replay)"));
        return;
    }
    if (r->seq <= entry->goneSeq) {
        if (!expired)
            drop(QStringLiteral("the record of a friend since gone (replay)"));
        return;
    }
    const bool newer = r->seq > entry->lastSeq;
    if (expired) {
        // Our friend's current record expired: nobody refreshed it, the friend is gone, unless
        // a newer record follows (an update replaces the value: see ExpiredGraceMs).
        if (!newer && entry->online && entry->expiredSeq != r->seq) {
            entry->expiredSeq = r->seq;
            const QByteArray who = l.who;
            const quint64 seq = r->seq;
            QTimer::singleShot(ExpiredGraceMs, this, [this, who, seq] {
                const auto e = m_friends.find(who);
                if (e == m_friends.end() || e->lastSeq != seq || e->expiredSeq != seq || !e->online)
                    return;
                e->online = false;
                e->goneSeq = seq;
                Q_EMIT friendGone(who, QDateTime::currentDateTimeUtc());
            });
        }
        return;
    }
    entry->lastSeq = r->seq;
    entry->expiredSeq = 0; // the record is (still or again) there
    if (newer)
        scheduleSave();
    if (r->flags & FlagGoingOffline) {
        if (entry->online || newer) {
            entry->online = false;
            entry->goneSeq = r->seq;
            Q_EMIT friendGone(l.who, QDateTime::fromMSecsSinceEpoch(qint64(r->seq), Qt::UTC));
        }
        return;
    }
    // "newer" for the engine means news: other addresses, or the friend back. The same
    // addresses sealed again (RepublishMs) must not restart an attempt.
    const PeerTargets targets { r->direct, r->mapped, r->relays };
    const bool news = newer && (!entry->online || !(targets == entry->targets));
    entry->online = true;
    entry->targets = targets;
    Q_EMIT friendSeen(l.who, r->name, targets, news);
}

void FriendFinder::onInviteRecord(const Listened &l, const QByteArray &value)
{
    const auto channel = R::Channel::inviteRequests(l.secret, m_ourFp);
    Error error;
    const auto r = R::open(channel, l.epoch, value, &error);
    if (!r || r->type != TypeRequest || r->fingerprint.size() != 32 || r->fingerprint == m_ourFp) {
        drop(r ? QStringLiteral("not a request") : error.message);
        return;
    }
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    if (!R::isCurrent(*r, nowMs)) {
        drop(QStringLiteral("a request that has expired or comes from the future"));
        return;
    }
    const QByteArray id = group('q', r->fingerprint);
    if (r->seq <= m_requestSeq.value(id)) {
        drop(QStringLiteral("a request seen before (replay)"));
        return;
    }
    if (m_requestSeq.size() >= MaxRequestSeqs && !m_requestSeq.contains(id))
        m_requestSeq.erase(m_requestSeq.begin());
    m_requestSeq.insert(id, r->seq);
    scheduleSave(); // a stranger with the code sends as many as it likes: no write per value
    const Invitation *inv = invitation(l.secret);
    if (!inv)
        return;
    const bool usedByOther
        = inv->singleUse && !inv->usedBy.isEmpty() && inv->usedBy != r->fingerprint;
    if (inv->revoked || usedByOther) {
        putReply(r->fingerprint, Reply { l.secret, r->requestId, ReplyStatus::Revoked });
        return;
    }
    if (nowSeconds() >= inv->expires) {
        putReply(r->fingerprint, Reply { l.secret, r->requestId, ReplyStatus::Expired });
        return;
    }
    const auto pending = m_pending.find(r->fingerprint);
    if (pending == m_pending.end() && m_pending.size() >= MaxPendingRequests) {
        drop(QStringLiteral("too many requests waiting for an answer"));
        return;
    }
    // Unanswered, a request lasts as long as the requester keeps asking (its newest request's
    // own expiry, with the clock skew we allow) and never beyond the invitation.
    const qint64 expiresMs = std::min<qint64>(
        qint64(std::min<quint64>(r->expiresMs, quint64(std::numeric_limits<qint64>::max() / 2)))
            + R::Record::ClockSkewMs,
        inv->expires * 1000);
    const PeerTargets targets { r->direct, r->mapped, r->relays };
    const bool news = pending == m_pending.end() || pending->name != r->name
        || !(pending->targets == targets) || pending->secret != l.secret;
    m_pending.insert(
        r->fingerprint, Pending { l.secret, r->requestId, r->name, targets, expiresMs });
    expirePending();
    if (news) // the same request sealed again (RepublishMs) is not asked again
        Q_EMIT requestReceived(r->fingerprint, r->name, targets);
}

void FriendFinder::expirePending()
{
    // One timer for all (<= MaxPendingRequests): a flood of requests costs no timer each.
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    qint64 next = std::numeric_limits<qint64>::max();
    QList<QByteArray> expired;
    for (auto it = m_pending.begin(); it != m_pending.end();) {
        if (it->expiresMs <= now) {
            expired.append(it.key());
            it = m_pending.erase(it);
            continue;
        }
        next = std::min(next, it->expiresMs);
        ++it;
    }
    if (m_pending.isEmpty())
        m_pendingTimer->stop();
    else // a long wait is checked again once a day (QTimer takes an int)
        m_pendingTimer->start(int(qBound<qint64>(1, next - now, qint64(24) * 3600 * 1000)));
    for (const QByteArray &fingerprint : std::as_const(expired))
        Q_EMIT requestExpired(fingerprint); // after the loop: a slot may answer another
}

void FriendFinder::onReplyRecord(const Listened &l, const QByteArray &value)
{
    const auto request = m_requests.constFind(l.who);
    if (request == m_requests.cend())
        return;
    const auto channel = R::Channel::inviteReplies(l.secret, l.who, m_ourFp);
    Error error;
    const auto r = R::open(channel, l.epoch, value, &error);
    if (!r || r->type != TypeReply || r->status < 1 || r->status > 4) {
        drop(r ? QStringLiteral("not a reply") : error.message);
        return;
    }
    // Anyone with the code can seal a reply here: only the inviter's signature (checked against
    // the fingerprint we pinned from the code) for this request counts, before anything else
    // (a forged seq must not hide the real reply).
    if (!R::verifyReply(*r, R::ReplyBinding { l.who, m_ourFp, request->id }, &error)) {
        drop(error.message);
        return;
    }
    if (!R::isCurrent(*r, QDateTime::currentMSecsSinceEpoch())) {
        drop(QStringLiteral("a reply that has expired or comes from the future"));
        return;
    }
    const QByteArray id = group('r', l.who);
    if (r->seq <= m_requestSeq.value(id)) {
        drop(QStringLiteral("a reply seen before"));
        return;
    }
    m_requestSeq.insert(id, r->seq);
    Q_EMIT replyReceived(
        l.who, ReplyStatus(r->status), r->name, PeerTargets { r->direct, r->mapped, r->relays });
}

void FriendFinder::loadState()
{
    const QString path = QDir(m_profileDir).filePath(QString::fromLatin1(StateFile));
    if (!QFile::exists(path))
        return;
    Error error;
    const auto root = JsonFile::read(path, &error);
    if (!root) {
        qCWarning(lcEngine).noquote() << error.message;
        return;
    }
    const QJsonArray invitations = root->value(QStringLiteral("invitations")).toArray();
    for (const auto &v : invitations) {
        const QJsonObject o = v.toObject();
        Invitation i;
        i.secret = QByteArray::fromHex(o.value(QStringLiteral("secret")).toString().toLatin1());
        i.created = qint64(o.value(QStringLiteral("created")).toDouble());
        i.expires = qint64(o.value(QStringLiteral("expires")).toDouble());
        i.singleUse = o.value(QStringLiteral("singleUse")).toBool();
        i.revoked = o.value(QStringLiteral("revoked")).toBool();
        i.usedBy = QByteArray::fromHex(o.value(QStringLiteral("usedBy")).toString().toLatin1());
        if (i.secret.size() == 16 && i.expires > 0 && m_invitations.size() < MaxInvitations)
            m_invitations.append(i);
    }
    const auto readSeqs = [&root](const QString &name, QHash<QByteArray, quint64> *out, int max) {
        const QJsonObject o = root->value(name).toObject();
        for (auto it = o.begin(); it != o.end() && out->size() < max; ++it)
            out->insert(
                QByteArray::fromHex(it.key().toLatin1()), it.value().toString().toULongLong());
    };
    QHash<QByteArray, quint64> friendSeqs;
    readSeqs(QStringLiteral("friendSeq"), &friendSeqs, MaxFriends);
    for (auto it = friendSeqs.cbegin(); it != friendSeqs.cend(); ++it)
        m_friends[it.key()].lastSeq = it.value(); // secret arrives with setFriend()
    readSeqs(QStringLiteral("requestSeq"), &m_requestSeq, MaxRequestSeqs);
    m_lastSeq = root->value(QStringLiteral("seq")).toString().toULongLong();
}

void FriendFinder::scheduleSave()
{
    if (!m_saveTimer->isActive())
        m_saveTimer->start();
}

void FriendFinder::saveState()
{
    m_saveTimer->stop();
    QJsonArray invitations;
    for (const Invitation &i : m_invitations) {
        invitations.append(QJsonObject {
            { QStringLiteral("secret"), QString::fromLatin1(i.secret.toHex()) },
            { QStringLiteral("created"), double(i.created) },
            { QStringLiteral("expires"), double(i.expires) },
            { QStringLiteral("singleUse"), i.singleUse },
            { QStringLiteral("revoked"), i.revoked },
            { QStringLiteral("usedBy"), QString::fromLatin1(i.usedBy.toHex()) },
        });
    }
    QJsonObject friendSeq;
    for (auto it = m_friends.cbegin(); it != m_friends.cend(); ++it) {
        if (it->lastSeq)
            friendSeq.insert(QString::fromLatin1(it.key().toHex()), QString::number(it->lastSeq));
    }
    QJsonObject requestSeq;
    for (auto it = m_requestSeq.cbegin(); it != m_requestSeq.cend(); ++it)
        requestSeq.insert(QString::fromLatin1(it.key().toHex()), QString::number(it.value()));
    ++m_stateWrites;
    Error error;
    if (!JsonFile::write(QDir(m_profileDir).filePath(QString::fromLatin1(StateFile)),
            QJsonObject {
                { QStringLiteral("version"), 1 },
                { QStringLiteral("invitations"), invitations },
                { QStringLiteral("friendSeq"), friendSeq },
                { QStringLiteral("requestSeq"), requestSeq },
                { QStringLiteral("seq"), QString::number(m_lastSeq) },
            },
            &error))
        qCWarning(lcEngine).noquote() << error.message;
}

} // namespace Punchline
