// SHA-256 over OpenSSL EVP: FIPS 180-4 vectors, incremental equals one-shot, copies continue
// independently (the resume check relies on that).
#include "common/sha256.h"

#include <QRandomGenerator>
#include <QTest>

using namespace Punchline;

class TestSha256 : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void vectors_data();
    void vectors();
    void millionA();
    void incrementalEqualsOneShot();
    void copyContinuesIndependently();
    void resultDoesNotEndHashing();
    void moveAndReset();
};

void TestSha256::vectors_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QByteArray>("digest");
    QTest::newRow("empty")
        << QByteArray()
        << QByteArray("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    QTest::newRow("abc") << QByteArray(
        "abc") << QByteArray("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    QTest::newRow("448 bits")
        << QByteArray("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
        << QByteArray("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    QTest::newRow("896 bits")
        << QByteArray("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklm"
                      "nopqklmnopqrlmnopqrsmnopqrstnopqrstu")
        << QByteArray("cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

void TestSha256::vectors()
{
    QFETCH(QByteArray, input);
    QFETCH(QByteArray, digest);
    QCOMPARE(Sha256::hash(input).toHex(), digest);
    QCOMPARE(Sha256::hash(input).size(), Sha256::Size);
}

void TestSha256::millionA()
{
    Sha256 h;
    const QByteArray thousand(1000, 'a');
    for (int i = 0; i < 1000; ++i)
        h.addData(thousand);
    QCOMPARE(h.result().toHex(),
        QByteArray("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

void TestSha256::incrementalEqualsOneShot()
{
    QByteArray data(3 * 1024 * 1024 + 17, Qt::Uninitialized);
    QRandomGenerator rng(42);
    for (char &c : data)
        c = char(rng.bounded(256));
    const QByteArray oneShot = Sha256::hash(data);
    for (int piece : { 1, 63, 64, 65, 4096, 256 * 1024, 1000003 }) {
        Sha256 h;
        for (qsizetype at = 0; at < data.size(); at += piece)
            h.addData(data.constData() + at, qMin<qsizetype>(piece, data.size() - at));
        QCOMPARE(h.result(), oneShot);
    }
}

void TestSha256::copyContinuesIndependently()
{
    Sha256 prefix;
    prefix.addData(QByteArrayView("hello "));
    Sha256 copy = prefix;
    copy.addData(QByteArrayView("world"));
    prefix.addData(QByteArrayView("there"));
    QCOMPARE(copy.result(), Sha256::hash("hello world"));
    QCOMPARE(prefix.result(), Sha256::hash("hello there"));
}

void TestSha256::resultDoesNotEndHashing()
{
    Sha256 h;
    h.addData(QByteArrayView("ab"));
    QCOMPARE(h.result(), Sha256::hash("ab"));
    h.addData(QByteArrayView("c"));
    QCOMPARE(h.result(), Sha256::hash("abc"));
}

void TestSha256::moveAndReset()
{
    Sha256 a;
    a.addData(QByteArrayView("abc"));
    Sha256 b(std::move(a));
    QCOMPARE(b.result(), Sha256::hash("abc"));
    a.addData(QByteArrayView("x")); // a moved-from hash starts fresh
    QCOMPARE(a.result(), Sha256::hash("x"));
    b.reset();
    QCOMPARE(b.result(), Sha256::hash({}));
}

QTEST_GUILESS_MAIN(TestSha256)
#include "tst_sha256.moc"
