#pragma once
// A QTcpServer on a descriptor made by Net::openListener (so it shares the port with outgoing
// connects). Accepted connections are handed out as raw descriptors: the punching code wraps
// them in QSslSocket itself.

#include <QTcpServer>

namespace Punchline::Net {

class SharedPortServer : public QTcpServer
{
    Q_OBJECT
public:
    using QTcpServer::QTcpServer;

Q_SIGNALS:
    void incoming(qintptr fd); // the receiver owns fd

protected:
    void incomingConnection(qintptr fd) override { Q_EMIT incoming(fd); }
};

} // namespace Punchline::Net
