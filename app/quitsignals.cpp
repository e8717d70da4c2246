#include "quitsignals.h"

#include <QObject>

#if defined(Q_OS_UNIX)
#include <QSocketNotifier>
#include <csignal>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace Punchline {

#if defined(Q_OS_UNIX)
namespace {
int signalPipe[2] = { -1, -1 };

void onSignal(int)
{
    const char c = 1;
    // Only async-signal-safe work here: wake the event loop through the pipe.
    [[maybe_unused]] const ssize_t n = ::write(signalPipe[1], &c, 1);
}
} // namespace

void callOnQuitSignals(QObject *context, std::function<void()> onSignalHandled)
{
    if (signalPipe[0] >= 0 || ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, signalPipe) != 0)
        return;
    auto *notifier = new QSocketNotifier(signalPipe[0], QSocketNotifier::Read, context);
    QObject::connect(
        notifier, &QSocketNotifier::activated, context, [handler = std::move(onSignalHandled)] {
            char c = 0;
            [[maybe_unused]] const ssize_t n = ::read(signalPipe[0], &c, 1);
            handler();
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
#else
void callOnQuitSignals(QObject *, std::function<void()>) { }
#endif

} // namespace Punchline
