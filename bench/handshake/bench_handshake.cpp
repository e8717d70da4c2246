// Times TlsHandshake on loopback: N handshakes between two identities, each on a fresh TCP
// connection, client and server in one thread (as on the network thread). Prints p50/p95/mean
// of the time from start() to both sides' succeeded(), and of the first one apart.

#include "identity/identity.h"
#include "session/tlshandshake.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QSslSocket>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTimer>
#include <algorithm>
#include <cstdio>
#include <vector>

using namespace Punchline;

namespace {

// Hands over accepted descriptors untouched, so a QSslSocket can own them.
class RawServer : public QTcpServer
{
public:
    qintptr fd = -1;

protected:
    void incomingConnection(qintptr handle) override { fd = handle; }
};

// One handshake; returns its duration in microseconds, or -1.
qint64 oneHandshake(const Identity &a, const Identity &b)
{
    RawServer server;
    if (!server.listen(QHostAddress::LocalHost))
        return -1;
    auto *client = new QSslSocket;
    client->connectToHost(QHostAddress::LocalHost, server.serverPort());
    if (!client->waitForConnected(3000) || !server.waitForNewConnection(3000) || server.fd < 0) {
        delete client;
        return -1;
    }
    auto *serverSide = new QSslSocket;
    serverSide->setSocketDescriptor(server.fd);

    int done = 0;
    bool failed = false;
    QEventLoop loop;
    TlsHandshake hc(client, a, TlsHandshake::Role::Client, b.fingerprint(), 5000);
    TlsHandshake hs(serverSide, b, TlsHandshake::Role::Server, a.fingerprint(), 5000);
    for (TlsHandshake *h : { &hc, &hs }) {
        QObject::connect(h, &TlsHandshake::succeeded, &loop, [&] {
            if (++done == 2)
                loop.quit();
        });
        QObject::connect(h, &TlsHandshake::failed, &loop, [&](const Error &e) {
            std::fprintf(stderr, "handshake failed: %s\n", qPrintable(e.message));
            failed = true;
            loop.quit();
        });
    }
    QElapsedTimer t;
    t.start();
    hc.start();
    hs.start();
    QTimer::singleShot(5000, &loop, &QEventLoop::quit);
    loop.exec();
    const qint64 us = t.nsecsElapsed() / 1000;
    client->abort();
    serverSide->abort();
    delete client;
    delete serverSide;
    return failed || done != 2 ? -1 : us;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOption({ QStringLiteral("runs"), QStringLiteral("Handshakes to time."),
        QStringLiteral("N"), QStringLiteral("200") });
    parser.process(app);
    const int runs = qBound(1, parser.value(QStringLiteral("runs")).toInt(), 100000);

    QTemporaryDir da, db;
    Error error;
    const auto a = Identity::loadOrCreate(da.path(), &error);
    const auto b = Identity::loadOrCreate(db.path(), &error);
    if (!a || !b) {
        std::fprintf(stderr, "identity: %s\n", qPrintable(error.message));
        return 1;
    }
    const qint64 first = oneHandshake(*a, *b);
    std::vector<qint64> us;
    for (int i = 0; i < runs; ++i) {
        const qint64 v = oneHandshake(*a, *b);
        if (v < 0)
            return 1;
        us.push_back(v);
    }
    std::sort(us.begin(), us.end());
    double mean = 0;
    for (qint64 v : us)
        mean += double(v);
    mean /= double(us.size());
    const auto pct = [&](int p) {
        return us[std::min<size_t>(us.size() - 1, (us.size() * size_t(p) + 99) / 100 - 1)];
    };
    std::printf("handshakes: %d\nfirst_us: %lld\np50_us: %lld\np95_us: %lld\nmean_us: %.0f\n", runs,
        static_cast<long long>(first), static_cast<long long>(pct(50)),
        static_cast<long long>(pct(95)), mean);
    return 0;
}
