// The Punchline code friends paste: round trip, checksum, tolerance for what chat apps do to it,
// and parsePeerInput() for codes and plain address lists.
#include "identity/peercode.h"

#include <QCryptographicHash>
#include <QTest>

using namespace Punchline;

namespace {

const QString Alphabet = QStringLiteral("0123456789ABCDEFGHJKMNPQRSTVWXYZ");

PeerCode sampleCode()
{
    PeerCode c;
    c.name = QStringLiteral("Ada Lovelace");
    c.fingerprint = QCryptographicHash::hash("ada", QCryptographicHash::Sha256);
    c.candidates = { *Endpoint::parse(u"203.0.113.5:40000"),
        *Endpoint::parse(u"192.168.1.20:40000"), *Endpoint::parse(u"[2001:db8::1]:40001") };
    return c;
}

// Takes a QString so that QStringBuilder expressions convert.
std::optional<PeerCode> decode(const QString &text, Error *error)
{
    return PeerCode::decode(text, error);
}

} // namespace

class TestPeerCode : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void roundTrip_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QStringList>("candidates");
        QTest::newRow("typical") << QStringLiteral("Ada")
                                 << QStringList { QStringLiteral("203.0.113.5:4000"),
                                        QStringLiteral("10.0.0.2:4000") };
        QTest::newRow("no name, no address") << QString() << QStringList();
        QTest::newRow("unicode name") << QStringLiteral("Zoë 🦊 Åström")
                                      << QStringList { QStringLiteral("[2001:db8::2]:65535") };
        QTest::newRow("eight addresses")
            << QStringLiteral("x")
            << QStringList { QStringLiteral("1.1.1.1:1"), QStringLiteral("1.1.1.2:2"),
                   QStringLiteral("1.1.1.3:3"), QStringLiteral("1.1.1.4:4"),
                   QStringLiteral("[2001:db8::5]:5"), QStringLiteral("[2001:db8::6]:6"),
                   QStringLiteral("1.1.1.7:7"), QStringLiteral("1.1.1.8:8") };
    }

    void roundTrip()
    {
        QFETCH(QString, name);
        QFETCH(QStringList, candidates);
        PeerCode c;
        c.name = name;
        c.fingerprint = QCryptographicHash::hash(
            QByteArray(name.toUtf8() + "fp"), QCryptographicHash::Sha256);
        for (const QString &s : candidates)
            c.candidates.append(*Endpoint::parse(s));
        const QString text = c.encode();
        QVERIFY(text.startsWith(QStringLiteral("PL1-")));
        for (const QChar ch : text.mid(4))
            QVERIFY2(Alphabet.contains(ch), qPrintable(text));
        Error e;
        const auto d = decode(text, &e);
        QVERIFY2(d, qPrintable(e.message));
        QCOMPARE(*d, c);
        QCOMPARE(e.code, ErrorCode::None);
    }

    void roundTripWithKindsAndInvitation()
    {
        PeerCode c;
        c.name = QStringLiteral("Ada");
        c.fingerprint = QByteArray(32, '\x42');
        c.candidates
            = { *Endpoint::parse(u"203.0.113.5:4000"), *Endpoint::parse(u"10.0.0.2:4000") };
        c.mapped = { *Endpoint::parse(u"203.0.113.5:41002") };
        c.relays = { *Endpoint::parse(u"198.51.100.10:50000"),
            *Endpoint::parse(u"[2001:db8::10]:50001") };
        c.inviteSecret = QByteArray::fromHex("00112233445566778899aabbccddeeff");
        c.inviteExpires = 1796000000;
        c.inviteSingleUse = true;
        Error e;
        const auto d = decode(c.encode(), &e);
        QVERIFY2(d, qPrintable(e.message));
        QCOMPARE(*d, c);
        QCOMPARE(d->targets().all().size(), 5);
        // Extra mapped/relay entries beyond the limits are left out, not an error.
        c.mapped.append(*Endpoint::parse(u"203.0.113.5:41003"));
        c.mapped.append(*Endpoint::parse(u"203.0.113.5:41004"));
        const auto capped = decode(c.encode(), &e);
        QVERIFY2(capped, qPrintable(e.message));
        QCOMPARE(capped->mapped.size(), PeerCode::MaxMapped);
    }

    void encodeCapsNameAndCandidates()
    {
        PeerCode c = sampleCode();
        c.name = QString(40, QChar(0x00e9)); // 80 UTF-8 bytes
        for (int i = 0; i < 12; ++i)
            c.candidates.append(
                Endpoint { QHostAddress(quint32(0x0a000001 + i)), quint16(1000 + i) });
        const auto d = decode(c.encode(), nullptr);
        QVERIFY(d);
        QCOMPARE(d->name, QString(32, QChar(0x00e9)));
        QCOMPARE(d->candidates.size(), PeerCode::MaxCandidates);
        QCOMPARE(d->candidates.first(), c.candidates.first());
        PeerCode noFingerprint;
        QVERIFY(noFingerprint.encode().isEmpty());
    }

    void typicalCodeIsCompact()
    {
        PeerCode c = sampleCode();
        c.candidates.removeLast();
        QVERIFY2(c.encode().size() < 120, qPrintable(c.encode()));
    }

    // Every single-character substitution anywhere after the prefix is caught as a checksum error.
    void everySingleChangeCaught()
    {
        const QString text = sampleCode().encode();
        int tried = 0;
        for (int pos = 4; pos < text.size(); ++pos) {
            for (const QChar replacement : Alphabet) {
                if (replacement == text.at(pos))
                    continue;
                QString changed = text;
                changed[pos] = replacement;
                Error e;
                const auto d = decode(changed, &e);
                if (d)
                    QFAIL(qPrintable(
                        QStringLiteral("change at %1 to %2 not caught").arg(pos).arg(replacement)));
                QCOMPARE(e.code, ErrorCode::CodeChecksum);
                ++tried;
            }
        }
        QVERIFY(tried > 31 * 100);
    }

    void deletionsAndInsertionsCaught()
    {
        const QString text = sampleCode().encode();
        for (int pos = 4; pos < text.size(); ++pos) {
            QString removed = text;
            removed.remove(pos, 1);
            Error e;
            QVERIFY2(!decode(removed, &e), qPrintable(QString::number(pos)));
            QCOMPARE(e.code, ErrorCode::CodeChecksum);
            QString inserted = text;
            inserted.insert(pos, QLatin1Char('7'));
            QVERIFY2(!decode(inserted, &e), qPrintable(QString::number(pos)));
            QCOMPARE(e.code, ErrorCode::CodeChecksum);
        }
        // Two neighbours swapped.
        for (int pos = 4; pos + 1 < text.size(); ++pos) {
            if (text.at(pos) == text.at(pos + 1))
                continue;
            QString swapped = text;
            std::swap(swapped[pos], swapped[pos + 1]);
            Error e;
            QVERIFY(!decode(swapped, &e));
            QCOMPARE(e.code, ErrorCode::CodeChecksum);
        }
    }

    void truncationCaught()
    {
        const QString text = sampleCode().encode();
        for (int len = 4; len < text.size(); ++len) {
            Error e;
            QVERIFY(!decode(text.left(len), &e));
            QCOMPARE(e.code, ErrorCode::CodeChecksum);
            QVERIFY(e.message.contains(QStringLiteral("copy it again")));
        }
    }

    void toleratesWhatTransportsDo_data()
    {
        QTest::addColumn<QString>("mangled");
        const QString t = sampleCode().encode();
        QString wrapped;
        for (int i = 0; i < t.size(); i += 20)
            wrapped += t.mid(i, 20) + QStringLiteral("\r\n");
        QTest::newRow("lowercase") << t.toLower();
        QTest::newRow("line breaks") << wrapped;
        QTest::newRow("spaces and tabs") << QStringLiteral("  ") + t.left(30)
                + QStringLiteral(" \t ") + t.mid(30) + QStringLiteral("\n");
        QTest::newRow("quoted in a sentence")
            << QStringLiteral("\u201c") + t + QStringLiteral("\u201d.");
        QTest::newRow("angle brackets") << QStringLiteral("<") + t + QStringLiteral(">");
        QTest::newRow("zero-width and nbsp")
            << t.left(10) + QChar(0x200b) + t.mid(10, 10) + QChar(0x00a0) + t.mid(20);
        QTest::newRow("hyphen groups") << t.left(4) + t.mid(4, 5) + QStringLiteral("-")
                + t.mid(9, 5) + QStringLiteral("-") + t.mid(14);
        QTest::newRow("typographic dash") << QStringLiteral("PL1\u2013") + t.mid(4);
        QString confusable = t;
        for (int i = 4; i < confusable.size(); ++i) {
            if (confusable.at(i) == QLatin1Char('1'))
                confusable[i] = QLatin1Char('l');
            else if (confusable.at(i) == QLatin1Char('0'))
                confusable[i] = QLatin1Char('O');
        }
        QTest::newRow("l for 1, O for 0") << confusable;
    }

    void toleratesWhatTransportsDo()
    {
        QFETCH(QString, mangled);
        Error e;
        const auto d = decode(mangled, &e);
        QVERIFY2(d, qPrintable(e.message));
        QCOMPARE(*d, sampleCode());
    }

    void versionAndPrefix()
    {
        const QString t = sampleCode().encode();
        Error e;
        QVERIFY(!decode(QStringLiteral("PL2-") + t.mid(4), &e));
        QCOMPARE(e.code, ErrorCode::CodeVersion);
        QVERIFY(!decode(QStringLiteral("PL99999999999-") + t.mid(4), &e));
        QCOMPARE(e.code, ErrorCode::CodeVersion);
        QVERIFY(!decode(QStringLiteral("PL0-") + t.mid(4), &e));
        QCOMPARE(e.code, ErrorCode::BadCode);
        QVERIFY(!decode(QStringLiteral("XL1-") + t.mid(4), &e));
        QCOMPARE(e.code, ErrorCode::BadCode);
        QVERIFY(!decode(t.mid(4), &e));
        QCOMPARE(e.code, ErrorCode::BadCode);
        // A character that never occurs in a code, in the body.
        QVERIFY(!decode(t.left(20) + QStringLiteral("U") + t.mid(21), &e));
        QCOMPARE(e.code, ErrorCode::CodeChecksum);
        QVERIFY(!decode(t.left(20) + QStringLiteral("*") + t.mid(20), &e));
        QCOMPARE(e.code, ErrorCode::CodeChecksum);
    }

    // Checksum right, content wrong: made by something else than Punchline.
    void wellFormedButBadPayload()
    {
        // Re-encode by hand: same layout as PeerCode::encode, with one field broken.
        const auto craft = [](QByteArray payload) -> QString {
            static const char a[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
            const auto b32 = [](const QByteArray &bytes) -> QString {
                QString out;
                quint32 buf = 0;
                int bits = 0;
                for (const char c : bytes) {
                    buf = (buf << 8) | quint8(c);
                    bits += 8;
                    while (bits >= 5) {
                        bits -= 5;
                        out += QLatin1Char(a[(buf >> bits) & 31]);
                    }
                }
                if (bits)
                    out += QLatin1Char(a[(buf << (5 - bits)) & 31]);
                return out;
            };
            quint32 crc = 0xffffffffu;
            for (const char c : payload) {
                crc ^= quint8(c);
                for (int k = 0; k < 8; ++k)
                    crc = (crc & 1) ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
            }
            crc ^= 0xffffffffu;
            QByteArray crcBytes(4, '\0');
            for (int i = 0; i < 4; ++i)
                crcBytes[i] = char(crc >> (24 - 8 * i));
            return QStringLiteral("PL1-") + b32(payload) + b32(crcBytes);
        };
        const QByteArray fp(32, '\x11');
        const QByteArray okPayload = QByteArray(1, 1) + fp + QByteArray(1, 0) + QByteArray(1, 1)
            + QByteArray::fromHex("04cb00710515b3");
        Error e;
        QVERIFY2(decode(craft(okPayload), &e), qPrintable(e.message)); // the crafting is right

        QByteArray v3 = okPayload;
        v3[0] = 3;
        QVERIFY(!decode(craft(v3), &e));
        QCOMPARE(e.code, ErrorCode::CodeVersion);

        // Version 2: kind bits on each address, then flags and the invitation.
        const QByteArray secret(16, '\x5a');
        const QByteArray okV2 = QByteArray(1, 2) + fp + QByteArray(1, 0) + QByteArray(1, 3)
            + QByteArray::fromHex("04cb00710515b3") + QByteArray::fromHex("14cb00710515b4")
            + QByteArray::fromHex("24c633640a0d96") + QByteArray(1, 3) + secret
            + QByteArray::fromHex("6a000000");
        const auto v2 = decode(craft(okV2), &e);
        QVERIFY2(v2, qPrintable(e.message));
        QCOMPARE(v2->candidates, QList<Endpoint> { *Endpoint::parse(u"203.0.113.5:5555") });
        QCOMPARE(v2->mapped, QList<Endpoint> { *Endpoint::parse(u"203.0.113.5:5556") });
        QCOMPARE(v2->relays, QList<Endpoint> { *Endpoint::parse(u"198.51.100.10:3478") });
        QCOMPARE(v2->inviteSecret, secret);
        QCOMPARE(v2->inviteExpires, qint64(0x6a000000));
        QVERIFY(v2->inviteSingleUse);
        const QByteArray noInviteV2
            = QByteArray(1, 2) + fp + QByteArray(1, 0) + QByteArray(1, 0) + QByteArray(1, 0);
        const auto plain = decode(craft(noInviteV2), &e);
        QVERIFY2(plain, qPrintable(e.message));
        QVERIFY(!plain->hasInvitation());

        const auto expectBad = [&](const QByteArray &payload, const char *what) {
            Error err;
            QVERIFY2(!decode(craft(payload), &err), what);
            QCOMPARE(err.code, ErrorCode::BadCode);
        };
        expectBad(okPayload + "x", "trailing byte");
        expectBad(okV2 + "x", "v2 trailing byte");
        expectBad(okV2.left(okV2.size() - 1), "v2 invitation cut short");
        expectBad(noInviteV2.left(noInviteV2.size() - 1), "v2 without flags");
        expectBad(QByteArray(1, 2) + fp + QByteArray(1, 0) + QByteArray(1, 0) + QByteArray(1, 4),
            "v2 unknown flag");
        expectBad(QByteArray(1, 2) + fp + QByteArray(1, 0) + QByteArray(1, 0) + QByteArray(1, 2),
            "v2 single use without invitation");
        expectBad(QByteArray(1, 2) + fp + QByteArray(1, 0) + QByteArray(1, 1)
                + QByteArray::fromHex("34cb00710515b3") + QByteArray(1, 0),
            "v2 kind 3");
        expectBad(QByteArray(1, 2) + fp + QByteArray(1, 0) + QByteArray(1, 3)
                + QByteArray::fromHex("14cb00710515b3") + QByteArray::fromHex("14cb00710515b4")
                + QByteArray::fromHex("14cb00710515b5") + QByteArray(1, 0),
            "v2 three mapped");
        expectBad(
            QByteArray(1, 1) + fp + QByteArray(1, 65) + QByteArray(65, 'n') + QByteArray(1, 0),
            "name too long");
        expectBad(QByteArray(1, 1) + fp + QByteArray(1, 2) + QByteArray::fromHex("c328")
                + QByteArray(1, 0),
            "bad utf-8 name");
        expectBad(
            QByteArray(1, 1) + fp + QByteArray(1, 0) + QByteArray(1, 9) + QByteArray(9 * 7, '\x04'),
            "too many candidates");
        expectBad(QByteArray(1, 1) + fp + QByteArray(1, 0) + QByteArray(1, 1)
                + QByteArray::fromHex("05cb00710515b3"),
            "family 5");
        expectBad(QByteArray(1, 1) + fp + QByteArray(1, 0) + QByteArray(1, 1)
                + QByteArray::fromHex("04cb0071050000"),
            "port 0");
        expectBad(QByteArray(1, 1) + fp + QByteArray(1, 0) + QByteArray(1, 1)
                + QByteArray::fromHex("04000000000fa0"),
            "0.0.0.0");
        expectBad(QByteArray(1, 1) + fp + QByteArray(1, 0) + QByteArray(1, 1)
                + QByteArray::fromHex("04e00000010fa0"),
            "multicast");
        expectBad(QByteArray(1, 1) + fp + QByteArray(1, 0) + QByteArray(1, 2)
                + QByteArray::fromHex("04cb00710515b3"),
            "cut list");

        // Names are cleaned: control and bidi characters never reach the window.
        const QByteArray evil = QStringLiteral("Bob\u202e\x1b[31m").toUtf8();
        const auto d = decode(craft(QByteArray(1, 1) + fp + QByteArray(1, char(evil.size())) + evil
                                  + QByteArray(1, 0)),
            &e);
        QVERIFY2(d, qPrintable(e.message));
        QCOMPARE(d->name, QStringLiteral("Bob[31m"));
    }

    void parseInput_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("isCode");
        QTest::addColumn<int>("addresses");
        QTest::addColumn<ErrorCode>("error");
        const QString code = sampleCode().encode();
        QTest::newRow("code") << code << true << 0 << ErrorCode::None;
        QTest::newRow("code lowercase wrapped") << code.left(50).toLower() + QStringLiteral("\n")
                + code.mid(50) << true << 0 << ErrorCode::None;
        QTest::newRow("code changed") << code.left(30)
                + (code.at(30) == QLatin1Char('A') ? QStringLiteral("B") : QStringLiteral("A"))
                + code.mid(31) << false
                                      << 0 << ErrorCode::CodeChecksum;
        QTest::newRow("code cut") << code.left(code.size() - 3) << false << 0
                                  << ErrorCode::CodeChecksum;
        QTest::newRow("newer code")
            << QStringLiteral("PL7-") + code.mid(4) << false << 0 << ErrorCode::CodeVersion;
        QTest::newRow("one address")
            << QStringLiteral("203.0.113.5:4000") << false << 1 << ErrorCode::None;
        QTest::newRow("address list")
            << QStringLiteral("203.0.113.5:4000, [2001:db8::1]:4001\n10.0.0.1:4000") << false << 3
            << ErrorCode::None;
        QTest::newRow("empty") << QStringLiteral("  \n") << false << 0 << ErrorCode::BadCode;
        QTest::newRow("host name")
            << QStringLiteral("example.com:4000") << false << 0 << ErrorCode::BadCode;
        QTest::newRow("no port") << QStringLiteral("203.0.113.5") << false << 0
                                 << ErrorCode::BadCode;
        QTest::newRow("port 0") << QStringLiteral("203.0.113.5:0") << false << 0
                                << ErrorCode::BadCode;
        QTest::newRow("garbage") << QStringLiteral("hello there!") << false << 0
                                 << ErrorCode::BadCode;
        QTest::newRow("one bad in list")
            << QStringLiteral("203.0.113.5:4000,junk") << false << 0 << ErrorCode::BadCode;
    }

    void parseInput()
    {
        QFETCH(QString, text);
        QFETCH(bool, isCode);
        QFETCH(int, addresses);
        QFETCH(ErrorCode, error);
        const PeerInput in = parsePeerInput(text);
        QCOMPARE(in.error.code, error);
        QCOMPARE(in.isValid(), error == ErrorCode::None);
        QCOMPARE(in.code.has_value(), isCode);
        QCOMPARE(in.addresses.size(), addresses);
        if (in.error.isError())
            QVERIFY(!in.error.message.isEmpty());
        if (isCode)
            QCOMPARE(*in.code, sampleCode());
    }

    void badInputMessageNamesTheCulprit()
    {
        const PeerInput in = parsePeerInput(u"203.0.113.5:4000, nonsense:12");
        QVERIFY2(
            in.error.message.contains(QStringLiteral("nonsense:12")), qPrintable(in.error.message));
    }

    // Cheap enough to run on every keystroke.
    void parseIsCheap()
    {
        const QString code = sampleCode().encode();
        QElapsedTimer t;
        t.start();
        for (int i = 0; i < 2000; ++i)
            QVERIFY(parsePeerInput(code).isValid());
        QVERIFY2(t.elapsed() < 5000, qPrintable(QString::number(t.elapsed())));
    }
};

QTEST_GUILESS_MAIN(TestPeerCode)
#include "tst_peercode.moc"
