// TransferManager behind the real Session over LoopbackLink (real framing, hello, flow control):
// files arrive intact, chat overtakes file data, a lost link heals and the transfer resumes, and
// "both sides done" waits for transfers.
#include "common/sha256.h"
#include "session/session.h"
#include "support/loopbacklink.h"
#include "transfer/transfermanager.h"

#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace Punchline;

namespace {

constexpr int Timeout = 60000;

QByteArray randomBytes(qint64 size, quint32 seed)
{
    QByteArray data(size, Qt::Uninitialized);
    QRandomGenerator rng(seed);
    rng.fillRange(reinterpret_cast<quint32 *>(data.data()), size / 4);
    return data;
}

SessionConfig config(const QString &name)
{
    SessionConfig c;
    c.displayName = name;
    c.keepaliveIntervalMs = 1000;
    c.peerSilentLimitMs = 30000;
    return c;
}

struct End
{
    End(const QString &name, const QString &downloads, const QString &state)
        : session(config(name))
        , transfers(downloads, state, AcceptPolicy::All)
    {
        QObject::connect(&transfers, &TransferManager::transferUpdated, &transfers,
            [this](const TransferInfo &info) { last.insert(info.id, info); });
        session.setTransferHandler(&transfers);
    }
    ~End() { session.setTransferHandler(nullptr); }
    TransferState state(const QString &id) const
    {
        return last.contains(id) ? last.value(id).state : static_cast<TransferState>(-1);
    }
    Session session;
    TransferManager transfers;
    QHash<QString, TransferInfo> last;
};

} // namespace

class TestTransferSession : public QObject
{
    Q_OBJECT

    std::pair<LoopbackLink *, LoopbackLink *> connect(End &a, End &b)
    {
        QSignalSpy ea(&a.session, &Session::established);
        QSignalSpy eb(&b.session, &Session::established);
        auto pair = LoopbackLink::createPair();
        pair.first->setParent(this);
        pair.second->setParent(this);
        a.session.attachLink(pair.first);
        b.session.attachLink(pair.second);
        if (!QTest::qWaitFor([&] { return ea.size() == 1 && eb.size() == 1; }, 5000))
            return {};
        return pair;
    }

private Q_SLOTS:
    void init()
    {
        m_tmp = std::make_unique<QTemporaryDir>();
        QVERIFY(m_tmp->isValid());
        m_a = std::make_unique<End>(QStringLiteral("Ada"), m_tmp->filePath(QStringLiteral("dl-a")),
            m_tmp->filePath(QStringLiteral("state-a")));
        m_b = std::make_unique<End>(QStringLiteral("Bob"), m_tmp->filePath(QStringLiteral("dl-b")),
            m_tmp->filePath(QStringLiteral("state-b")));
    }

    void cleanup()
    {
        m_a.reset();
        m_b.reset();
        qDeleteAll(findChildren<LoopbackLink *>());
        m_tmp.reset();
    }

    void fileAndChatTogether()
    {
        QVERIFY(connect(*m_a, *m_b).first);
        const QByteArray data = randomBytes(16 * 1024 * 1024, 1);
        const QString path = m_tmp->filePath(QStringLiteral("big.bin"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(data);
        f.close();
        // A chat typed once file data flows must not wait behind the rest of the file.
        bool typed = false;
        QObject::connect(&m_b->transfers, &TransferManager::transferUpdated, this,
            [&](const TransferInfo &info) {
                if (!typed && info.state == TransferState::Progress) {
                    typed = true;
                    m_a->session.sendChat(QStringLiteral("still there?"));
                }
            });
        int chats = 0;
        qint64 bytesAtChat = -1;
        QObject::connect(&m_b->session, &Session::chatReceived, this, [&] {
            ++chats;
            for (const TransferInfo &t : m_b->transfers.transfers())
                bytesAtChat = t.bytes; // the manager's own figure at this moment
        });
        Error error;
        const QString id = m_a->transfers.offerPaths({ path }, &error);
        QVERIFY2(!id.isEmpty(), qPrintable(error.message));
        QTRY_COMPARE_WITH_TIMEOUT(chats, 1, Timeout);
        QVERIFY2(bytesAtChat < data.size() / 2, qPrintable(QString::number(bytesAtChat)));
        QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);
        QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Done, Timeout);
        QFile in(m_b->last.value(id).path);
        QVERIFY(in.open(QIODevice::ReadOnly));
        QVERIFY(in.readAll() == data);
        QCOMPARE(m_b->last.value(id).sha256, QString::fromLatin1(Sha256::hash(data).toHex()));
    }

    void lostLinkHealsAndResumes()
    {
        auto links = connect(*m_a, *m_b);
        QVERIFY(links.first);
        const QByteArray data = randomBytes(12 * 1024 * 1024, 2);
        const QString path = m_tmp->filePath(QStringLiteral("big.bin"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(data);
        f.close();
        // Cut the cable as soon as data flows (from the first progress update: polling would
        // often see the transfer finished already).
        QSignalSpy lostA(&m_a->session, &Session::linkLost);
        bool cut = false;
        QObject::connect(&m_b->transfers, &TransferManager::transferUpdated, this,
            [&](const TransferInfo &info) {
                if (!cut && info.state == TransferState::Progress) {
                    cut = true;
                    links.first->close({ ErrorCode::PeerLost, QStringLiteral("cable cut") });
                }
            });
        Error error;
        const QString id = m_a->transfers.offerPaths({ path }, &error);
        QTRY_COMPARE_WITH_TIMEOUT(lostA.size(), 1, Timeout);
        QTest::qWait(50);
        QVERIFY(m_b->state(id) != TransferState::Done);
        QVERIFY(connect(*m_a, *m_b).first); // healed: a new link, same sessions
        QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, Timeout);
        QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Done, Timeout);
        QVERIFY(m_b->last.value(id).resumedFrom > 0);
        QVERIFY(m_a->last.value(id).resumedFrom > 0);
        QFile in(m_b->last.value(id).path);
        QVERIFY(in.open(QIODevice::ReadOnly));
        QVERIFY(in.readAll() == data);
    }

    void doneWaitsForTransfers()
    {
        QVERIFY(connect(*m_a, *m_b).first);
        const QString path = m_tmp->filePath(QStringLiteral("file.bin"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(randomBytes(4 * 1024 * 1024, 3));
        f.close();
        QSignalSpy doneA(&m_a->session, &Session::allDone);
        bool idleAtDone = false;
        QObject::connect(&m_a->session, &Session::allDone, this, [this, &idleAtDone] {
            idleAtDone = m_a->transfers.isIdle() && m_b->transfers.isIdle();
        });
        Error error;
        const QString id = m_a->transfers.offerPaths({ path }, &error);
        m_a->session.requestDone();
        m_b->session.requestDone();
        QTRY_COMPARE_WITH_TIMEOUT(doneA.size(), 1, Timeout);
        // allDone only once the transfer was verified on both sides.
        QVERIFY(idleAtDone);
        QTRY_COMPARE_WITH_TIMEOUT(m_a->state(id), TransferState::Done, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(m_b->state(id), TransferState::Done, 5000);
    }

private:
    std::unique_ptr<QTemporaryDir> m_tmp;
    std::unique_ptr<End> m_a;
    std::unique_ptr<End> m_b;
};

QTEST_GUILESS_MAIN(TestTransferSession)
#include "tst_transfersession.moc"
