#pragma once
// Value types that cross the thread boundary between the network worker and its users
// (window, CLI, tests). All are copyable and registered as metatypes.

#include "endpoint.h"

#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <optional>

namespace Punchline {

// The device's state (Node::stateChanged: Idle, Discovering, Ready, Failed) and each friend's
// (Node::friendStateChanged: Idle = offline, Connecting ... Failed).
enum class State {
    Idle,
    Discovering, // binding the port, asking STUN servers
    Ready, // addresses known, waiting for the peer's code
    Connecting, // punching: attempts running
    Securing, // TCP up, TLS handshake + hello running
    Connected, // secure session usable
    Reconnecting, // lost the link, punching the last known candidates again
    Disconnected, // closed on purpose
    Failed, // gave up; see the error
};
QString stateName(State s); // "idle", "discovering", ... (stable, used in JSON)

enum class ErrorCode {
    None,
    BadUsage, // CLI usage
    BadCode, // the pasted code/addresses cannot be read
    CodeChecksum, // a character of the code was changed or lost
    CodeVersion, // code from a newer/unknown version
    PortInUse,
    SocketError,
    StunFailed, // no STUN server answered
    IpEchoFailed,
    NoPublicAddress, // neither STUN nor IP echo: only local candidates
    SymmetricNat, // our NAT (or the peer's) maps per destination
    ConnectTimeout, // no attempt succeeded before the deadline
    NotPunchline, // the other end does not speak Punchline
    ProtocolError, // malformed frame, downgrade, oversize, ...
    PeerIdentityMismatch, // someone else answered at the peer's address
    ConnectedToSelf,
    TlsError,
    PeerLost, // keepalive timeout / reset
    PeerClosed,
    ReconnectTimeout,
    IdentityError, // profile key/cert could not be made or read
    FileError, // transfer-side disk errors
    DiskFull,
    TransferRejected, // unsafe name, more bytes than announced, ...
    Canceled,
    StrangerDropped, // connections from strangers were dropped (a summary, not one each)
    Internal,
    // Added after 0.x: keep the order above stable (names, not numbers, go into JSON).
    CodeExpired, // the invitation in the code has expired
    CodeRevoked, // the friend made a new code: this one no longer works
    RequestDeclined, // the friend declined our request to connect
    RendezvousOffline, // no DHT node answers: friends cannot find each other by themselves
    PortMappingFailed, // the router refused or does not offer port mapping
    RelayFailed, // a TURN server refused or failed
    BadRecord, // a DHT value that is not ours, forged, replayed or damaged
    RecordVersion, // an authentic rendezvous record from a newer Punchline
};
QString errorCodeName(ErrorCode c); // "symmetric-nat", ... (stable, used in JSON)

struct Error
{
    ErrorCode code = ErrorCode::None;
    QString message; // a sentence a person understands
    bool isError() const { return code != ErrorCode::None; }
};

enum class PathKind { Lan, Direct, Mapped, Relay };
QString pathName(PathKind p); // "lan" | "direct" | "mapped" | "relay"

// Where to reach a friend, by kind: interface and public (STUN) addresses, endpoints a router
// mapped for the friend (UPnP / NAT-PMP), and addresses a TURN server relays to the friend. A
// connection through one of the mapped or relay endpoints reports that path.
struct PeerTargets
{
    QList<Endpoint> direct;
    QList<Endpoint> mapped;
    QList<Endpoint> relays;

    bool isEmpty() const { return direct.isEmpty() && mapped.isEmpty() && relays.isEmpty(); }
    QList<Endpoint> all() const { return direct + mapped + relays; }
    friend bool operator==(const PeerTargets &a, const PeerTargets &b)
    {
        return a.direct == b.direct && a.mapped == b.mapped && a.relays == b.relays;
    }
};

// How two friends found each other for the current attempt.
enum class FoundVia { Paste, Dht };
QString foundViaName(FoundVia v); // "paste" | "dht"

enum class NatKind { Unknown, EndpointIndependent, EndpointDependent };
QString natName(NatKind n); // "unknown" | "endpoint-independent" | "endpoint-dependent"

enum class PublicSource { None, Stun, IpEcho };
QString publicSourceName(PublicSource s); // "none" | "stun" | "ip-echo"

// What discovery found: shown in the window, printed by the CLI, put into the code.
struct LocalInfo
{
    quint16 port = 0;
    QList<Endpoint> local; // every usable interface address with our port
    std::optional<Endpoint> publicEndpoint;
    PublicSource publicSource = PublicSource::None;
    bool publicPortGuessed = false; // IP echo only: port assumed preserved
    NatKind nat = NatKind::Unknown;
    QString explanation; // plain words for the user (why no public address, ...)
    QString code; // this side's Punchline code
    QString displayName;
    QByteArray fingerprint; // SHA-256 of our certificate (32 bytes)
    // Router port mapping (UPnP IGD / NAT-PMP): the public endpoint, and plain words
    // ("your router opened port 41002 (UPnP)", "your router does not offer port mapping").
    std::optional<Endpoint> mappedEndpoint;
    QString mappingStatus;
    QString mappingProtocol; // "UPnP" | "NAT-PMP" while mapped, else empty
    // TURN relays (RFC 6062): the relayed addresses friends can dial, and plain words.
    QList<Endpoint> relayEndpoints;
    QString relayStatus;
    QStringList stunAnswered; // "host:port" of every STUN server that answered
    // The code's invitation (one-way paste through the DHT): when it stops working (UTC;
    // invalid: no invitation, i.e. the friend finder is off).
    QDateTime codeExpires;
    bool codeSingleUse = false;
    // The friend finder (OpenDHT): online (some node answers), with plain words.
    bool dhtEnabled = false;
    bool dhtOnline = false;
    QString dhtStatus;
};

// Someone holding our code asks to connect (one-way paste, through the DHT). Accept or decline
// with Node::answerRequest(fingerprint, bool). The fingerprint is what the requester claims; a
// TLS handshake pinned to it proves it once we connect.
struct FriendRequest
{
    QByteArray fingerprint;
    QString name; // filtered
    QDateTime received; // UTC
};

struct ConnectionInfo
{
    PathKind path = PathKind::Direct;
    Endpoint local;
    Endpoint remote;
    qint64 elapsedMs = 0; // from peer code available to usable session
    QString peerName;
    QByteArray peerFingerprint;
    bool peerPinnedByCode = false; // false: trust on first use (plain addresses)
    bool resumed = false; // true after healing a lost link
    FoundVia via = FoundVia::Paste; // how this attempt found the friend
};

struct ConnectProgress
{
    int attempts = 0; // connects started so far
    int candidates = 0;
    qint64 sinceMs = 0; // since punching (or reconnecting) started
};

struct ChatMessage
{
    QString id;
    QString text;
    QDateTime time;
    bool outgoing = false;
    bool delivered = false;
};

// One friend as the conversation list shows it (Node::friendsChanged). The fingerprint (SHA-256 of
// the friend's certificate, 32 bytes) is the friend's id in every call and signal of Node.
struct FriendInfo
{
    QByteArray fingerprint;
    QString name; // the name the friend gave itself (filtered), or from the code
    State state = State::Idle; // Idle: offline (not trying); Connecting, Securing, Connected,
                               // Reconnecting, Disconnected (closed on purpose), Failed (gave up)
    bool pathKnown = false; // connected: path/remote below are valid
    PathKind path = PathKind::Direct;
    Endpoint remote;
    QDateTime lastSeen; // last time a session with this friend was up (UTC); invalid: never
    bool pinnedByCode = false; // false: accepted on first use from plain addresses
    Error lastError; // why the last attempt or link ended (None if it did not fail)
    // Presence from the friend's DHT records: online now (a fresh record), and since when it
    // is online or offline (UTC; invalid: not known).
    bool online = false;
    QDateTime presenceSince;
    FoundVia via = FoundVia::Paste; // how the current or last attempt found the friend
};

enum class TransferDirection { In, Out };
enum class TransferState { Offered, Accepted, Progress, Done, Failed, Canceled, Declined };
QString transferStateName(TransferState s);

struct TransferFile
{
    QString relativePath; // '/'-separated, validated
    qint64 size = 0;
};

struct TransferInfo
{
    QString id;
    TransferDirection direction = TransferDirection::Out;
    QString name; // display name of the offer (first item or "N items")
    QList<TransferFile> files;
    qint64 bytes = 0; // done so far (all files)
    qint64 total = 0;
    TransferState state = TransferState::Offered;
    qint64 resumedFrom = -1; // >=0 when continuing from partial data
    double rateBytesPerSec = 0;
    qint64 etaMs = -1;
    QString path; // when done: where it landed (receiver) / what was sent
    QString sha256; // when done (hex, of the single file or of the manifest)
    qint64 elapsedMs = 0; // accept to verified
    Error error;
};

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::State)
Q_DECLARE_METATYPE(Punchline::Error)
Q_DECLARE_METATYPE(Punchline::LocalInfo)
Q_DECLARE_METATYPE(Punchline::ConnectionInfo)
Q_DECLARE_METATYPE(Punchline::ConnectProgress)
Q_DECLARE_METATYPE(Punchline::ChatMessage)
Q_DECLARE_METATYPE(Punchline::TransferInfo)
Q_DECLARE_METATYPE(Punchline::FriendInfo)
Q_DECLARE_METATYPE(QList<Punchline::FriendInfo>)
Q_DECLARE_METATYPE(Punchline::FriendRequest)
