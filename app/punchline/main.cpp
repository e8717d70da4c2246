// punchline: the desktop window. Composition root: parses the command line, makes the Node (which
// owns the network thread) and the window, and in --demo mode two of each, connected on loopback.

#include "appsettings.h"
#include "engine/commandline.h"
#include "engine/node.h"
#include "iconfactory.h"
#include "mainwindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QScreen>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>

#include <cstdio>
#include <memory>

using namespace Punchline;

namespace {

// The shared options (--profile, --port, --stun, --ip-echo) over a window's settings.
void apply(const NetworkOptions &o, Settings *s)
{
    if (o.stunServers)
        s->stunServers = *o.stunServers;
    if (o.ipEchoUrl)
        s->ipEchoUrl = *o.ipEchoUrl;
    if (o.port)
        s->port = *o.port;
}

// Three windows, three profiles, one machine: Alice connects to Bob and Carol (two conversations
// at once), each on loopback as soon as both sides know their addresses. Alice greets Bob with a
// small file; Carol writes to Alice.
int runDemo(const NetworkOptions &overrides)
{
    const QString base = QStandardPaths::writableLocation(QStandardPaths::TempLocation);
    const QString pattern = QDir(base).filePath(QStringLiteral("punchline-demo-XXXXXX"));
    QTemporaryDir dirA(pattern);
    QTemporaryDir dirB(pattern);
    QTemporaryDir dirC(pattern);
    if (!dirA.isValid() || !dirB.isValid() || !dirC.isValid()) {
        std::fprintf(stderr, "punchline: cannot create demo profiles in %s\n", qPrintable(base));
        return 1;
    }
    auto settingsFor = [&overrides](const QString &dir, const QString &name) {
        Settings s = AppSettings::defaults(dir);
        s.displayName = name; // a new, temporary profile: its name is set once here
        s.stunServers.clear();
        s.ipEchoUrl.clear();
        s.localAddresses = { QStringLiteral("127.0.0.1") };
        s.downloadDir = QDir(dir).filePath(QStringLiteral("Downloads"));
        apply(overrides, &s);
        s.port = 0;
        QDir().mkpath(s.downloadDir);
        return s;
    };
    const Settings a = settingsFor(dirA.path(), QCoreApplication::translate("main", "Alice"));
    const Settings b = settingsFor(dirB.path(), QCoreApplication::translate("main", "Bob"));
    const Settings c = settingsFor(dirC.path(), QCoreApplication::translate("main", "Carol"));

    Node nodeA;
    Node nodeB;
    Node nodeC;
    MainWindow windowA(&nodeA, a);
    MainWindow windowB(&nodeB, b);
    MainWindow windowC(&nodeC, c);
    QObject::connect(&nodeA, &Node::localInfoReady, &windowB, [&](const LocalInfo &info) {
        windowB.connectTo(info.code);
        windowC.connectTo(info.code);
    });
    QObject::connect(&nodeB, &Node::localInfoReady, &windowA,
        [&windowA](const LocalInfo &info) { windowA.connectTo(info.code); });
    QObject::connect(&nodeC, &Node::localInfoReady, &windowA,
        [&windowA](const LocalInfo &info) { windowA.connectTo(info.code); });
    // A small file for the first offer: the newcomer sees Accept / Decline and a transfer cross.
    const QString sample
        = QDir(dirA.path())
              .filePath(QCoreApplication::translate("main", "Welcome to Punchline.txt"));
    {
        QFile file(sample);
        if (file.open(QIODevice::WriteOnly | QIODevice::Text))
            file.write(QCoreApplication::translate("main",
                "This file came straight from the other window: no server, no cloud.\n"
                "Every byte was encrypted (TLS 1.3) and checked (SHA-256) on arrival.\n")
                           .toUtf8());
    }
    bool welcomed = false;
    QObject::connect(&nodeA, &Node::connected, &windowA,
        [&windowA, &welcomed, sample](const QByteArray &peer, const ConnectionInfo &info) {
            if (welcomed || info.peerName != QCoreApplication::translate("main", "Bob"))
                return;
            welcomed = true;
            windowA.showConversation(peer);
            windowA.sendChatText(QCoreApplication::translate("main",
                "Hi %1! This is a Punchline demo: three windows on one machine, connected "
                "directly and encrypted. I am offering you a small file: press Accept. "
                "Then reply here, or drop your own files and folders on either window. "
                "More at https://punchline.invalid")
                                     .arg(info.peerName));
            if (QFile::exists(sample))
                windowA.sendPaths({ sample });
        });
    bool greeted = false;
    QObject::connect(&nodeC, &Node::connected, &windowC,
        [&windowC, &greeted](const QByteArray &peer, const ConnectionInfo &) {
            if (greeted)
                return;
            greeted = true;
            windowC.showConversation(peer);
            windowC.sendChatText(
                QCoreApplication::translate("main", "Hello Alice, are we still on for Friday?"));
        });

    // Alice on the left half, Bob and Carol stacked on the right.
    if (QScreen *screen = QGuiApplication::primaryScreen()) {
        const QRect area = screen->availableGeometry();
        const int w = area.width() * 11 / 20;
        const int h = area.height() / 2;
        windowA.setGeometry(area.x(), area.y(), w, area.height());
        windowB.setGeometry(area.x() + w, area.y(), area.width() - w, h);
        windowC.setGeometry(area.x() + w, area.y() + h, area.width() - w, area.height() - h);
    }
    windowA.show();
    windowB.show();
    windowC.show();
    windowA.start();
    windowB.start();
    windowC.start();
    return QApplication::exec();
}

void setApplicationIdentity()
{
    QCoreApplication::setApplicationName(QStringLiteral("punchline"));
    QCoreApplication::setOrganizationName(QStringLiteral("Punchline"));
    QCoreApplication::setApplicationVersion(QStringLiteral(PUNCHLINE_VERSION));
}

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
    const SharedOptions shared; // --profile, --port, --stun, --ip-echo: as in punchline-cli
    parser.addOptions({ versionOption, demoOption });
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
    if (parser.isSet(demoOption))
        return runDemo(overrides);

    const QString profileDir = overrides.profileDir.value_or(AppSettings::defaultProfileDir());
    if (profileDir.isEmpty()) {
        std::fprintf(stderr, "punchline: no profile folder; use --profile DIR\n");
        return 2;
    }
    // The name and the port are the profile's (port -1, name empty); --port overrides the port for
    // this run only.
    Settings settings = AppSettings(profileDir).load();
    apply(overrides, &settings);

    Node node; // declared before the window: the window goes first
    MainWindow window(&node, settings);
    window.show();
    window.start();
    return QApplication::exec();
}
