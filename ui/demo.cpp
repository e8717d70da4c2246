#include "demo.h"

#include "appsettings.h"
#include "engine/node.h"
#include "identity/peercode.h"
#include "mainwindow.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QGuiApplication>
#include <QRandomGenerator>
#include <QScreen>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTimer>

#include <algorithm>

namespace Punchline {

namespace {

QString demoText(const char *text)
{
    return QCoreApplication::translate("main", text);
}

// A loopback port nobody listens on: the failed-connection scene's friend never answers there.
quint16 closedLoopbackPort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 9; // discard: not served on a desktop
    return probe.serverPort(); // closed again when probe goes
}

} // namespace

std::optional<Demo::Scene> Demo::sceneFromName(const QString &name)
{
    static const std::pair<const char *, Scene> names[]
        = { { "demo", Scene::Demo }, { "chat", Scene::Chat }, { "offer", Scene::Offer },
              { "transfer", Scene::Transfer }, { "failed", Scene::Failed } };
    for (const auto &[text, scene] : names) {
        if (name == QLatin1String(text))
            return scene;
    }
    return std::nullopt;
}

Demo::Demo(const NetworkOptions &overrides, Scene scene, QObject *parent)
    : QObject(parent)
    , m_scene(scene)
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
        s.portMapping = false; // one machine, loopback only: no router to ask
        // Loopback only: no friend finder (it would join the public DHT and multicast on the LAN).
        s.dht = false;
        s.dhtBootstrap.clear();
        s.dhtLocalDiscovery = false;
        s.localAddresses = { QStringLiteral("127.0.0.1") };
        s.downloadDir = QDir(dir).filePath(QStringLiteral("Downloads"));
        s.port = 0;
        if (scene == Scene::Failed)
            s.connectTimeoutMs = 4000; // gives up soon: the picture shows the failure
        QDir().mkpath(s.downloadDir);
        m_nodes[i] = std::make_unique<Node>();
        m_windows[i] = std::make_unique<MainWindow>(m_nodes[i].get(), s);
        NetworkOptions oneRun = overrides;
        oneRun.port.reset(); // three windows, one machine: every one takes a free port
        oneRun.profileDir.reset();
        oneRun.dht.reset(); // the demo never uses the friend finder, whatever the command line
        oneRun.dhtBootstrap.reset();
        oneRun.dhtLocalDiscovery.reset();
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
        if (m_scene == Scene::Failed)
            return;
        bob()->connectTo(info.code);
        if (m_scene == Scene::Demo)
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

    setUpScene();

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
    if (m_scene == Scene::Chat || m_scene == Scene::Transfer)
        alice()->sendChatText(
            demoText("Hi %1! This is Punchline: we are connected directly, encrypted, "
                     "no server in between. Drop files or folders on the window to send them.")
                .arg(demoText("Bob")));
    else
        alice()->sendChatText(
            demoText("Hi %1! This is a Punchline demo: three windows on one machine, "
                     "connected directly and encrypted. I am offering you a small file: "
                     "press Accept. Then reply here, or drop your own files and folders "
                     "on either window. More at https://punchline.invalid")
                .arg(demoText("Bob")));
    if (m_scene == Scene::Transfer && QFile::exists(m_large))
        alice()->sendPaths({ m_large });
    else if (m_scene != Scene::Chat && QFile::exists(m_sample))
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
    if (m_bobGreeted)
        readyLater();
}

void Demo::setUpScene()
{
    Node *nodeA = m_nodes[0].get();
    Node *nodeB = m_nodes[1].get();
    switch (m_scene) {
    case Scene::Demo:
        connect(this, &Demo::aliceGreetedBob, this, [this] {
            if (m_aliceGreeted)
                readyLater();
        });
        break;
    case Scene::Chat:
        // Bob answers the welcome; the picture is Alice's conversation with both messages.
        connect(nodeB, &Node::chatReceived, this, [this](const QByteArray &peer) {
            if (peer != m_aliceFingerprint || m_ready)
                return;
            bob()->showConversation(peer);
            bob()->sendChatText(demoText("Hi Alice, it works! No account, no server: nice. "
                                         "Sending you the photos tonight."));
        });
        connect(nodeA, &Node::chatReceived, this, &Demo::readyLater);
        break;
    case Scene::Offer:
        connect(nodeB, &Node::transferUpdated, this,
            [this](const QByteArray &, const TransferInfo &info) {
                if (info.direction == TransferDirection::In && info.state == TransferState::Offered)
                    readyLater();
            });
        break;
    case Scene::Transfer: {
        // Large enough to be caught on its way, even on loopback: a sparse file (no disk used
        // on the sending side).
        m_large = QDir(m_dirs[0]->path()).filePath(demoText("Holiday video.mkv"));
        QFile large(m_large);
        if (large.open(QIODevice::WriteOnly))
            large.resize(qint64(3) << 30);
        connect(nodeB, &Node::transferUpdated, this,
            [this](const QByteArray &, const TransferInfo &info) {
                if (info.direction != TransferDirection::In)
                    return;
                if (info.state == TransferState::Offered)
                    bob()->answerOffer(info.id, true);
                else if (info.state == TransferState::Progress && info.total > 0
                    && info.bytes * 20 >= info.total)
                    readyLater();
            });
        break;
    }
    case Scene::Failed:
        // A friend whose code names a loopback port where nobody listens.
        connect(nodeA, &Node::localInfoReady, this, [this](const LocalInfo &info) {
            if (m_ready || info.code.isEmpty() || !m_failedCode.isEmpty())
                return;
            PeerCode code;
            code.name = demoText("Dana");
            code.fingerprint = QByteArray(32, '\0');
            QRandomGenerator::global()->fillRange(
                reinterpret_cast<quint32 *>(code.fingerprint.data()), 8);
            code.candidates = { Endpoint { QHostAddress::LocalHost, closedLoopbackPort() } };
            m_failedCode = code.encode();
            alice()->connectTo(m_failedCode);
        });
        connect(nodeA, &Node::friendStateChanged, this, [this](const QByteArray &, State state) {
            if (state == State::Failed)
                readyLater();
        });
        break;
    }
}

void Demo::readyLater()
{
    if (m_ready)
        return;
    m_ready = true;
    // Once the window has laid out and painted what just arrived.
    QTimer::singleShot(700, this, &Demo::sceneReady);
}

MainWindow *Demo::shownWindow() const
{
    switch (m_scene) {
    case Scene::Offer:
    case Scene::Transfer:
        return bob();
    case Scene::Demo:
    case Scene::Chat:
    case Scene::Failed:
        break;
    }
    return alice();
}

void Demo::start()
{
    const QScreen *screen = QGuiApplication::primaryScreen();
    start(screen ? screen->availableGeometry() : QRect());
}

void Demo::start(const QRect &area)
{
    if (!isValid())
        return;
    if (m_scene != Scene::Demo) {
        MainWindow *shown = shownWindow();
        if (!area.isEmpty())
            shown->setGeometry(area);
        shown->show();
        alice()->start();
        if (m_scene != Scene::Failed)
            bob()->start();
        return;
    }
    for (auto &window : m_windows)
        window->show();
    if (!area.isEmpty())
        placeDemo(area);
    for (auto &window : m_windows)
        window->start();
}

void Demo::placeDemo(const QRect &area)
{
    // Alice on the left, Bob and Carol stacked on the right, every frame inside the area: on a
    // narrow area (a small screen, 2x scaling) Bob and Carol fold their conversation lists away
    // first, then the right column takes what it needs from Alice's, and only then do windows
    // overlap. Frames are known once the windows are shown.
    const auto frame = [](const MainWindow *w) {
        const QRect outer = w->frameGeometry();
        const QRect inner = w->geometry();
        return QMargins(inner.left() - outer.left(), inner.top() - outer.top(),
            outer.right() - inner.right(), outer.bottom() - inner.bottom());
    };
    const auto minimum
        = [&frame](const MainWindow *w) { return w->minimumSizeHint().grownBy(frame(w)); };
    int rightWidth = area.width() * 9 / 20;
    if (std::max(minimum(bob()).width(), minimum(carol()).width()) > rightWidth) {
        bob()->setSidebarShown(false);
        carol()->setSidebarShown(false);
    }
    rightWidth = std::min(
        std::max({ rightWidth, minimum(bob()).width(), minimum(carol()).width() }), area.width());
    const int aliceWidth = std::clamp(
        area.width() - rightWidth, std::min(minimum(alice()).width(), area.width()), area.width());
    const int half = area.height() / 2;
    const int bobHeight
        = std::clamp(half, std::min(minimum(bob()).height(), area.height()), area.height());
    const int carolHeight = std::clamp(
        area.height() - half, std::min(minimum(carol()).height(), area.height()), area.height());
    const int rightX = area.x() + area.width() - rightWidth;
    const auto place
        = [&frame](MainWindow *w, const QRect &cell) { w->setGeometry(cell - frame(w)); };
    place(alice(), QRect(area.x(), area.y(), aliceWidth, area.height()));
    place(bob(), QRect(rightX, area.y(), rightWidth, bobHeight));
    place(carol(), QRect(rightX, area.y() + area.height() - carolHeight, rightWidth, carolHeight));
}

} // namespace Punchline
