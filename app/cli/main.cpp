#include "clirunner.h"
#include "quitsignals.h"

#include <QCoreApplication>
#include <csignal>

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

    // Ctrl-C / SIGTERM: leave politely (Bye, then the exit close), see quitsignals.h.
    Punchline::callOnQuitSignals(&runner, [&runner] { runner.interrupt(); });

    const int immediate = runner.start(QCoreApplication::arguments());
    if (immediate >= 0)
        return immediate;
    return app.exec();
}
