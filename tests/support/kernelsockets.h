#pragma once
// What the kernel still holds for a TCP port (Linux's /proc/net/tcp and tcp6): after a program
// closed a connection, a socket left in FIN_WAIT or TIME_WAIT keeps that 4-tuple busy.

#include <QFile>
#include <QStringList>

namespace Punchline::TestSupport {

// The hex state ("01" ESTABLISHED, "04" FIN_WAIT1, "05" FIN_WAIT2, "06" TIME_WAIT, "08"
// CLOSE_WAIT, ...) of every TCP socket whose local port is localPort (and, if given, whose
// remote port is remotePort).
inline QStringList kernelTcpStates(quint16 localPort, quint16 remotePort = 0)
{
    const auto portOf = [](const QByteArray &address) {
        return quint16(address.mid(address.lastIndexOf(':') + 1).toUInt(nullptr, 16));
    };
    QStringList states;
    for (const char *table : { "/proc/net/tcp", "/proc/net/tcp6" }) {
        QFile f(QString::fromLatin1(table));
        if (!f.open(QIODevice::ReadOnly))
            continue;
        f.readLine(); // header
        while (!f.atEnd()) {
            const QList<QByteArray> cols = f.readLine().simplified().split(' ');
            if (cols.size() < 4 || portOf(cols.at(1)) != localPort)
                continue;
            if (remotePort == 0 || portOf(cols.at(2)) == remotePort)
                states << QString::fromLatin1(cols.at(3));
        }
    }
    return states;
}

inline bool kernelTcpStatesReadable()
{
    return QFile::exists(QStringLiteral("/proc/net/tcp"));
}

} // namespace Punchline::TestSupport
