#include "node.h"

#include "engine.h"

#include <QCoreApplication>
#include <QUuid>
#include <openssl/crypto.h>

namespace Punchline {

template <typename F> void Node::queue(F &&call)
{
    QMetaObject::invokeMethod(
        m_engine, [e = m_engine, call = std::forward<F>(call)] { call(e); }, Qt::QueuedConnection);
}

void registerMetaTypes()
{
    qRegisterMetaType<State>();
    qRegisterMetaType<Error>();
    qRegisterMetaType<LocalInfo>();
    qRegisterMetaType<ConnectionInfo>();
    qRegisterMetaType<ConnectProgress>();
    qRegisterMetaType<ChatMessage>();
    qRegisterMetaType<TransferInfo>();
    qRegisterMetaType<FriendInfo>();
    qRegisterMetaType<QList<FriendInfo>>();
    qRegisterMetaType<FriendRequest>();
    qRegisterMetaType<Settings>();
    qRegisterMetaType<Endpoint>();
}

Node::Node(QObject *parent)
    : QObject(parent)
{
    registerMetaTypes();
    m_thread.setObjectName(QStringLiteral("punchline-net"));
    m_engine = new Engine; // no parent: it moves to the network thread
    m_engine->moveToThread(&m_thread);

    // Engine -> Node: queued by construction (different threads), value types only.
    connect(m_engine, &Engine::stateChanged, this, &Node::stateChanged);
    connect(m_engine, &Engine::localInfoReady, this, &Node::localInfoReady);
    connect(m_engine, &Engine::friendsChanged, this, &Node::friendsChanged);
    connect(m_engine, &Engine::friendRequest, this, &Node::friendRequest);
    connect(m_engine, &Engine::friendRequestExpired, this, &Node::friendRequestExpired);
    connect(m_engine, &Engine::friendStateChanged, this, &Node::friendStateChanged);
    connect(m_engine, &Engine::connectProgress, this, &Node::connectProgress);
    connect(m_engine, &Engine::connected, this, &Node::connected);
    connect(m_engine, &Engine::disconnected, this, &Node::disconnected);
    connect(m_engine, &Engine::errorOccurred, this, &Node::errorOccurred);
    connect(m_engine, &Engine::chatReceived, this, &Node::chatReceived);
    connect(m_engine, &Engine::chatDelivered, this, &Node::chatDelivered);
    connect(m_engine, &Engine::rttMeasured, this, &Node::rttMeasured);
    connect(m_engine, &Engine::transferUpdated, this, &Node::transferUpdated);
    connect(m_engine, &Engine::allDone, this, &Node::allDone);
    connect(m_engine, &Engine::logLine, this, &Node::logLine);
    m_thread.start();
}

Node::~Node()
{
    // Everything ends on the network thread, in this order: the engine says goodbye and closes
    // its sockets, is deleted with whatever it scheduled for deletion, OpenSSL's per-thread
    // state is released there (left to the thread-exit hook, it raced OpenSSL's process-exit
    // cleanup: a double free seen under ASan), and only then the thread stops.
    Engine *engine = m_engine;
    QThread *thread = &m_thread;
    QMetaObject::invokeMethod(
        engine,
        [engine, thread] {
            engine->shutdown();
            delete engine;
            QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
            OPENSSL_thread_stop();
            thread->quit();
        },
        Qt::QueuedConnection);
    m_thread.wait();
}

void Node::start(const Settings &settings)
{
    queue([settings](Engine *e) { e->start(settings); });
}

void Node::connectToPeer(const QString &codeOrAddresses)
{
    queue([codeOrAddresses](Engine *e) { e->connectToPeer(codeOrAddresses); });
}

void Node::answerRequest(const QByteArray &fingerprint, bool accept)
{
    queue([fingerprint, accept](Engine *e) { e->answerRequest(fingerprint, accept); });
}

void Node::newCode()
{
    queue([](Engine *e) { e->newCode(); });
}

void Node::reconnectFriend(const QByteArray &fingerprint)
{
    queue([fingerprint](Engine *e) { e->reconnectFriend(fingerprint); });
}

void Node::cancelConnect(const QByteArray &fingerprint)
{
    queue([fingerprint](Engine *e) { e->cancelConnect(fingerprint); });
}

void Node::disconnectFriend(const QByteArray &fingerprint)
{
    queue([fingerprint](Engine *e) { e->disconnectFriend(fingerprint); });
}

void Node::forgetFriend(const QByteArray &fingerprint)
{
    queue([fingerprint](Engine *e) { e->forgetFriend(fingerprint); });
}

QString Node::sendChat(const QByteArray &fingerprint, const QString &text)
{
    const QString id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    queue([fingerprint, id, text](Engine *e) { e->sendChat(fingerprint, id, text); });
    return id;
}

void Node::requestDone()
{
    queue([](Engine *e) { e->requestDone(); });
}

QString Node::sendPaths(const QByteArray &fingerprint, const QStringList &paths)
{
    const QString id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    queue([fingerprint, id, paths](Engine *e) { e->sendPaths(fingerprint, id, paths); });
    return id;
}

void Node::acceptTransfer(const QByteArray &fingerprint, const QString &transferId, bool accept)
{
    queue([fingerprint, transferId, accept](
              Engine *e) { e->acceptTransfer(fingerprint, transferId, accept); });
}

void Node::cancelTransfer(const QByteArray &fingerprint, const QString &transferId)
{
    queue([fingerprint, transferId](Engine *e) { e->cancelTransfer(fingerprint, transferId); });
}

void Node::updateSettings(const Settings &settings)
{
    queue([settings](Engine *e) { e->updateSettings(settings); });
}

} // namespace Punchline
