#pragma once
// IncomingDispatcher: the first stop of every connection the shared-port listener accepts. It
// reads the peer's preamble (exact, unbuffered: no TLS byte is consumed) and hands the socket,
// with the fingerprint it claims, to whoever the engine routes that fingerprint to (one friend's
// puncher, or the trust-on-first-use attempt), which answers with our preamble. The claim is not
// trusted: TLS proves it later, on that friend's side.
//
// Anyone who can reach the port can connect, so the dispatcher bounds what strangers cost: at
// most MaxPerSource connections per source address and MaxTotal in all wait for their preamble
// (more are closed at accept, as KDE Connect had to after CVE-2020-26164), each for at most
// PreambleTimeoutMs; and what was dropped is reported as one summary per SummaryIntervalMs
// ("12 connections from strangers dropped in the last 10 s") rather than one error each, so a
// flood cannot flood the user (or the CLI's event stream) too.

#include "common/types.h"

#include <QHash>
#include <QHostAddress>
#include <QObject>
#include <QTimer>
#include <optional>

class QSslSocket;

namespace Punchline {

class IncomingDispatcher : public QObject
{
    Q_OBJECT
public:
    struct Limits
    {
        int maxPerSource = 8;
        int maxTotal = 64;
        int preambleTimeoutMs = 5000;
        int summaryIntervalMs = 10000;
    };

    explicit IncomingDispatcher(const QByteArray &ourFingerprint, QObject *parent = nullptr);
    explicit IncomingDispatcher(
        const QByteArray &ourFingerprint, const Limits &limits, QObject *parent = nullptr);
    ~IncomingDispatcher() override;

    // A connection from the listener; the dispatcher owns fd from now on.
    void addConnection(qintptr fd);
    // A connection that came through a relay over a local bridge (a turns: data connection is
    // a socketpair end, whose own peer address is empty): the socket reports remote (the relay
    // server) as its peer, so logs, the per-source limit and the path (relay) see the server.
    void addRelayedConnection(qintptr fd, const Endpoint &remote);
    // A connection nobody wanted (after routing), or one that failed later for a reason that
    // belongs in the strangers' summary. detail goes to the log only.
    void noteStranger(const QString &detail);
    int pendingCount() const { return int(m_pending.size()); }
    int droppedSinceStart() const { return m_droppedTotal; }

Q_SIGNALS:
    // The peer's preamble was read; the receiver owns socket (plain mode, unbuffered, parented to
    // nothing) and must use or delete it.
    void arrived(QSslSocket *socket, const QByteArray &claimedFingerprint);
    // At most once per summary interval, when strangers were dropped in it.
    void strangersDropped(int count, const QString &summary);
    void logLine(const QString &line);

private:
    struct Pending;
    void add(qintptr fd, const std::optional<Endpoint> &remote);
    void onReadable(Pending *p);
    void drop(Pending *p, const QString &detail);
    void release(Pending *p);
    void flushSummary();

    QByteArray m_ourFingerprint;
    Limits m_limits;
    QList<Pending *> m_pending;
    QHash<QString, int> m_perSource;
    QTimer m_summaryTimer;
    int m_dropped = 0; // in the current summary interval
    int m_droppedTotal = 0;
    QString m_lastDetail;
};

} // namespace Punchline
