#pragma once
// The clear-text preamble every punched TCP connection starts with, before TLS:
//   "PUNCHLN1" (8 bytes) | SHA-256 fingerprint of the sender's certificate (32 bytes)
// It lets both sides drop non-Punchline peers early and agree on roles: the side with the larger
// fingerprint is the controller and nominates one connection with one byte after its preamble:
//   'N' its TLS ClientHello follows at once (controller = TLS client, peer = TLS server); sent
//       right after the peer's preamble, or, by a controller that knows the peer and only just
//       started punching, together with its own preamble at TCP connect;
//   'n' answers an offer: the peer is the TLS client, our TLS flight follows at once.
// The controlled side sends its preamble on connect; one that knows the peer and only just
// started adds 'C' and its ClientHello (an offer: the controller answers 'n' on the one
// connection it picks, or its own 'N' + ClientHello wins and the offer is skipped); otherwise it
// waits for 'N' (it serves) or 'n' (it sends its ClientHello then).
// The fingerprint here is only a claim; the TLS handshake proves it. Pure functions: no sockets.

#include "common/types.h"

#include <QByteArray>
#include <QByteArrayView>

namespace Punchline::Preamble {

constexpr int Size = 40;
constexpr char Nominate = 'N';
constexpr char NominateEarly = 'n';
constexpr char Offer = 'C';

QByteArray encode(const QByteArray &fingerprint);
// Parses exactly Size bytes. On failure returns false with NotPunchline (and a sentence that
// quotes what the other end sent, printable characters only).
bool decode(QByteArrayView bytes, QByteArray *fingerprint, Error *error);
// For a preamble still arriving: false, with the same NotPunchline error as decode(), when
// the bytes so far cannot be the start of one (refuse early rather than wait for 40 bytes).
bool checkStart(QByteArrayView head, Error *error);
// A short printable rendering of unexpected bytes for error messages.
QString describeBytes(QByteArrayView bytes);

} // namespace Punchline::Preamble
