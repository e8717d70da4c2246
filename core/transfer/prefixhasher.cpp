#include "prefixhasher.h"

#include "safedir.h"
#include "transferprotocol.h"

#include <cerrno>
#include <unistd.h>

namespace Punchline {

PrefixHasher::PrefixHasher(int fd, qint64 length, QObject *parent)
    : QObject(parent)
    , m_fd(fd)
    , m_length(length)
{
    m_timer.setInterval(0);
    connect(&m_timer, &QTimer::timeout, this, &PrefixHasher::step);
}

PrefixHasher::~PrefixHasher()
{
    if (m_fd >= 0)
        ::close(m_fd);
}

void PrefixHasher::start(Done done)
{
    m_callback = std::move(done);
    m_buffer.resize(TransferProtocol::ChunkSize);
    m_timer.start();
}

void PrefixHasher::cancel()
{
    m_timer.stop();
    m_callback = nullptr;
}

void PrefixHasher::step()
{
    Error error;
    qint64 slice = 0;
    while (m_done < m_length && slice < SliceBytes) {
        const qint64 want = qMin<qint64>(m_buffer.size(), m_length - m_done);
        const ssize_t got = ::pread(m_fd, m_buffer.data(), size_t(want), off_t(m_done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            error = got < 0
                ? SafeDir::errnoError(errno, QStringLiteral("cannot read a file to check it"))
                : Error { ErrorCode::FileError,
                      QStringLiteral("A file became shorter while it was checked.") };
            break;
        }
        m_hash.addData(m_buffer.constData(), got);
        m_done += got;
        slice += got;
    }
    if (m_done < m_length && !error.isError())
        return; // next slice on the next event-loop turn
    m_timer.stop();
    ::close(m_fd);
    m_fd = -1;
    m_buffer = QByteArray();
    if (Done callback = std::exchange(m_callback, nullptr))
        callback(m_hash, error); // may deleteLater() us: nothing after this
}

} // namespace Punchline
