#include "clirunner.h"

#include <QCoreApplication>
#include <QSocketNotifier>
#include <csignal>
#include <sys/socket.h>
#include <unistd.h>

namespace {
int signalPipe[2] = { -1, -1 };

void onSignal(int)
{
    const char c = 1;
    // Only async-signal-safe work here: wake the event loop through the pipe.
    [[maybe_unused]] const ssize_t n = ::write(signalPipe[1], &c, 1);
}
} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("punchline"));
    QCoreApplication::setOrganizationName(QStringLiteral("Punchline"));
    QCoreApplication::setApplicationVersion(QStringLiteral(PUNCHLINE_VERSION));
    std::signal(SIGPIPE, SIG_IGN);

    Punchline::CliRunner runner;
    QObject::connect(&runner, &Punchline::CliRunner::finished, &app, &QCoreApplication::exit,
        Qt::QueuedConnection);

    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, signalPipe) == 0) {
        auto *notifier = new QSocketNotifier(signalPipe[0], QSocketNotifier::Read, &app);
        QObject::connect(notifier, &QSocketNotifier::activated, &runner, [&runner] {
            char c = 0;
            [[maybe_unused]] const ssize_t n = ::read(signalPipe[0], &c, 1);
            runner.interrupt();
        });
        struct sigaction sa
        {
        };
        sa.sa_handler = onSignal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGTERM, &sa, nullptr);
    }

    const int immediate = runner.start(QCoreApplication::arguments());
    if (immediate >= 0)
        return immediate;
    return app.exec();
}
