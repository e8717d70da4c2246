#include "dialer.h"

#include "common/logging.h"
#include "nativesocket.h"

#include <QSocketNotifier>
#include <cerrno>
#include <cstring>

namespace Punchline::Net {

Dialer::Dialer(quint16 localPort, const Endpoint &remote, const Options &options, QObject *parent)
    : QObject(parent)
    , m_localPort(localPort)
    , m_remote(remote)
    , m_options(options)
{
    m_timeout.setSingleShot(true);
    connect(&m_timeout, &QTimer::timeout, this, [this] {
        if (m_fd >= 0 && isSynReceived(m_fd) && m_extensions < 3) {
            ++m_extensions; // half-way through a simultaneous open: give it time to finish
            m_timeout.start(m_options.timeoutMs);
            return;
        }
        fail(ETIMEDOUT, QStringLiteral("no answer from %1").arg(m_remote.toString()));
    });
    m_ttlTimer.setSingleShot(true);
    connect(&m_ttlTimer, &QTimer::timeout, this, [this] {
        if (m_fd >= 0)
            setTtl(m_fd, -1);
    });
}

Dialer::~Dialer()
{
    abort();
}

void Dialer::start()
{
    const NativeResult r = startConnect(m_localPort, m_remote, m_options.ttl);
    if (!r.ok()) {
        // Report asynchronously so callers never see a signal from inside start().
        const int err = r.err;
        const QString message = r.message;
        QMetaObject::invokeMethod(
            this, [this, err, message] { fail(err, message); }, Qt::QueuedConnection);
        return;
    }
    m_fd = r.fd;
    m_notifier = new QSocketNotifier(m_fd, QSocketNotifier::Write, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &Dialer::onWritable);
    m_timeout.start(m_options.timeoutMs);
    if (m_options.ttl > 0 && m_options.restoreTtlAfterMs >= 0)
        m_ttlTimer.start(m_options.restoreTtlAfterMs);
}

void Dialer::abort()
{
    m_timeout.stop();
    m_ttlTimer.stop();
    if (m_notifier) {
        m_notifier->setEnabled(false);
        m_notifier->deleteLater();
        m_notifier = nullptr;
    }
    if (m_fd >= 0) {
        setAbortiveClose(m_fd); // no TIME_WAIT: the same 4-tuple may be dialed again at once
        closeFd(m_fd);
        m_fd = -1;
    }
}

void Dialer::onWritable()
{
    const int err = pendingError(m_fd);
    if (err != 0) {
        fail(err,
            QStringLiteral("connect to %1 failed: %2")
                .arg(m_remote.toString(), QString::fromLocal8Bit(std::strerror(err))));
        return;
    }
    const qintptr fd = m_fd;
    m_fd = -1; // ownership passes on
    abort();
    if (m_options.ttl > 0)
        setTtl(fd, -1);
    qCDebug(lcNet) << "connected" << localEndpoint(fd).toString() << "->" << m_remote.toString();
    Q_EMIT connected(fd);
}

void Dialer::fail(int err, const QString &message)
{
    abort();
    Q_EMIT failed(err, message);
}

} // namespace Punchline::Net
