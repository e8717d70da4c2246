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
// Binary payload, version 1:
//   u8 version (1) | 32 bytes SHA-256 fingerprint | u8 n + n bytes UTF-8 name (n <= 64)
//   | u8 count (<= 8) | count x (u8 family 4|6, 4|16 address bytes, u16 big-endian port)

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
    static constexpr int Version = 1;
    static constexpr int FingerprintBytes = 32;
    static constexpr int MaxNameBytes = 64;
    static constexpr int MaxCandidates = 8;

    QString name;
    QByteArray fingerprint; // 32 bytes
    QList<Endpoint> candidates;

    // Names longer than MaxNameBytes are cut (at a character boundary), candidates beyond
    // MaxCandidates and invalid ones are left out. Requires a 32-byte fingerprint (else empty).
    QString encode() const;
    // CodeChecksum when a character was changed or the code was cut short, CodeVersion for a
    // code from a newer Punchline, BadCode for anything else.
    static std::optional<PeerCode> decode(QStringView text, Error *error);

    friend bool operator==(const PeerCode &a, const PeerCode &b)
    {
        return a.name == b.name && a.fingerprint == b.fingerprint && a.candidates == b.candidates;
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
