#pragma once
// The Punchline code two friends exchange by chat or e-mail: who to expect (certificate
// fingerprint) and where to try (candidate addresses).
//
// Text form: "PL1-" then Crockford base32 (0-9 A-Z without I L O U) of the binary payload,
// then 7 more base32 characters holding a CRC-32 of the payload. Decoding ignores spaces, line
// breaks, hyphens and zero-width characters added on the way and is case-insensitive (I and L
// read as 1, O as 0, as Crockford base32 defines). The payload and the checksum are encoded as
// separate base32 runs with zero padding bits, so any single changed character lands either in
// the payload (a burst of at most 16 bits: CRC-32 always catches it) or in the checksum.
//
// Binary payload, version 2 (version 1, without the kind bits and the invitation, still reads):
//   u8 version (2) | 32 bytes SHA-256 fingerprint | u8 n + n bytes UTF-8 name (n <= 64)
//   | u8 count (<= 12) | count x (u8 kind << 4 | family 4|6, 4|16 address bytes,
//     u16 big-endian port)   kind: 0 direct (interface or STUN), 1 router-mapped, 2 TURN relay
//   | u8 flags (bit 0: invitation follows, bit 1: single use)
//   | [16 bytes invitation secret | u32 big-endian expiry, Unix seconds (0: none)]
// The invitation lets whoever holds the code ask us to connect through the DHT (one-way paste);
// the secret never leaves the code (records are keyed and sealed with keys derived from it).

#include "common/endpoint.h"
#include "common/types.h"

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringView>
#include <optional>

namespace Punchline {

struct PeerCode
{
    static constexpr int Version = 1; // of the text form ("PL1-")
    static constexpr int PayloadVersion = 2;
    static constexpr int FingerprintBytes = 32;
    static constexpr int MaxNameBytes = 64;
    static constexpr int MaxCandidates = 8; // direct
    static constexpr int MaxMapped = 2;
    static constexpr int MaxRelays = 2;
    static constexpr int InviteSecretBytes = 16;

    QString name;
    QByteArray fingerprint; // 32 bytes
    QList<Endpoint> candidates; // direct: interface and public (STUN) addresses
    QList<Endpoint> mapped; // public endpoints the router mapped to us
    QList<Endpoint> relays; // addresses a TURN server relays to us
    QByteArray inviteSecret; // 16 bytes, or empty: no invitation (paste both codes)
    qint64 inviteExpires = 0; // Unix seconds; 0: no expiry
    bool inviteSingleUse = false;

    PeerTargets targets() const { return { candidates, mapped, relays }; }
    bool hasInvitation() const { return inviteSecret.size() == InviteSecretBytes; }

    // Names longer than MaxNameBytes are cut (at a character boundary), candidates beyond
    // MaxCandidates and invalid ones are left out. Requires a 32-byte fingerprint (else empty).
    QString encode() const;
    // CodeChecksum when a character was changed or the code was cut short, CodeVersion for a
    // code from a newer Punchline, BadCode for anything else.
    static std::optional<PeerCode> decode(QStringView text, Error *error);

    friend bool operator==(const PeerCode &a, const PeerCode &b)
    {
        return a.name == b.name && a.fingerprint == b.fingerprint && a.candidates == b.candidates
            && a.mapped == b.mapped && a.relays == b.relays && a.inviteSecret == b.inviteSecret
            && a.inviteExpires == b.inviteExpires && a.inviteSingleUse == b.inviteSingleUse;
    }
};

// What the user typed into the "friend's code" box: a code, or plain addresses (trust on first
// use), or an error that says precisely what is wrong.
struct PeerInput
{
    std::optional<PeerCode> code;
    QList<Endpoint> addresses;
    Error error; // None when code or addresses is set

    bool isValid() const { return !error.isError(); }
};

// Pure and cheap (no I/O, no allocation beyond the text): safe to call on every keystroke.
PeerInput parsePeerInput(QStringView text);

} // namespace Punchline

Q_DECLARE_METATYPE(Punchline::PeerCode)
