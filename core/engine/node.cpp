#include "node.h"

#include "engine.h"

#include <QCoreApplication>
#include <QUuid>
#include <openssl/crypto.h>

namespace Punchline {

void registerMetaTypes()
{
    qRegisterMetaType<State>();
    qRegisterMetaType<Error>();
    qRegisterMetaType<LocalInfo>();
    qRegisterMetaType<ConnectionInfo>();
    qRegisterMetaType<ConnectProgress>();
    qRegisterMetaType<ChatMessage>();
    qRegisterMetaType<TransferInfo>();
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
    QMetaObject::invokeMethod(
        m_engine, [e = m_engine, settings] { e->start(settings); }, Qt::QueuedConnection);
}

void Node::connectToPeer(const QString &codeOrAddresses)
{
    QMetaObject::invokeMethod(
        m_engine, [e = m_engine, codeOrAddresses] { e->connectToPeer(codeOrAddresses); },
        Qt::QueuedConnection);
}

void Node::reconnectKnownPeer(const QByteArray &fingerprint)
{
    QMetaObject::invokeMethod(
        m_engine, [e = m_engine, fingerprint] { e->reconnectKnownPeer(fingerprint); },
        Qt::QueuedConnection);
}

void Node::cancelConnect()
{
    QMetaObject::invokeMethod(m_engine, &Engine::cancelConnect, Qt::QueuedConnection);
}

void Node::disconnectFromPeer()
{
    QMetaObject::invokeMethod(m_engine, &Engine::disconnectFromPeer, Qt::QueuedConnection);
}

QString Node::sendChat(const QString &text)
{
    const QString id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    QMetaObject::invokeMethod(
        m_engine, [e = m_engine, id, text] { e->sendChat(id, text); }, Qt::QueuedConnection);
    return id;
}

void Node::requestDone()
{
    QMetaObject::invokeMethod(m_engine, &Engine::requestDone, Qt::QueuedConnection);
}

QString Node::sendPaths(const QStringList &paths)
{
    const QString id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    QMetaObject::invokeMethod(
        m_engine, [e = m_engine, id, paths] { e->sendPaths(id, paths); }, Qt::QueuedConnection);
    return id;
}

void Node::acceptTransfer(const QString &transferId, bool accept)
{
    QMetaObject::invokeMethod(
        m_engine, [e = m_engine, transferId, accept] { e->acceptTransfer(transferId, accept); },
        Qt::QueuedConnection);
}

void Node::cancelTransfer(const QString &transferId)
{
    QMetaObject::invokeMethod(
        m_engine, [e = m_engine, transferId] { e->cancelTransfer(transferId); },
        Qt::QueuedConnection);
}

void Node::updateSettings(const Settings &settings)
{
    QMetaObject::invokeMethod(
        m_engine, [e = m_engine, settings] { e->updateSettings(settings); }, Qt::QueuedConnection);
}

} // namespace Punchline
