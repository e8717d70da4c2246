// The device identity (key + self-signed certificate), the known-peers store and the profile's
// small settings.
#include "identity/identity.h"
#include "identity/knownpeers.h"
#include "identity/profilesettings.h"

#include <QDir>
#include <QFile>
#include <QSslKey>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

using namespace Punchline;

namespace {

mode_t modeOf(const QString &path)
{
    struct stat st
    {
    };
    if (::stat(QFile::encodeName(path).constData(), &st) != 0)
        return 0;
    return st.st_mode & 07777;
}

QByteArray readAll(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

void writeAll(const QString &path, const QByteArray &data)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    QCOMPARE(f.write(data), data.size());
}

} // namespace

class TestIdentity : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void createAndReload()
    {
        QTemporaryDir tmp;
        const QString dir = tmp.filePath(QStringLiteral("profile/sub"));
        Error e;
        const auto first = Identity::loadOrCreate(dir, &e);
        QVERIFY2(first, qPrintable(e.message));
        QCOMPARE(first->fingerprint().size(), 32);
        QVERIFY(!first->certificate().isNull());
        QVERIFY(!first->privateKey().isNull());
        QCOMPARE(first->privateKey().algorithm(), QSsl::Ec);
        QCOMPARE(first->privateKey().type(), QSsl::PrivateKey);
        QCOMPARE(first->certificate().subjectInfo(QSslCertificate::CommonName),
            QStringList { QStringLiteral("Punchline") });
        QVERIFY(first->certificate().isSelfSigned());
        QVERIFY(first->certificate().expiryDate().date().year() >= 9999);
        QVERIFY(first->certificate().effectiveDate() < QDateTime::currentDateTimeUtc());
        QCOMPARE(first->fingerprint(), first->certificate().digest(QCryptographicHash::Sha256));
        // (That the key belongs to the certificate is proven by tst_tlshandshake.)
        QVERIFY(QFile::exists(QDir(dir).filePath(QStringLiteral("identity.crt"))));

        const auto second = Identity::loadOrCreate(dir, &e);
        QVERIFY2(second, qPrintable(e.message));
        QCOMPARE(second->fingerprint(), first->fingerprint());
        QCOMPARE(second->privateKey().toPem(), first->privateKey().toPem());

        // Another profile, another identity.
        const auto other = Identity::loadOrCreate(tmp.filePath(QStringLiteral("other")), &e);
        QVERIFY(other);
        QVERIFY(other->fingerprint() != first->fingerprint());
        QVERIFY(other->certificate().serialNumber() != first->certificate().serialNumber());
    }

    void permissions()
    {
        QTemporaryDir tmp;
        const QString dir = tmp.filePath(QStringLiteral("p"));
        Error e;
        QVERIFY(Identity::loadOrCreate(dir, &e));
        QCOMPARE(modeOf(QDir(dir).filePath(QStringLiteral("identity.key"))), mode_t(0600));
        QCOMPARE(modeOf(dir), mode_t(0700));
        // A key made readable by others is tightened on the next load, not replaced.
        const QString key = QDir(dir).filePath(QStringLiteral("identity.key"));
        const QByteArray before = readAll(key);
        QVERIFY(::chmod(QFile::encodeName(key).constData(), 0644) == 0);
        QVERIFY(Identity::loadOrCreate(dir, &e));
        QCOMPARE(modeOf(key), mode_t(0600));
        QCOMPARE(readAll(key), before);
    }

    void damagedFilesAreReportedNotReplaced_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QByteArray>("content");
        QTest::newRow("key garbage")
            << QStringLiteral("identity.key") << QByteArrayLiteral("not a key\n");
        QTest::newRow("key empty") << QStringLiteral("identity.key") << QByteArray();
        QTest::newRow("key truncated")
            << QStringLiteral("identity.key")
            << QByteArrayLiteral("-----BEGIN PRIVATE "
                                 "KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n");
        QTest::newRow("cert garbage")
            << QStringLiteral("identity.crt")
            << QByteArrayLiteral("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        QTest::newRow("cert huge") << QStringLiteral("identity.crt") << QByteArray(100 * 1024, 'A');
    }

    void damagedFilesAreReportedNotReplaced()
    {
        QFETCH(QString, file);
        QFETCH(QByteArray, content);
        QTemporaryDir tmp;
        Error e;
        QVERIFY(Identity::loadOrCreate(tmp.path(), &e));
        const QString path = tmp.filePath(file);
        writeAll(path, content);
        const QByteArray otherBefore = readAll(
            tmp.filePath(file.endsWith(QLatin1String(".key")) ? QStringLiteral("identity.crt")
                                                              : QStringLiteral("identity.key")));

        e = {};
        QVERIFY(!Identity::loadOrCreate(tmp.path(), &e));
        QCOMPARE(e.code, ErrorCode::IdentityError);
        QVERIFY(!e.message.isEmpty());
        // Nothing was overwritten, also not on a second try.
        QVERIFY(!Identity::loadOrCreate(tmp.path(), &e));
        QCOMPARE(readAll(path), content);
        QCOMPARE(readAll(tmp.filePath(file.endsWith(QLatin1String(".key"))
                         ? QStringLiteral("identity.crt")
                         : QStringLiteral("identity.key"))),
            otherBefore);
    }

    void mismatchedPairAndMissingHalf()
    {
        QTemporaryDir a;
        QTemporaryDir b;
        Error e;
        QVERIFY(Identity::loadOrCreate(a.path(), &e));
        QVERIFY(Identity::loadOrCreate(b.path(), &e));
        // b's certificate next to a's key.
        const QByteArray bCert = readAll(b.filePath(QStringLiteral("identity.crt")));
        writeAll(a.filePath(QStringLiteral("identity.crt")), bCert);
        QVERIFY(!Identity::loadOrCreate(a.path(), &e));
        QCOMPARE(e.code, ErrorCode::IdentityError);
        QVERIFY2(e.message.contains(QStringLiteral("identity.crt")), qPrintable(e.message));
        QCOMPARE(readAll(a.filePath(QStringLiteral("identity.crt"))), bCert);

        // Key missing, certificate present: reported, no new key made.
        QVERIFY(QFile::remove(b.filePath(QStringLiteral("identity.key"))));
        QVERIFY(!Identity::loadOrCreate(b.path(), &e));
        QCOMPARE(e.code, ErrorCode::IdentityError);
        QVERIFY(!QFile::exists(b.filePath(QStringLiteral("identity.key"))));
        QCOMPARE(readAll(b.filePath(QStringLiteral("identity.crt"))), bCert);
    }

    void encryptedKeyIsRefusedWithoutPrompt()
    {
        QTemporaryDir tmp;
        Error e;
        const auto id = Identity::loadOrCreate(tmp.path(), &e);
        QVERIFY(id);
        // A passphrase-protected key (OpenSSL would prompt on the terminal by default).
        const QByteArray encrypted = id->privateKey().toPem("secret");
        QVERIFY(encrypted.contains("ENCRYPTED"));
        writeAll(tmp.filePath(QStringLiteral("identity.key")), encrypted);
        QVERIFY(!Identity::loadOrCreate(tmp.path(), &e));
        QCOMPARE(e.code, ErrorCode::IdentityError);
    }

    void emptyProfileDir()
    {
        Error e;
        QVERIFY(!Identity::loadOrCreate(QString(), &e));
        QCOMPARE(e.code, ErrorCode::IdentityError);
    }

    void formatFingerprint()
    {
        const QByteArray fp = QByteArray::fromHex("3f2a91c0"
                                                  "00112233"
                                                  "44556677"
                                                  "8899aabb"
                                                  "ccddeeff"
                                                  "01234567"
                                                  "89abcdef"
                                                  "fedcba98");
        QCOMPARE(Identity::formatFingerprint(fp),
            QStringLiteral(
                "3F2A 91C0 0011 2233 4455 6677 8899 AABB CCDD EEFF 0123 4567 89AB CDEF FEDC BA98"));
        QCOMPARE(
            Identity::formatFingerprint(QByteArray::fromHex("abcdef")), QStringLiteral("ABCD EF"));
        QCOMPARE(Identity::formatFingerprint({}), QString());
    }

    // --- known peers ---

    void knownPeersRoundTrip()
    {
        QTemporaryDir tmp;
        const QByteArray fpA(32, 'a');
        const QByteArray fpB(32, 'b');
        {
            KnownPeers peers(tmp.path());
            Error e;
            QVERIFY(peers.load(&e)); // no file yet
            QVERIFY(peers.peers().isEmpty());
            KnownPeer a;
            a.fingerprint = fpA;
            a.name = QStringLiteral("Ada\x1b[2J");
            a.candidates = { *Endpoint::parse(u"203.0.113.5:4000") };
            a.lastSeen = QDateTime::currentDateTimeUtc().addDays(-1);
            a.pinnedByCode = true;
            peers.remember(a);
            KnownPeer b;
            b.fingerprint = fpB;
            b.name = QStringLiteral("Bob");
            b.candidates = { *Endpoint::parse(u"[2001:db8::1]:4001") };
            peers.remember(b);
            // Seen again by plain address: stays pinned, keeps its name.
            KnownPeer again;
            again.fingerprint = fpA;
            again.candidates
                = { *Endpoint::parse(u"198.51.100.7:4000"), *Endpoint::parse(u"203.0.113.5:4000") };
            peers.remember(again);
            QVERIFY(peers.save(&e));
        }
        KnownPeers peers(tmp.path());
        Error e;
        QVERIFY2(peers.load(&e), qPrintable(e.message));
        QCOMPARE(peers.peers().size(), 2);
        QCOMPARE(peers.peers().first().fingerprint, fpA); // most recently seen first
        const auto a = peers.find(fpA);
        QVERIFY(a);
        QCOMPARE(a->name, QStringLiteral("Ada[2J"));
        QVERIFY(a->pinnedByCode);
        QCOMPARE(a->candidates.size(), 2);
        QCOMPARE(a->candidates.first(), *Endpoint::parse(u"198.51.100.7:4000"));
        QVERIFY(a->firstSeen.isValid());
        QVERIFY(a->firstSeen < a->lastSeen);
        const auto b = peers.find(fpB);
        QVERIFY(b);
        QVERIFY(!b->pinnedByCode);
        QCOMPARE(peers.findByCandidate(*Endpoint::parse(u"[2001:db8::1]:4001"))->fingerprint, fpB);
        QVERIFY(!peers.findByCandidate(*Endpoint::parse(u"192.0.2.1:1")));
        QVERIFY(peers.forget(fpB));
        QVERIFY(!peers.forget(fpB));
        QVERIFY(!peers.find(fpB));
    }

    void knownPeersDamagedFileMovedAside()
    {
        QTemporaryDir tmp;
        const QString path = tmp.filePath(QStringLiteral("known-peers.json"));
        writeAll(path, QByteArrayLiteral("{ \"peers\": [ {\"fingerprint\": "));
        KnownPeers peers(tmp.path());
        Error e;
        QVERIFY(!peers.load(&e));
        QCOMPARE(e.code, ErrorCode::IdentityError);
        QVERIFY(peers.peers().isEmpty());
        QCOMPARE(readAll(path + QStringLiteral(".damaged")),
            QByteArrayLiteral("{ \"peers\": [ {\"fingerprint\": "));
        QVERIFY(!QFile::exists(path));
        // Entries that make no sense are skipped, good ones kept.
        writeAll(path,
            QByteArrayLiteral("{\"peers\":[{\"fingerprint\":\"zz\"},{\"fingerprint\":\"")
                + QByteArray(32, '\x01').toHex()
                + QByteArrayLiteral("\",\"candidates\":[\"junk\",\"10.0.0.1:5\"]}, 7]}"));
        QVERIFY(peers.load(&e));
        QCOMPARE(peers.peers().size(), 1);
        QCOMPARE(
            peers.peers().first().candidates, QList<Endpoint> { *Endpoint::parse(u"10.0.0.1:5") });
    }

    void profileSettings()
    {
        QTemporaryDir tmp;
        {
            ProfileSettings s(tmp.path());
            Error e;
            QVERIFY(s.load(&e));
            QCOMPARE(s.port(), quint16(0));
            QVERIFY(s.displayName().isEmpty());
            s.setDisplayName(
                QStringLiteral("  Ada \n Lovelace\u202e ") + QString(100, QLatin1Char('x')));
            s.setPort(40123);
            QVERIFY(s.save(&e));
        }
        ProfileSettings s(tmp.path());
        Error e;
        QVERIFY(s.load(&e));
        QCOMPARE(s.port(), quint16(40123));
        QVERIFY(s.displayName().startsWith(QStringLiteral("Ada Lovelace xxx")));
        QCOMPARE(s.displayName().toUtf8().size(), 64);

        writeAll(tmp.filePath(QStringLiteral("profile.json")), QByteArrayLiteral("[1,2"));
        QVERIFY(!s.load(&e));
        QCOMPARE(e.code, ErrorCode::IdentityError);
        QCOMPARE(s.port(), quint16(0));
        QVERIFY(QFile::exists(tmp.filePath(QStringLiteral("profile.json.damaged"))));
    }
};

QTEST_GUILESS_MAIN(TestIdentity)
#include "tst_identity.moc"
