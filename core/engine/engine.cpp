#include "engine.h"

namespace Punchline {

struct Engine::Private
{
};

Engine::Engine(QObject *parent) : QObject(parent), d(std::make_unique<Private>()) { }
Engine::~Engine() = default;
void Engine::start(const Settings &) { }
void Engine::connectToPeer(const QString &) { }
void Engine::reconnectKnownPeer(const QByteArray &) { }
void Engine::cancelConnect() { }
void Engine::disconnectFromPeer() { }
void Engine::sendChat(const QString &, const QString &) { }
void Engine::requestDone() { }
void Engine::sendPaths(const QString &, const QStringList &) { }
void Engine::acceptTransfer(const QString &, bool) { }
void Engine::cancelTransfer(const QString &) { }
void Engine::updateSettings(const Settings &) { }
void Engine::shutdown() { }

} // namespace Punchline
