#pragma once
// Asks the home router to forward the profile's TCP port to this computer (NAT-PMP first, UPnP
// IGD otherwise), renews the lease at half its life and removes the mapping on stop(). Lives on
// the thread that made it (the network thread); every router call blocks, so each backend runs
// on a thread of its own and its answers come back as queued signals.

#include "common/endpoint.h"
#include "reach/mappingbackend.h"

#include <QHostAddress>
#include <QMetaType>
#include <QObject>
#include <QString>
#include <QTimer>
#include <memory>
#include <optional>
#include <vector>

class QThread;

namespace Punchline {

class BackendRunner;

struct PortMapStatus
{
    enum class State { Off, Searching, Mapped, Unavailable };
    State state = State::Off;
    MappingProtocol protocol = MappingProtocol::None;
    quint16 externalPort = 0; // Mapped
    QHostAddress routerAddress; // the router's own WAN address, null if it did not say
    // Mapped with a WAN address the Internet can reach: the endpoint friends may dial.
    std::optional<Endpoint> external;
    quint32 leaseSeconds = 0; // 0: permanent
    QString text; // plain words for the user
};

class PortMapper : public QObject
{
    Q_OBJECT
public:
    struct Options
    {
        quint32 leaseSeconds = 3600; // asked for; NAT-PMP routers may grant less
        int stopWaitMs = 1000; // how long stop() waits for the router to drop the mapping
        int retryMs = 5 * 60 * 1000; // next search after nothing worked or a renewal failed
        // A permanent mapping (lease 0) is asked for again this often: a rebooted router forgets
        // it.
        int permanentRenewMs = 30 * 60 * 1000;
    };

    // NAT-PMP then UPnP: the order of preference.
    static std::vector<std::unique_ptr<MappingBackend>> systemBackends();

    explicit PortMapper(
        std::vector<std::unique_ptr<MappingBackend>> backends, QObject *parent = nullptr);
    PortMapper(std::vector<std::unique_ptr<MappingBackend>> backends, Options options,
        QObject *parent = nullptr);
    ~PortMapper() override; // stop()

    // Asks every backend at once; the first in order of preference that finds a router maps.
    void start(quint16 internalPort);
    // Removes the mapping (waits at most Options::stopWaitMs for the router) and ends the
    // backend threads; a backend still blocked in a router call is left to finish on its own.
    // Final: the mapper cannot start again. Emits nothing.
    void stop();

    const PortMapStatus &status() const { return m_status; }

Q_SIGNALS:
    void statusChanged(const Punchline::PortMapStatus &status);

private:
    struct Slot;
    enum class Probe { Idle, Running, Found, Failed };

    void search();
    void advance();
    void requestMap(int slot, quint16 externalPort);
    void onProbed(int slot, int generation, const RouterAnswer &answer);
    void onMapped(int slot, int generation, const MappingAnswer &answer);
    void setStatus(PortMapStatus status);
    void giveUp(const QString &text);

    Options m_options;
    std::vector<std::unique_ptr<Slot>> m_slots;
    quint16 m_port = 0;
    int m_generation = 0;
    int m_active = -1; // slot mapping or holding the mapping
    bool m_holding = false; // the router holds (or may hold) a mapping of ours
    quint16 m_externalPort = 0;
    bool m_stopped = false;
    QTimer m_renewTimer;
    QTimer m_retryTimer;
    PortMapStatus m_status;
};

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::PortMapStatus)
