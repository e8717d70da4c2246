// Framing (length | type | payload) and the session's CBOR message codecs.
#include "protocol/frame.h"
#include "protocol/messages.h"

#include <QCborArray>
#include <QCborMap>
#include <QCborValue>
#include <QRandomGenerator>
#include <QTest>

using namespace Punchline;

namespace {

QByteArray header(quint32 length, quint16 type)
{
    QByteArray h(6, '\0');
    h[0] = char(length >> 24);
    h[1] = char(length >> 16);
    h[2] = char(length >> 8);
    h[3] = char(length);
    h[4] = char(type >> 8);
    h[5] = char(type);
    return h;
}

// Runs the decoder until it stops; returns the frames and the final status.
QList<Frame> drain(FrameDecoder &decoder, FrameDecoder::Status *last, Error *error = nullptr)
{
    QList<Frame> frames;
    Frame f;
    for (;;) {
        *last = decoder.next(&f, error);
        if (*last != FrameDecoder::Status::Frame)
            return frames;
        frames.append(f);
    }
}

QByteArray cbor(const QCborMap &map)
{
    return QCborValue(map).toCbor();
}

QCborMap validHelloMap()
{
    QCborMap m;
    m.insert(QStringLiteral("v"), 1);
    m.insert(QStringLiteral("min"), 1);
    m.insert(QStringLiteral("caps"), QCborArray { QStringLiteral("chat/1") });
    m.insert(QStringLiteral("name"), QStringLiteral("Ada"));
    m.insert(QStringLiteral("sid"), QByteArray(16, 'x'));
    return m;
}

} // namespace

Q_DECLARE_METATYPE(FrameDecoder::Status)

class TestFrame : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void encodeHeaderIsBigEndian()
    {
        const QByteArray f = encodeFrame(0x0104, QByteArrayLiteral("abc"));
        QCOMPARE(f.toHex(), QByteArrayLiteral("000000030104616263"));
        QCOMPARE(encodeFrame(7, {}).toHex(), QByteArrayLiteral("000000000007"));
        QCOMPARE(encodeFrame(0xabcd, QByteArray(0x10203, 'z')).left(6).toHex(),
            QByteArrayLiteral("00010203abcd"));
    }

    void decoder_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<int>("maxPayload");
        QTest::addColumn<int>("frames");
        QTest::addColumn<FrameDecoder::Status>("last");

        const QByteArray one = encodeFrame(4, QByteArrayLiteral("hello"));
        QTest::newRow("empty") << QByteArray() << 100 << 0 << FrameDecoder::Status::NeedMore;
        QTest::newRow("truncated header")
            << one.left(5) << 100 << 0 << FrameDecoder::Status::NeedMore;
        QTest::newRow("truncated payload")
            << one.left(one.size() - 1) << 100 << 0 << FrameDecoder::Status::NeedMore;
        QTest::newRow("one frame") << one << 100 << 1 << FrameDecoder::Status::NeedMore;
        QTest::newRow("two frames and a half")
            << one + one + one.left(7) << 100 << 2 << FrameDecoder::Status::NeedMore;
        QTest::newRow("empty payload")
            << encodeFrame(6, {}) << 0 << 1 << FrameDecoder::Status::NeedMore;
        QTest::newRow("exactly the limit")
            << encodeFrame(4, QByteArray(100, 'a')) << 100 << 1 << FrameDecoder::Status::NeedMore;
        QTest::newRow("one above the limit")
            << encodeFrame(4, QByteArray(101, 'a')) << 100 << 0 << FrameDecoder::Status::Error;
        QTest::newRow("oversized header only")
            << header(101, 4) << 100 << 0 << FrameDecoder::Status::Error;
        QTest::newRow("huge declared length")
            << header(0xffffffffu, 4) << 1024 * 1024 << 0 << FrameDecoder::Status::Error;
        QTest::newRow("negative as int32")
            << header(0x80000000u, 4) << 1024 * 1024 << 0 << FrameDecoder::Status::Error;
        QTest::newRow("frame then oversized")
            << one + header(1000, 4) << 100 << 1 << FrameDecoder::Status::Error;
        QTest::newRow("unknown type passes") << encodeFrame(0x7777, QByteArrayLiteral("x")) << 100
                                             << 1 << FrameDecoder::Status::NeedMore;
    }

    void decoder()
    {
        QFETCH(QByteArray, input);
        QFETCH(int, maxPayload);
        QFETCH(int, frames);
        QFETCH(FrameDecoder::Status, last);

        // Whole, and byte at a time: same result.
        for (const bool byByte : { false, true }) {
            FrameDecoder decoder(maxPayload);
            QList<Frame> got;
            FrameDecoder::Status status = FrameDecoder::Status::NeedMore;
            Error error;
            if (byByte) {
                for (const char c : input) {
                    decoder.append(QByteArrayView(&c, 1));
                    got += drain(decoder, &status, &error);
                    if (status == FrameDecoder::Status::Error)
                        break;
                }
                if (input.isEmpty())
                    got += drain(decoder, &status, &error);
            } else {
                decoder.append(input);
                got = drain(decoder, &status, &error);
            }
            QCOMPARE(got.size(), frames);
            QCOMPARE(status, last);
            QCOMPARE(error.isError(), last == FrameDecoder::Status::Error);
            if (status == FrameDecoder::Status::Error) {
                QCOMPARE(error.code, ErrorCode::ProtocolError);
                QVERIFY(!error.message.isEmpty());
            }
        }
    }

    void oversizeRejectedBeforeAllocating()
    {
        // Only the 6 header bytes arrive: the decoder must refuse at once (not wait for 4 GiB)
        // and hold nothing.
        FrameDecoder decoder(1024 * 1024);
        decoder.append(header(0xfffffff0u, 0x0110));
        Frame f;
        Error e;
        QCOMPARE(decoder.next(&f, &e), FrameDecoder::Status::Error);
        QCOMPARE(decoder.bufferedBytes(), 0);
        QCOMPARE(e.code, ErrorCode::ProtocolError);
        QVERIFY(e.message.contains(QStringLiteral("4294967280")));
    }

    void errorIsSticky()
    {
        FrameDecoder decoder(10);
        decoder.append(header(11, 4));
        Frame f;
        QCOMPARE(decoder.next(&f), FrameDecoder::Status::Error);
        decoder.append(encodeFrame(4, QByteArrayLiteral("ok")));
        QCOMPARE(decoder.next(&f), FrameDecoder::Status::Error);
        decoder.setMaxPayload(1000);
        QCOMPARE(decoder.next(&f), FrameDecoder::Status::Error);
        QVERIFY(decoder.hasError());
    }

    void frameContentsAndLimitChange()
    {
        FrameDecoder decoder(8);
        decoder.append(QByteArray(
            encodeFrame(1, QByteArrayLiteral("small")) + encodeFrame(0x0110, QByteArray(20, 'B'))));
        Frame f;
        QCOMPARE(decoder.next(&f), FrameDecoder::Status::Frame);
        QCOMPARE(f.type, quint16(1));
        QCOMPARE(f.payload, QByteArrayLiteral("small"));
        // After the hello the session raises the limit; the next frame is then accepted.
        decoder.setMaxPayload(100);
        QCOMPARE(decoder.next(&f), FrameDecoder::Status::Frame);
        QCOMPARE(f.type, quint16(0x0110));
        QCOMPARE(f.payload, QByteArray(20, 'B'));
        QCOMPARE(decoder.next(&f), FrameDecoder::Status::NeedMore);
        QCOMPARE(decoder.bufferedBytes(), 0);
    }

    void longStreamDoesNotAccumulate()
    {
        FrameDecoder decoder(1024);
        const QByteArray frame = encodeFrame(0x0110, QByteArray(1000, 'd'));
        Frame f;
        qint64 count = 0;
        for (int i = 0; i < 2000; ++i) {
            decoder.append(QByteArrayView(frame).first(500));
            decoder.append(QByteArrayView(frame).sliced(500));
            while (decoder.next(&f) == FrameDecoder::Status::Frame)
                ++count;
            QVERIFY(decoder.bufferedBytes() < frame.size());
        }
        QCOMPARE(count, 2000);
    }

    // --- message codecs ---

    void helloRoundTrip()
    {
        HelloMessage h;
        h.capabilities = { QStringLiteral("chat/1"), QStringLiteral("transfer/1") };
        h.displayName = QStringLiteral("Zoë \u202eevil");
        h.sessionId = QByteArray(16, '\x07');
        Error e;
        const auto d = decodeHello(encodeHello(h), &e);
        QVERIFY2(d, qPrintable(e.message));
        QCOMPARE(d->version, 1);
        QCOMPARE(d->minVersion, 1);
        QCOMPARE(d->capabilities, h.capabilities);
        QCOMPARE(d->displayName, QStringLiteral("Zoë evil")); // bidi override removed
        QCOMPARE(d->sessionId, h.sessionId);
        QVERIFY(encodeHello(h).size() < Limits::PreHelloMaxPayload);
    }

    void helloInvalid_data()
    {
        QTest::addColumn<QByteArray>("payload");
        const auto with = [](const QString &key, const QCborValue &v) {
            QCborMap m = validHelloMap();
            m.insert(key, v);
            return cbor(m);
        };
        const auto without = [](const QString &key) {
            QCborMap m = validHelloMap();
            m.remove(key);
            return cbor(m);
        };
        QTest::newRow("empty") << QByteArray();
        QTest::newRow("garbage") << QByteArrayLiteral("\xff\xfe\x00garbage");
        QTest::newRow("not a map") << QCborValue(QCborArray { 1, 2 }).toCbor();
        QTest::newRow("trailing bytes") << cbor(validHelloMap()) + QByteArrayLiteral("x");
        QTest::newRow("version 0") << with(QStringLiteral("v"), 0);
        QTest::newRow("version as text") << with(QStringLiteral("v"), QStringLiteral("1"));
        QTest::newRow("version huge") << with(QStringLiteral("v"), qint64(1) << 40);
        QTest::newRow("min above version") << with(QStringLiteral("min"), 2);
        QTest::newRow("no version") << without(QStringLiteral("v"));
        QTest::newRow("no session id") << without(QStringLiteral("sid"));
        QTest::newRow("short session id") << with(QStringLiteral("sid"), QByteArray(15, 'x'));
        QTest::newRow("session id as text")
            << with(QStringLiteral("sid"), QString(16, QLatin1Char('x')));
        QTest::newRow("caps not a list") << with(QStringLiteral("caps"), QStringLiteral("chat"));
        QTest::newRow("caps with number") << with(QStringLiteral("caps"), QCborArray { 5 });
        QTest::newRow("caps with control char")
            << with(QStringLiteral("caps"), QCborArray { QStringLiteral("a\nb") });
        QCborArray many;
        for (int i = 0; i < 33; ++i)
            many.append(QStringLiteral("c%1").arg(i));
        QTest::newRow("too many caps") << with(QStringLiteral("caps"), many);
        QTest::newRow("name too long")
            << with(QStringLiteral("name"), QString(65, QLatin1Char('n')));
        QTest::newRow("name not text") << with(QStringLiteral("name"), 42);
        // Text string "ab" followed by an invalid UTF-8 sequence, as the name.
        QByteArray badUtf8 = QByteArray::fromHex("a1646e616d6562c328");
        QTest::newRow("invalid utf-8") << badUtf8;
        QByteArray deep(2000, char(0x81));
        deep.append(char(0x01));
        QTest::newRow("deep nesting") << deep;
        QCborMap nested = validHelloMap();
        nested.insert(QStringLiteral("x"),
            QCborArray { QCborArray { QCborArray { QCborArray { QCborArray { 1 } } } } });
        QTest::newRow("nested extension") << cbor(nested);
    }

    void helloInvalid()
    {
        QFETCH(QByteArray, payload);
        Error e;
        QVERIFY(!decodeHello(payload, &e));
        QCOMPARE(e.code, ErrorCode::ProtocolError);
        QVERIFY(!e.message.isEmpty());
    }

    void helloToleratesUnknownKeys()
    {
        QCborMap m = validHelloMap();
        m.insert(QStringLiteral("future"), QCborMap { { QStringLiteral("k"), 1 } });
        m.insert(QStringLiteral("v"), 3); // a newer peer that still speaks 1
        Error e;
        const auto h = decodeHello(cbor(m), &e);
        QVERIFY2(h, qPrintable(e.message));
        QCOMPARE(h->version, 3);
    }

    void chatRoundTrip()
    {
        ChatMessageWire c { QStringLiteral("0b9a7c1e-2f34-4c1d-9a55-6e8f0d1c2b3a"), 1700000000123,
            QStringLiteral("hi\nthere ☺") };
        Error e;
        const auto d = decodeChat(encodeChat(c), &e);
        QVERIFY2(d, qPrintable(e.message));
        QCOMPARE(d->id, c.id);
        QCOMPARE(d->timestampMs, c.timestampMs);
        QCOMPARE(d->text, c.text);
        const QString maxText(Limits::ChatTextBytes, QLatin1Char('a'));
        QVERIFY(decodeChat(encodeChat({ QStringLiteral("x"), 0, maxText }), &e));
    }

    void chatInvalid_data()
    {
        QTest::addColumn<QByteArray>("payload");
        const auto chat = [](const QCborValue &id, const QCborValue &t, const QCborValue &text) {
            QCborMap m;
            if (!id.isUndefined())
                m.insert(QStringLiteral("id"), id);
            if (!t.isUndefined())
                m.insert(QStringLiteral("t"), t);
            if (!text.isUndefined())
                m.insert(QStringLiteral("text"), text);
            return cbor(m);
        };
        const QCborValue none;
        QTest::newRow("no id") << chat(none, 1, QStringLiteral("x"));
        QTest::newRow("empty id") << chat(QStringLiteral(""), 1, QStringLiteral("x"));
        QTest::newRow("id too long") << chat(QString(37, QLatin1Char('a')), 1, QStringLiteral("x"));
        QTest::newRow("id with slash") << chat(QStringLiteral("../x"), 1, QStringLiteral("x"));
        QTest::newRow("id with escape") << chat(QStringLiteral("a\x1b[2J"), 1, QStringLiteral("x"));
        QTest::newRow("negative time") << chat(QStringLiteral("a"), -1, QStringLiteral("x"));
        QTest::newRow("time as double") << chat(QStringLiteral("a"), 1.5, QStringLiteral("x"));
        QTest::newRow("time too far")
            << chat(QStringLiteral("a"), qint64(1) << 60, QStringLiteral("x"));
        QTest::newRow("no text") << chat(QStringLiteral("a"), 1, none);
        QTest::newRow("text as bytes") << chat(QStringLiteral("a"), 1, QByteArray("x"));
        QTest::newRow("text too long")
            << chat(QStringLiteral("a"), 1, QString(Limits::ChatTextBytes + 1, QLatin1Char('a')));
        // 2-byte characters: few QChars, too many UTF-8 bytes.
        QTest::newRow("text too long in utf-8")
            << chat(QStringLiteral("a"), 1, QString(Limits::ChatTextBytes / 2 + 1, QChar(0xe9)));
        QTest::newRow("garbage") << QByteArrayLiteral("\x9f\x01\x02");
    }

    void chatInvalid()
    {
        QFETCH(QByteArray, payload);
        Error e;
        QVERIFY(!decodeChat(payload, &e));
        QCOMPARE(e.code, ErrorCode::ProtocolError);
    }

    void smallMessages()
    {
        Error e;
        const auto ping = decodePing(encodePing({ 0x123456789abcULL, -42 }), &e);
        QVERIFY(ping);
        QCOMPARE(ping->nonce, 0x123456789abcULL);
        QCOMPARE(ping->timeMs, qint64(-42));
        QVERIFY(!decodePing(
            cbor(QCborMap { { QStringLiteral("n"), -1 }, { QStringLiteral("t"), 0 } }), &e));
        QVERIFY(!decodePing(cbor(QCborMap { { QStringLiteral("n"), 1 } }), &e));

        const auto ack = decodeChatAck(encodeChatAck({ QStringLiteral("abc-1") }), &e);
        QVERIFY(ack);
        QCOMPARE(ack->id, QStringLiteral("abc-1"));
        QVERIFY(
            !decodeChatAck(cbor(QCborMap { { QStringLiteral("id"), QStringLiteral("a b") } }), &e));

        QVERIFY(decodeDone(encodeDone(), &e));
        QVERIFY(!decodeDone(QByteArrayLiteral("\x01"), &e));

        const auto bye = decodeBye(encodeBye({ QStringLiteral("see\x07 you") }), &e);
        QVERIFY(bye);
        QCOMPARE(bye->reason, QStringLiteral("see you"));
        QVERIFY(decodeBye(encodeBye({}), &e)->reason.isEmpty());
    }

    void frameTypeRanges()
    {
        QVERIFY(!FrameType::isTransfer(FrameType::Bye));
        QVERIFY(FrameType::isTransfer(0x0100));
        QVERIFY(FrameType::isTransfer(0x01ff));
        QVERIFY(!FrameType::isTransfer(0x0200));
    }

    // Random bytes must never crash a decoder, and whatever is accepted must re-encode.
    void garbageNeverCrashes()
    {
        QRandomGenerator rng(1234);
        int accepted = 0;
        for (int i = 0; i < 20000; ++i) {
            QByteArray b(int(rng.bounded(64)), Qt::Uninitialized);
            for (char &c : b)
                c = char(rng.bounded(256));
            if (i % 3 == 0 && !b.isEmpty())
                b[0] = char(0xa0 | (b.at(0) & 0x0f)); // often a map
            Error e;
            accepted += decodeHello(b, &e).has_value();
            accepted += decodeChat(b, &e).has_value();
            accepted += decodeChatAck(b, &e).has_value();
            accepted += decodePing(b, &e).has_value();
            accepted += decodeBye(b, &e).has_value();
            accepted += decodeDone(b, &e);
            FrameDecoder d(64);
            d.append(b);
            Frame f;
            while (d.next(&f) == FrameDecoder::Status::Frame) { }
        }
        QVERIFY(accepted > 0); // empty maps are valid Done/Bye messages
    }
};

QTEST_GUILESS_MAIN(TestFrame)
#include "tst_frame.moc"
