#pragma once
// One non-blocking connect from the shared local port, watched with a QSocketNotifier, so the
// result (connected descriptor or errno) is known exactly, ICMP-induced failures included.

#include "common/endpoint.h"

#include <QObject>
#include <QTimer>

class QSocketNotifier;

namespace Punchline::Net {

class Dialer : public QObject
{
    Q_OBJECT
public:
    struct Options
    {
        int timeoutMs = 5000; // give up this attempt after this long (kernel retransmits inside)
        int ttl = 0; // > 0: send the SYN with this TTL (STUNT-style low-TTL SYN)
        int restoreTtlAfterMs = -1; // >= 0: reset the TTL to the default after this long
    };

    Dialer(quint16 localPort, const Endpoint &remote, const Options &options,
        QObject *parent = nullptr);
    ~Dialer() override;

    // Starts the connect. Emits connected() or failed() later (never from inside start()).
    void start();
    void abort();

Q_SIGNALS:
    // The receiver owns fd (wrap it in a QTcpSocket/QSslSocket or close it).
    void connected(qintptr fd);
    // err: errno (ETIMEDOUT on our own timeout); message: a sentence.
    void failed(int err, const QString &message);

private:
    void onWritable();
    void fail(int err, const QString &message);

    quint16 m_localPort;
    Endpoint m_remote;
    Options m_options;
    qintptr m_fd = -1;
    QSocketNotifier *m_notifier = nullptr;
    QTimer m_timeout;
    QTimer m_ttlTimer;
    int m_extensions = 0;
};

} // namespace Punchline::Net
