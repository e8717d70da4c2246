#pragma once
// The device's TURN relays: one TurnClient per configured server, started again with backoff
// when it fails or its allocation is lost, the same peer permissions on all of them, and the
// relayed addresses and a status in plain words for the code and the window. Every relayed
// connection (a friend dialing one of our relayed addresses) comes out as a descriptor.
//
// Lives on the network thread; nothing here blocks.

#include "common/types.h"
#include "reach/turnclient.h"

#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

class QTimer;

namespace Punchline {

class RelayPool : public QObject
{
    Q_OBJECT
public:
    struct Options
    {
        TurnClient::Options client;
        // After a failure or a lost allocation: first retry, doubled up to the maximum.
        int retryMinMs = 2000;
        int retryMaxMs = 60000;
    };

    // servers: "turn:USER:PASS@HOST:PORT" texts (see parseTurnServer()). Ones that cannot be
    // read are reported by start() (errorOccurred, BadUsage) and left out.
    explicit RelayPool(const QStringList &servers, QObject *parent = nullptr);
    RelayPool(const QStringList &servers, const Options &options, QObject *parent = nullptr);
    ~RelayPool() override;

    void start();
    void stop(); // no signals afterwards

    // The IP addresses our friends may reach us from (their public and local candidates).
    void setPermissions(const QList<QHostAddress> &peers);

    // The relayed addresses friends can dial now (in the order the servers were given).
    QList<Endpoint> relayedEndpoints() const;
    // Every TURN server address we have been connected to: relayed connections come from these.
    const QList<Endpoint> &serverEndpoints() const { return m_serverEndpoints; }
    // One line per server in plain words, e.g. "TURN server 198.51.100.10:3478 relays for you
    // at 198.51.100.10:50312" or why it does not.
    QString status() const;
    // Every server has answered at least once (allocated or failed): the code is complete.
    bool settled() const;
    int serverCount() const { return int(m_slots.size()); }

Q_SIGNALS:
    // relayedEndpoints(), serverEndpoints(), status() or settled() changed.
    void changed();
    // A friend reached us through a relay; the receiver owns fd and uses server as its remote
    // (see TurnClient::dataConnection).
    void dataConnection(
        qintptr fd, const Punchline::Endpoint &peer, const Punchline::Endpoint &server);
    // A server refused us or was lost: once per server and distinct message (no flood while
    // retrying), never with credentials.
    void errorOccurred(const Punchline::Error &error);
    void logLine(const QString &line);

private:
    struct Slot;
    void startSlot(Slot *slot);
    void onSlotDown(Slot *slot, const Error &error);

    const Options m_options;
    QList<Slot *> m_slots;
    QStringList m_unreadable; // sentences about server texts that could not be read
    QList<QHostAddress> m_permissions;
    QList<Endpoint> m_serverEndpoints;
    bool m_started = false;
    const QStringList m_texts;
};

} // namespace Punchline
