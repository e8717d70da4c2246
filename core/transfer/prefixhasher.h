#pragma once
// Hashes the first N bytes of an open file in slices from the event loop, so that checking a
// multi-GiB resume prefix does not freeze chat and keepalives on the network thread.

#include "common/sha256.h"
#include "common/types.h"

#include <QObject>
#include <QTimer>
#include <functional>

namespace Punchline {

class PrefixHasher : public QObject
{
    Q_OBJECT
public:
    static constexpr qint64 SliceBytes = 8 * 1024 * 1024; // per event-loop turn

    // On success `state` has hashed exactly the prefix and can keep going with the rest.
    using Done = std::function<void(const Sha256 &state, const Error &error)>;

    // Takes ownership of fd (read from its start).
    PrefixHasher(int fd, qint64 length, QObject *parent = nullptr);
    ~PrefixHasher() override;

    void start(Done done);
    // No callback after this; the owner then deleteLater()s the object.
    void cancel();

private:
    void step();

    int m_fd = -1;
    qint64 m_length = 0;
    qint64 m_done = 0;
    Sha256 m_hash;
    QByteArray m_buffer;
    QTimer m_timer;
    Done m_callback;
};

} // namespace Punchline
