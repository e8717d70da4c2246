#pragma once
// The seam between Session (chat, keepalive, hello) and the file-transfer module. Session routes
// every frame of type 0x0100-0x01FF to the handler and pulls bulk data from it only while the
// link has room, so chat and control frames never queue behind more than the link's low-water
// mark of file data.

#include <QByteArray>
#include <QStringList>
#include <QtGlobal>
#include <functional>
#include <optional>
#include <utility>

namespace Punchline {

class TransferHandler
{
public:
    virtual ~TransferHandler() = default;

    static constexpr quint16 FirstType = 0x0100;
    static constexpr quint16 LastType = 0x01FF;

    // Installed by the session: sends a (small) control frame at once.
    using SendControl = std::function<void(quint16 type, const QByteArray &payload)>;
    virtual void setSendControl(SendControl send) = 0;

    // A frame of the transfer range from the peer (already size-checked by the link).
    virtual void handleFrame(quint16 type, const QByteArray &payload) = 0;
    // Next bulk frame (e.g. one file chunk) when there is room on the link; nullopt when idle.
    virtual std::optional<std::pair<quint16, QByteArray>> nextBulkFrame() = 0;
    // The handler has new bulk data: the session should start pulling again.
    std::function<void()> bulkAvailable;

    // What the peer announced in its hello, given before each onLinkUp(). A peer with
    // FlowCapability acknowledges consumed file data, so the sender can bound what is in flight.
    static constexpr const char *FlowCapability = "files-flow/1";
    virtual void setPeerCapabilities(const QStringList &capabilities) { Q_UNUSED(capabilities); }

    // A secure link to the peer is up (after hello) / went away (transfers pause, resume later).
    virtual void onLinkUp() = 0;
    virtual void onLinkDown() = 0;
    // Nothing in flight in either direction (used by the "both sides done" handshake).
    virtual bool isIdle() const = 0;
};

} // namespace Punchline
