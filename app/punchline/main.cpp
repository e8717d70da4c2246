// punchline: the desktop window. Composition root: parses the command line, makes the Node (which
// owns the network thread) and the window, and in --demo mode three of each, connected on
// loopback (ui/demo.h).

#include "appsettings.h"
#include "demo.h"
#include "engine/commandline.h"
#include "engine/node.h"
#include "iconfactory.h"
#include "mainwindow.h"
#include "noticebar.h"
#include "quitsignals.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QEvent>

#include <chrono>
#include <cstdio>

using namespace Punchline;

namespace {

int runDemo(const NetworkOptions &overrides, Demo::Scene scene)
{
    Demo demo(overrides, scene);
    if (!demo.isValid()) {
        std::fprintf(stderr, "punchline: %s\n", qPrintable(demo.errorText()));
        return 1;
    }
    // scripts/screenshot.sh takes its picture when this line appears.
    QObject::connect(&demo, &Demo::sceneReady, &demo, [] {
        std::fputs("punchline: scene ready\n", stdout);
        std::fflush(stdout);
    });
    demo.start();
    return QApplication::exec();
}

void setApplicationIdentity()
{
    QCoreApplication::setApplicationName(QStringLiteral("punchline"));
    QCoreApplication::setOrganizationName(QStringLiteral("Punchline"));
    QCoreApplication::setApplicationVersion(QStringLiteral(PUNCHLINE_VERSION));
}

// PUNCHLINE_STARTUP_TRACE=1 (off by default; bench/startup_bench.sh): one line on stderr at the
// window's first paint and one when the first code is ready, with the wall clock in microseconds
// so the caller can subtract the moment it started the process (dynamic loading included).
class StartupTrace : public QObject
{
public:
    StartupTrace(QWidget *window, Node *node)
        : QObject(window)
    {
        window->installEventFilter(this);
        connect(node, &Node::localInfoReady, this, [this](const LocalInfo &info) {
            if (!m_codeLogged && !info.code.isEmpty()) {
                m_codeLogged = true;
                log("code-ready");
            }
        });
    }

protected:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::Paint && !m_paintLogged) {
            m_paintLogged = true;
            log("first-paint");
        }
        return QObject::eventFilter(watched, event);
    }

private:
    static void log(const char *what)
    {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        std::fprintf(
            stderr, "punchline-startup: %s %lld\n", what, static_cast<long long>(us.count()));
        std::fflush(stderr);
    }
    bool m_paintLogged = false;
    bool m_codeLogged = false;
};

} // namespace

int main(int argc, char **argv)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QCoreApplication::translate(
        "main", "Chat and send files directly to friends, through your home routers."));
    const QCommandLineOption helpOption = parser.addHelpOption();
    const QCommandLineOption versionOption({ QStringLiteral("v"), QStringLiteral("version") },
        QCoreApplication::translate("main", "Print the version and exit."));
    const QCommandLineOption demoOption(QStringLiteral("demo"),
        QCoreApplication::translate(
            "main", "Open three windows connected to each other on this machine."));
    // For scripts/screenshot.sh: one window of the demo in a given situation.
    QCommandLineOption sceneOption(QStringLiteral("demo-scene"),
        QCoreApplication::translate("main", "One demo window: chat, offer, transfer or failed."),
        QStringLiteral("scene"));
    sceneOption.setFlags(QCommandLineOption::HiddenFromHelp);
    const SharedOptions shared; // --profile, --port, --stun, --ip-echo: as in punchline-cli
    parser.addOptions({ versionOption, demoOption, sceneOption });
    parser.addOptions(shared.options());

    // --help and --version must work without a display (packaging checks, SSH sessions): they are
    // answered before the GUI application (which needs one) exists.
    bool infoOnly = false;
    for (int i = 1; i < argc; ++i) {
        const QByteArray arg(argv[i]);
        if (arg == "--") // what follows is not an option
            break;
        infoOnly = infoOnly || arg == "-h" || arg == "--help" || arg == "-?" || arg == "--help-all"
            || arg == "-v" || arg == "--version";
    }
    if (infoOnly) {
        QCoreApplication console(argc, argv);
        setApplicationIdentity();
        if (!parser.parse(QCoreApplication::arguments())) {
            std::fprintf(stderr, "punchline: %s\n\n%s", qPrintable(parser.errorText()),
                qPrintable(parser.helpText()));
            return 2;
        }
        if (parser.isSet(versionOption) && !parser.isSet(helpOption)) {
            std::printf("punchline %s\n", PUNCHLINE_VERSION);
            return 0;
        }
        std::fputs(qPrintable(parser.helpText()), stdout);
        return 0;
    }

    QApplication app(argc, argv); // takes Qt's own options (-platform, -style, ...) out of the list
    setApplicationIdentity();
    QApplication::setApplicationDisplayName(QStringLiteral("Punchline"));
    QGuiApplication::setDesktopFileName(QStringLiteral("io.github.punchline.Punchline"));
    QApplication::setWindowIcon(IconFactory::appIcon());
    registerMetaTypes();
    if (!parser.parse(QApplication::arguments())) {
        std::fprintf(stderr, "punchline: %s\n\n%s", qPrintable(parser.errorText()),
            qPrintable(parser.helpText()));
        return 2;
    }
    if (!parser.positionalArguments().isEmpty()) {
        std::fprintf(stderr, "punchline: unexpected argument \"%s\"\n",
            qPrintable(parser.positionalArguments().constFirst()));
        return 2;
    }

    NetworkOptions overrides;
    Error error;
    if (!shared.read(parser, &overrides, &error)) {
        std::fprintf(stderr, "punchline: %s\n", qPrintable(error.message));
        return 2;
    }
    if (parser.isSet(sceneOption)) {
        const auto scene = Demo::sceneFromName(parser.value(sceneOption));
        if (!scene) {
            std::fprintf(stderr, "punchline: unknown demo scene \"%s\"\n",
                qPrintable(parser.value(sceneOption)));
            return 2;
        }
        return runDemo(overrides, *scene);
    }
    if (parser.isSet(demoOption))
        return runDemo(overrides, Demo::Scene::Demo);

    const QString profileDir = overrides.profileDir.value_or(AppSettings::defaultProfileDir());
    if (profileDir.isEmpty()) {
        std::fprintf(stderr, "punchline: no profile folder; use --profile DIR\n");
        return 2;
    }
    // The name and the port are the profile's (port -1, name empty). --port, --stun and --ip-echo
    // are for this run only: the window uses them over the saved settings and never saves them.
    Error turnProblem; // the profile's turn.json; never with a password in it
    const Settings settings = AppSettings(profileDir).load(&turnProblem);

    Node node; // declared before the window: the window goes first
    MainWindow window(&node, settings);
    window.setOneRunOptions(overrides);
    window.setAskForName(true); // a first start without a real name asks for one
    if (turnProblem.isError())
        window.noticeBar()->showNotice(NoticeBar::Kind::Error, turnProblem.message);
    // kill / logout: quit without asking (no one is there to answer), so the Node's destructor
    // still says Bye to every friend (see quitsignals.h). Before start(): from the moment the
    // profile exists a signal is handled (from the event loop).
    callOnQuitSignals(&app, [] { QCoreApplication::exit(0); });
    if (qEnvironmentVariableIsSet("PUNCHLINE_STARTUP_TRACE"))
        new StartupTrace(&window, &node); // owned by the window
    window.start(); // the network thread makes the code while the window paints
    window.show();
    return QApplication::exec();
}
