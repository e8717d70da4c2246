#include "demo.h"

#include "appsettings.h"
#include "engine/node.h"
#include "mainwindow.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QGuiApplication>
#include <QScreen>
#include <QStandardPaths>

namespace Punchline {

namespace {

QString demoText(const char *text)
{
    return QCoreApplication::translate("main", text);
}

} // namespace

Demo::Demo(const NetworkOptions &overrides, QObject *parent)
    : QObject(parent)
{
    const QString base = QStandardPaths::writableLocation(QStandardPaths::TempLocation);
    const QString pattern = QDir(base).filePath(QStringLiteral("punchline-demo-XXXXXX"));
    for (auto &dir : m_dirs) {
        dir = std::make_unique<QTemporaryDir>(pattern);
        if (!dir->isValid()) {
            m_error = demoText("cannot create demo profiles in %1").arg(base);
            return;
        }
    }
    const QString names[3] = { demoText("Alice"), demoText("Bob"), demoText("Carol") };
    for (int i = 0; i < 3; ++i) {
        const QString dir = m_dirs[i]->path();
        Settings s = AppSettings::defaults(dir);
        s.displayName = names[i]; // a new, temporary profile: its name is set once here
        s.stunServers.clear();
        s.ipEchoUrl.clear();
        s.localAddresses = { QStringLiteral("127.0.0.1") };
        s.downloadDir = QDir(dir).filePath(QStringLiteral("Downloads"));
        s.port = 0;
        QDir().mkpath(s.downloadDir);
        m_nodes[i] = std::make_unique<Node>();
        m_windows[i] = std::make_unique<MainWindow>(m_nodes[i].get(), s);
        NetworkOptions oneRun = overrides;
        oneRun.port.reset(); // three windows, one machine: every one takes a free port
        oneRun.profileDir.reset();
        m_windows[i]->setOneRunOptions(oneRun);
        m_windows[i]->setCloseToTray(false); // closing a demo window ends it
    }
    Node *nodeA = m_nodes[0].get();
    Node *nodeB = m_nodes[1].get();
    Node *nodeC = m_nodes[2].get();

    // Each connects once, when the other's code is known (localInfoReady comes again after a
    // rename or a new public mapping).
    connect(nodeA, &Node::localInfoReady, this, [this](const LocalInfo &info) {
        if (!m_aliceFingerprint.isEmpty() || info.code.isEmpty())
            return;
        m_aliceFingerprint = info.fingerprint;
        bob()->connectTo(info.code);
        carol()->connectTo(info.code);
    });
    connect(nodeB, &Node::localInfoReady, this, [this](const LocalInfo &info) {
        if (!m_bobFingerprint.isEmpty() || info.code.isEmpty())
            return;
        m_bobFingerprint = info.fingerprint;
        alice()->connectTo(info.code);
    });
    connect(nodeC, &Node::localInfoReady, this, [this](const LocalInfo &info) {
        if (!m_carolFingerprint.isEmpty() || info.code.isEmpty())
            return;
        m_carolFingerprint = info.fingerprint;
        alice()->connectTo(info.code);
    });

    // A small file for the first offer: the newcomer sees Accept / Decline and a transfer cross.
    m_sample = QDir(m_dirs[0]->path()).filePath(demoText("Welcome to Punchline.txt"));
    QFile file(m_sample);
    if (file.open(QIODevice::WriteOnly | QIODevice::Text))
        file.write(
            demoText("This file came straight from the other window: no server, no cloud.\n"
                     "Every byte was encrypted (TLS 1.3) and checked (SHA-256) on arrival.\n")
                .toUtf8());

    // Greet once the friend is connected in the greeter's window: `connected` and the state
    // change are separate signals, and neither order is assumed.
    connect(nodeA, &Node::connected, this, &Demo::greetBob);
    connect(nodeA, &Node::friendStateChanged, this, &Demo::greetBob);
    connect(nodeC, &Node::connected, this, &Demo::greetAlice);
    connect(nodeC, &Node::friendStateChanged, this, &Demo::greetAlice);
}

Demo::~Demo()
{
    for (auto &window : m_windows)
        window.reset();
    for (auto &node : m_nodes)
        node.reset();
}

void Demo::greetBob()
{
    if (m_bobGreeted || m_bobFingerprint.isEmpty()
        || alice()->friendState(m_bobFingerprint) != State::Connected)
        return;
    m_bobGreeted = true;
    alice()->showConversation(m_bobFingerprint);
    alice()->sendChatText(
        demoText("Hi %1! This is a Punchline demo: three windows on one machine, "
                 "connected directly and encrypted. I am offering you a small file: "
                 "press Accept. Then reply here, or drop your own files and folders "
                 "on either window. More at https://punchline.invalid")
            .arg(demoText("Bob")));
    if (QFile::exists(m_sample))
        alice()->sendPaths({ m_sample });
    Q_EMIT aliceGreetedBob();
}

void Demo::greetAlice()
{
    if (m_aliceGreeted || m_aliceFingerprint.isEmpty()
        || carol()->friendState(m_aliceFingerprint) != State::Connected)
        return;
    m_aliceGreeted = true;
    carol()->showConversation(m_aliceFingerprint);
    carol()->sendChatText(demoText("Hello Alice, are we still on for Friday?"));
    Q_EMIT carolGreetedAlice();
}

void Demo::start()
{
    if (!isValid())
        return;
    // Alice on the left half, Bob and Carol stacked on the right.
    if (QScreen *screen = QGuiApplication::primaryScreen()) {
        const QRect area = screen->availableGeometry();
        const int w = area.width() * 11 / 20;
        const int h = area.height() / 2;
        alice()->setGeometry(area.x(), area.y(), w, area.height());
        bob()->setGeometry(area.x() + w, area.y(), area.width() - w, h);
        carol()->setGeometry(area.x() + w, area.y() + h, area.width() - w, area.height() - h);
    }
    for (auto &window : m_windows)
        window->show();
    for (auto &window : m_windows)
        window->start();
}

} // namespace Punchline
