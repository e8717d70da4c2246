// Throughput and peak memory of one file sent between two TransferManagers in one process,
// each behind a real Session, the two joined by a LoopbackLink: the real hello, framing and the
// session's pull loop (bulk data pulled only below Session::BulkLowWaterMark), no sockets, no
// TLS. The sender reads and hashes 256 KiB chunks, the receiver writes and hashes them, then
// checks and renames the file. Everything runs on one thread (as on the network thread), so the
// figure is the CPU + page-cache cost of the session and transfer modules, an upper bound for a
// real link.
//
//   bench_transfer [--size-mib N] [--dir DIR] [--keep]
//
// Prints one human line and one JSON line. Peak RSS is VmHWM, reset (clear_refs) after the
// source file has been written, so it measures the transfer only.

#include "common/types.h"
#include "session/session.h"
#include "support/loopbacklink.h"
#include "transfer/transfermanager.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTextStream>

#include <cstdio>
#include <memory>

using namespace Punchline;

namespace {

qint64 statusKiB(const char *field)
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    const QList<QByteArray> lines = status.readAll().split('\n');
    for (const QByteArray &line : lines) {
        if (line.startsWith(field))
            return line.mid(int(strlen(field))).trimmed().split(' ').first().toLongLong();
    }
    return -1;
}

void resetPeakRss()
{
    QFile clear(QStringLiteral("/proc/self/clear_refs"));
    if (clear.open(QIODevice::WriteOnly))
        clear.write("5"); // resets VmHWM to the current RSS (Linux >= 4.0)
}

// Incompressible content, fast (xorshift64*), written in 4 MiB blocks so that making it does
// not count as transfer memory.
bool writeSource(const QString &path, qint64 bytes)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return false;
    QByteArray block(4 * 1024 * 1024, Qt::Uninitialized);
    quint64 state = 0x9e3779b97f4a7c15ULL;
    for (qint64 done = 0; done < bytes;) {
        auto *words = reinterpret_cast<quint64 *>(block.data());
        for (qsizetype i = 0; i < block.size() / 8; ++i) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            words[i] = state * 0x2545f4914f6cdd1dULL;
        }
        const qint64 n = qMin<qint64>(block.size(), bytes - done);
        if (file.write(block.constData(), n) != n)
            return false;
        done += n;
    }
    return file.flush();
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("In-process TransferManager throughput"));
    parser.addHelpOption();
    const QCommandLineOption sizeOption(QStringLiteral("size-mib"),
        QStringLiteral("File size in MiB (1024)."), QStringLiteral("n"), QStringLiteral("1024"));
    const QCommandLineOption dirOption(QStringLiteral("dir"),
        QStringLiteral("Work folder (needs 2x the size free)."), QStringLiteral("path"));
    const QCommandLineOption keepOption(QStringLiteral("keep"), QStringLiteral("Keep the files."));
    parser.addOptions({ sizeOption, dirOption, keepOption });
    parser.process(app);

    const qint64 bytes = parser.value(sizeOption).toLongLong() * 1024 * 1024;
    if (bytes <= 0) {
        std::fprintf(stderr, "bad --size-mib\n");
        return 2;
    }
    QTemporaryDir tmp(parser.isSet(dirOption)
            ? parser.value(dirOption) + QStringLiteral("/bench-transfer-XXXXXX")
            : QDir::tempPath() + QStringLiteral("/bench-transfer-XXXXXX"));
    tmp.setAutoRemove(!parser.isSet(keepOption));
    if (!tmp.isValid()) {
        std::fprintf(stderr, "cannot make a work folder\n");
        return 1;
    }
    const QString source = tmp.filePath(QStringLiteral("source.bin"));
    if (!writeSource(source, bytes)) {
        std::fprintf(stderr, "cannot write %s\n", qPrintable(source));
        return 1;
    }
    const qint64 rssBefore = statusKiB("VmRSS:");
    resetPeakRss();

    TransferManager sender(tmp.filePath(QStringLiteral("dl-sender")),
        tmp.filePath(QStringLiteral("state-sender")), AcceptPolicy::None);
    TransferManager receiver(tmp.filePath(QStringLiteral("dl")),
        tmp.filePath(QStringLiteral("state")), AcceptPolicy::All);
    // Links first: the sessions (declared after) detach from them before they go.
    const auto [senderLink, receiverLink] = LoopbackLink::createPair(QStringLiteral("bench"));
    const std::unique_ptr<LoopbackLink> ownSenderLink(senderLink);
    const std::unique_ptr<LoopbackLink> ownReceiverLink(receiverLink);
    // The "wire" is not the bottleneck: each event-loop turn moves everything queued.
    senderLink->setBytesPerTick(qint64(64) * 1024 * 1024);
    receiverLink->setBytesPerTick(qint64(64) * 1024 * 1024);
    SessionConfig config;
    config.displayName = QStringLiteral("sender");
    Session sending(config);
    config.displayName = QStringLiteral("receiver");
    Session receiving(config);
    sending.setTransferHandler(&sender);
    receiving.setTransferHandler(&receiver);

    QEventLoop loop;
    const auto quitWhenEstablished = [&] {
        if (sending.isEstablished() && receiving.isEstablished())
            loop.quit();
    };
    QObject::connect(&sending, &Session::established, &loop, quitWhenEstablished);
    QObject::connect(&receiving, &Session::established, &loop, quitWhenEstablished);
    sending.attachLink(senderLink);
    receiving.attachLink(receiverLink);
    loop.exec();
    QObject::disconnect(&sending, nullptr, &loop, nullptr);
    QObject::disconnect(&receiving, nullptr, &loop, nullptr);
    const auto linkLost = [&](const Error &why) {
        std::fprintf(stderr, "link lost: %s\n", qPrintable(why.message));
        loop.exit(1);
    };
    QObject::connect(&sending, &Session::linkLost, &loop, linkLost);
    QObject::connect(&receiving, &Session::linkLost, &loop, linkLost);

    TransferInfo in, out;
    auto finished = [](const TransferInfo &i) {
        return i.state == TransferState::Done || i.state == TransferState::Failed
            || i.state == TransferState::Canceled || i.state == TransferState::Declined;
    };
    QObject::connect(
        &receiver, &TransferManager::transferUpdated, &loop, [&](const TransferInfo &info) {
            in = info;
            if (finished(in) && finished(out))
                loop.quit();
        });
    QObject::connect(
        &sender, &TransferManager::transferUpdated, &loop, [&](const TransferInfo &info) {
            out = info;
            if (finished(in) && finished(out))
                loop.quit();
        });

    QElapsedTimer clock;
    clock.start();
    Error error;
    if (sender.offerPaths({ source }, &error).isEmpty()) {
        std::fprintf(stderr, "%s\n", qPrintable(error.message));
        return 1;
    }
    if (loop.exec() != 0)
        return 1;
    const qint64 ms = clock.elapsed();
    const qint64 peakKiB = statusKiB("VmHWM:");

    const bool ok = in.state == TransferState::Done && out.state == TransferState::Done
        && in.sha256 == out.sha256 && QFileInfo(in.path).size() == bytes;
    const double mbps = double(bytes) / 1e6 / (double(ms) / 1000.0);
    QTextStream(stdout) << QStringLiteral(
        "bench_transfer: %1 MiB in %2 ms = %3 MB/s (%4 MiB/s), peak RSS %5 MiB "
        "(RSS before %6 MiB), receiver elapsed %7 ms, sha256 %8 %9\n")
                               .arg(bytes / (1024 * 1024))
                               .arg(ms)
                               .arg(mbps, 0, 'f', 0)
                               .arg(double(bytes) / 1048576.0 / (double(ms) / 1000.0), 0, 'f', 0)
                               .arg(double(peakKiB) / 1024.0, 0, 'f', 1)
                               .arg(double(rssBefore) / 1024.0, 0, 'f', 1)
                               .arg(in.elapsedMs)
                               .arg(in.sha256.left(16),
                                   ok ? QStringLiteral("ok")
                                      : QStringLiteral("FAILED: ") + in.error.message
                                           + out.error.message);
    const QJsonObject json { { QStringLiteral("bytes"), bytes }, { QStringLiteral("ms"), ms },
        { QStringLiteral("mbPerSec"), mbps },
        { QStringLiteral("peakRssMiB"), double(peakKiB) / 1024.0 }, { QStringLiteral("ok"), ok } };
    QTextStream(stdout) << QJsonDocument(json).toJson(QJsonDocument::Compact) << '\n';
    return ok ? 0 : 1;
}
