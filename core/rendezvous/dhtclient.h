#pragma once
// DhtClient: a node of OpenDHT (the distributed hash table Jami runs on) for the friend finder.
// It lives on the network thread and only signals into it: OpenDHT runs its own thread, and
// every callback from there is posted here as a queued call (dropped once this object is gone).
//
// It knows nothing about Punchline's records: keys are 20-byte hashes, values opaque bytes. What
// it guarantees to the caller is bounded work for whatever the public DHT holds at a key: values
// over MaxValueBytes are never copied out of OpenDHT, and at most MaxValuesPerBatch values of one
// callback are passed on (a flood at a listened key costs at most that much per callback).

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>
#include <memory>

class QTimer;

namespace Punchline {

class DhtClient : public QObject
{
    Q_OBJECT
public:
    static constexpr int KeyBytes = 20;
    static constexpr int MaxValueBytes = 1024;
    static constexpr int MaxValuesPerBatch = 64;
    static constexpr int MaxListens = 256;
    // How long without any good node before the finder counts as offline.
    static constexpr int OfflineAfterMs = 8000;
    // At stop(), how long the last puts and OpenDHT's shutdown may take (each).
    static constexpr int FlushMs = 800;

    struct Options
    {
        quint16 port = 0; // UDP; 0: any free port
        QStringList bootstrap; // "host:port"; empty: local peer discovery only
        bool localDiscovery = true; // find DHT nodes on the LAN (multicast), as Jami's LAN mode
    };

    explicit DhtClient(QObject *parent = nullptr);
    ~DhtClient() override;

    void start(const Options &options);
    // Leaves the DHT (bounded wait for OpenDHT's thread). No signals afterwards.
    void stop();

    bool isRunning() const;
    bool isOnline() const { return m_online; }
    quint16 boundPort() const;

    // Publishes value at key until cancelPut() or stop(); OpenDHT refreshes it before the DHT
    // expires it (10 minutes). A new value with the same id replaces the old one.
    void put(const QByteArray &key, const QByteArray &value, quint64 id);
    void cancelPut(const QByteArray &key, quint64 id);
    // Values at key (now and as they come) arrive as valuesReceived(key, ...); values that expire
    // arrive with expired = true. False if MaxListens keys are listened to already.
    bool listen(const QByteArray &key);
    void cancelListen(const QByteArray &key);
    bool isListening(const QByteArray &key) const;

    // Traffic counters of OpenDHT's socket are not exposed; what we hand it is counted here.
    qint64 valuesSeen() const { return m_valuesSeen; }
    qint64 valuesDropped() const { return m_valuesDropped; }

Q_SIGNALS:
    void valuesReceived(const QByteArray &key, const QList<QByteArray> &values, bool expired);
    void onlineChanged(bool online, const QString &status);

private:
    struct Impl;
    void deliver(const QByteArray &key, const QList<QByteArray> &values, bool expired, int dropped);
    void pollStatus();

    std::unique_ptr<Impl> m_impl;
    QTimer *m_statusTimer = nullptr;
    bool m_online = false;
    bool m_everOnline = false;
    qint64 m_offlineSinceMs = 0;
    qint64 m_valuesSeen = 0;
    qint64 m_valuesDropped = 0;
    bool m_localOnly = false;
};

} // namespace Punchline
