#include "types.h"

namespace Punchline {

QString stateName(State s)
{
    switch (s) {
    case State::Idle:
        return QStringLiteral("idle");
    case State::Discovering:
        return QStringLiteral("discovering");
    case State::Ready:
        return QStringLiteral("ready");
    case State::Connecting:
        return QStringLiteral("connecting");
    case State::Securing:
        return QStringLiteral("securing");
    case State::Connected:
        return QStringLiteral("connected");
    case State::Reconnecting:
        return QStringLiteral("reconnecting");
    case State::Disconnected:
        return QStringLiteral("disconnected");
    case State::Failed:
        return QStringLiteral("failed");
    }
    return QStringLiteral("unknown");
}

QString errorCodeName(ErrorCode c)
{
    switch (c) {
    case ErrorCode::None:
        return QStringLiteral("none");
    case ErrorCode::BadUsage:
        return QStringLiteral("bad-usage");
    case ErrorCode::BadCode:
        return QStringLiteral("bad-code");
    case ErrorCode::CodeChecksum:
        return QStringLiteral("code-checksum");
    case ErrorCode::CodeVersion:
        return QStringLiteral("code-version");
    case ErrorCode::PortInUse:
        return QStringLiteral("port-in-use");
    case ErrorCode::SocketError:
        return QStringLiteral("socket-error");
    case ErrorCode::StunFailed:
        return QStringLiteral("stun-failed");
    case ErrorCode::IpEchoFailed:
        return QStringLiteral("ip-echo-failed");
    case ErrorCode::NoPublicAddress:
        return QStringLiteral("no-public-address");
    case ErrorCode::SymmetricNat:
        return QStringLiteral("symmetric-nat");
    case ErrorCode::ConnectTimeout:
        return QStringLiteral("connect-timeout");
    case ErrorCode::NotPunchline:
        return QStringLiteral("not-punchline");
    case ErrorCode::ProtocolError:
        return QStringLiteral("protocol-error");
    case ErrorCode::PeerIdentityMismatch:
        return QStringLiteral("peer-identity-mismatch");
    case ErrorCode::ConnectedToSelf:
        return QStringLiteral("connected-to-self");
    case ErrorCode::TlsError:
        return QStringLiteral("tls-error");
    case ErrorCode::PeerLost:
        return QStringLiteral("peer-lost");
    case ErrorCode::PeerClosed:
        return QStringLiteral("peer-closed");
    case ErrorCode::ReconnectTimeout:
        return QStringLiteral("reconnect-timeout");
    case ErrorCode::IdentityError:
        return QStringLiteral("identity-error");
    case ErrorCode::FileError:
        return QStringLiteral("file-error");
    case ErrorCode::DiskFull:
        return QStringLiteral("disk-full");
    case ErrorCode::TransferRejected:
        return QStringLiteral("transfer-rejected");
    case ErrorCode::Canceled:
        return QStringLiteral("canceled");
    case ErrorCode::StrangerDropped:
        return QStringLiteral("stranger-dropped");
    case ErrorCode::Internal:
        return QStringLiteral("internal");
    case ErrorCode::CodeExpired:
        return QStringLiteral("code-expired");
    case ErrorCode::CodeRevoked:
        return QStringLiteral("code-revoked");
    case ErrorCode::RequestDeclined:
        return QStringLiteral("request-declined");
    case ErrorCode::RendezvousOffline:
        return QStringLiteral("rendezvous-offline");
    case ErrorCode::PortMappingFailed:
        return QStringLiteral("port-mapping-failed");
    case ErrorCode::RelayFailed:
        return QStringLiteral("relay-failed");
    case ErrorCode::BadRecord:
        return QStringLiteral("bad-record");
    case ErrorCode::RecordVersion:
        return QStringLiteral("record-version");
    }
    return QStringLiteral("internal");
}

QString pathName(PathKind p)
{
    switch (p) {
    case PathKind::Lan:
        return QStringLiteral("lan");
    case PathKind::Direct:
        return QStringLiteral("direct");
    case PathKind::Mapped:
        return QStringLiteral("mapped");
    case PathKind::Relay:
        return QStringLiteral("relay");
    }
    return QStringLiteral("direct");
}

QString foundViaName(FoundVia r)
{
    switch (r) {
    case FoundVia::Paste:
        return QStringLiteral("paste");
    case FoundVia::Dht:
        return QStringLiteral("dht");
    }
    return QStringLiteral("paste");
}

QString natName(NatKind n)
{
    switch (n) {
    case NatKind::Unknown:
        return QStringLiteral("unknown");
    case NatKind::EndpointIndependent:
        return QStringLiteral("endpoint-independent");
    case NatKind::EndpointDependent:
        return QStringLiteral("endpoint-dependent");
    }
    return QStringLiteral("unknown");
}

QString publicSourceName(PublicSource s)
{
    switch (s) {
    case PublicSource::None:
        return QStringLiteral("none");
    case PublicSource::Stun:
        return QStringLiteral("stun");
    case PublicSource::IpEcho:
        return QStringLiteral("ip-echo");
    }
    return QStringLiteral("none");
}

QString transferStateName(TransferState s)
{
    switch (s) {
    case TransferState::Offered:
        return QStringLiteral("offered");
    case TransferState::Accepted:
        return QStringLiteral("accepted");
    case TransferState::Progress:
        return QStringLiteral("progress");
    case TransferState::Done:
        return QStringLiteral("done");
    case TransferState::Failed:
        return QStringLiteral("failed");
    case TransferState::Canceled:
        return QStringLiteral("canceled");
    case TransferState::Declined:
        return QStringLiteral("declined");
    }
    return QStringLiteral("failed");
}

} // namespace Punchline
