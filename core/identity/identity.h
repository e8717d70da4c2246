#pragma once
// This device's long-lived identity: an ECDSA P-256 key and a self-signed certificate kept in the
// profile. Friends pin the certificate's SHA-256 fingerprint (it travels in the Punchline code),
// so the identity must never change behind the user's back: damaged files are reported, never
// replaced.

#include "common/types.h"

#include <QByteArray>
#include <QSslCertificate>
#include <QSslKey>
#include <QString>
#include <optional>

namespace Punchline {

class Identity
{
public:
    static constexpr const char *KeyFileName = "identity.key"; // PKCS#8 PEM, mode 0600
    static constexpr const char *CertFileName = "identity.crt"; // PEM
    static constexpr int FingerprintBytes = 32;

    // First use: creates profileDir (0700) if needed, makes a key pair and certificate and
    // stores them. Later: loads them. Any damaged, missing-half or mismatched file gives an
    // IdentityError and leaves the files as they are.
    static std::optional<Identity> loadOrCreate(const QString &profileDir, Error *error);

    QSslCertificate certificate() const { return m_certificate; }
    QSslKey privateKey() const { return m_key; }
    // SHA-256 of the certificate's DER encoding (32 bytes).
    QByteArray fingerprint() const { return m_fingerprint; }

    static QByteArray fingerprintOf(const QSslCertificate &certificate);
    // For reading aloud / comparing by eye: uppercase hex in groups of four, e.g.
    // "3F2A 91C0 …" (16 groups for a 32-byte fingerprint). Other lengths are formatted the same.
    static QString formatFingerprint(const QByteArray &fingerprint);

private:
    Identity(const QSslCertificate &certificate, const QSslKey &key);

    QSslCertificate m_certificate;
    QSslKey m_key;
    QByteArray m_fingerprint;
};

} // namespace Punchline
