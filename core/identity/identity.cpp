#include "identity.h"

#include "common/logging.h"

#include "common/sha256.h"
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <memory>

namespace Punchline {

namespace {

constexpr qint64 MaxFileBytes = qint64(64) * 1024;
constexpr QFileDevice::Permissions OwnerOnlyFile = QFileDevice::ReadOwner | QFileDevice::WriteOwner;

struct Deleter
{
    void operator()(EVP_PKEY *p) const { EVP_PKEY_free(p); }
    void operator()(X509 *p) const { X509_free(p); }
    void operator()(BIO *p) const { BIO_free(p); }
    void operator()(BIGNUM *p) const { BN_free(p); }
    void operator()(ASN1_INTEGER *p) const { ASN1_INTEGER_free(p); }
};
template <typename T> using Owned = std::unique_ptr<T, Deleter>;

bool setError(Error *error, const QString &message)
{
    if (error)
        *error = Error { ErrorCode::IdentityError, message };
    qCWarning(lcIdentity).noquote() << message;
    return false;
}

// Never prompt on a terminal for a passphrase (OpenSSL's default callback would).
int noPassword(char *, int, int, void *)
{
    return 0;
}

QByteArray bioContents(BIO *bio)
{
    char *data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return size > 0 ? QByteArray(data, size) : QByteArray();
}

struct Generated
{
    QByteArray keyPem;
    QByteArray certPem;
};

std::optional<Generated> generate(QString *why)
{
    Owned<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    Owned<X509> cert(X509_new());
    if (!key || !cert) {
        *why = QStringLiteral("key generation failed");
        return std::nullopt;
    }
    unsigned char serialBytes[16];
    if (RAND_bytes(serialBytes, sizeof serialBytes) != 1) {
        *why = QStringLiteral("no random numbers available");
        return std::nullopt;
    }
    serialBytes[0] = (serialBytes[0] & 0x7f) | 0x40; // positive, full length
    Owned<BIGNUM> serialBn(BN_bin2bn(serialBytes, sizeof serialBytes, nullptr));
    Owned<ASN1_INTEGER> serial(serialBn ? BN_to_ASN1_INTEGER(serialBn.get(), nullptr) : nullptr);
    X509_NAME *name = X509_get_subject_name(cert.get());
    // Validity: the pinned fingerprint is what is trusted, so dates only get in the way. A
    // notBefore far in the past survives wrong clocks; notAfter is RFC 5280's "no expiry".
    const bool ok = serial && X509_set_version(cert.get(), 2) == 1
        && X509_set_serialNumber(cert.get(), serial.get()) == 1
        && ASN1_TIME_set_string_X509(X509_getm_notBefore(cert.get()), "20000101000000Z") == 1
        && ASN1_TIME_set_string_X509(X509_getm_notAfter(cert.get()), "99991231235959Z") == 1
        && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
               reinterpret_cast<const unsigned char *>("Punchline"), -1, -1, 0)
            == 1
        && X509_set_issuer_name(cert.get(), name) == 1
        && X509_set_pubkey(cert.get(), key.get()) == 1
        && X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
    if (!ok) {
        *why = QStringLiteral("the certificate could not be made");
        return std::nullopt;
    }
    Owned<BIO> keyBio(BIO_new(BIO_s_mem()));
    Owned<BIO> certBio(BIO_new(BIO_s_mem()));
    if (!keyBio || !certBio
        || PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)
            != 1
        || PEM_write_bio_X509(certBio.get(), cert.get()) != 1) {
        *why = QStringLiteral("the key could not be encoded");
        return std::nullopt;
    }
    return Generated { bioContents(keyBio.get()), bioContents(certBio.get()) };
}

bool writeFile(const QString &path, const QByteArray &data, bool secret, QString *why)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        *why = file.errorString();
        return false;
    }
    // Restrict the temporary file before the secret is in it; the rename keeps the mode.
    if (secret && !file.setPermissions(OwnerOnlyFile)) {
        *why = QStringLiteral("cannot restrict its permissions");
        file.cancelWriting();
        return false;
    }
    if (file.write(data) != data.size() || !file.commit()) {
        *why = file.errorString();
        return false;
    }
    if (secret)
        QFile::setPermissions(path, OwnerOnlyFile);
    return true;
}

std::optional<QByteArray> readFile(const QString &path, QString *why)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *why = file.errorString();
        return std::nullopt;
    }
    if (file.size() > MaxFileBytes) {
        *why = QStringLiteral("the file is too large to be a key or certificate");
        return std::nullopt;
    }
    return file.read(MaxFileBytes + 1);
}

// Both files parse, the key is an EC key, and it belongs to the certificate.
bool checkPair(const QByteArray &keyPem, const QByteArray &certPem, QString *which, QString *why)
{
    Owned<BIO> keyBio(BIO_new_mem_buf(keyPem.constData(), int(keyPem.size())));
    Owned<EVP_PKEY> key(
        keyBio ? PEM_read_bio_PrivateKey(keyBio.get(), nullptr, noPassword, nullptr) : nullptr);
    if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC) {
        *which = QString::fromLatin1(Identity::KeyFileName);
        *why = QStringLiteral("it is not a readable, unencrypted EC private key");
        return false;
    }
    Owned<BIO> certBio(BIO_new_mem_buf(certPem.constData(), int(certPem.size())));
    Owned<X509> cert(
        certBio ? PEM_read_bio_X509(certBio.get(), nullptr, noPassword, nullptr) : nullptr);
    if (!cert) {
        *which = QString::fromLatin1(Identity::CertFileName);
        *why = QStringLiteral("it is not a readable certificate");
        return false;
    }
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
        *which = QString::fromLatin1(Identity::CertFileName);
        *why = QStringLiteral("it does not belong to the key in %1")
                   .arg(QString::fromLatin1(Identity::KeyFileName));
        return false;
    }
    return true;
}

} // namespace

Identity::Identity(const QSslCertificate &certificate, const QSslKey &key)
    : m_certificate(certificate)
    , m_key(key)
    , m_fingerprint(fingerprintOf(certificate))
{
}

QByteArray Identity::fingerprintOf(const QSslCertificate &certificate)
{
    if (certificate.isNull())
        return QByteArray();
    return Sha256::hash(certificate.toDer()); // OpenSSL EVP, like every other hash here
}

QString Identity::formatFingerprint(const QByteArray &fingerprint)
{
    const QString hex = QString::fromLatin1(fingerprint.toHex()).toUpper();
    QString out;
    out.reserve(hex.size() + hex.size() / 4);
    for (qsizetype i = 0; i < hex.size(); i += 4) {
        if (i > 0)
            out.append(QLatin1Char(' '));
        out.append(QStringView(hex).mid(i, 4));
    }
    return out;
}

std::optional<Identity> Identity::loadOrCreate(const QString &profileDir, Error *error)
{
    if (profileDir.isEmpty()) {
        setError(error, QStringLiteral("no profile folder was given for this device's identity"));
        return std::nullopt;
    }
    const QDir dir(profileDir);
    if (!dir.exists()) {
        if (!QDir().mkpath(profileDir)) {
            setError(error, QStringLiteral("cannot create the profile folder %1").arg(profileDir));
            return std::nullopt;
        }
        QFile::setPermissions(
            profileDir, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
    }
    const QString keyPath = dir.filePath(QString::fromLatin1(KeyFileName));
    const QString certPath = dir.filePath(QString::fromLatin1(CertFileName));
    const bool haveKey = QFileInfo::exists(keyPath);
    const bool haveCert = QFileInfo::exists(certPath);

    QByteArray keyPem;
    QByteArray certPem;
    QString why;
    if (!haveKey && !haveCert) {
        const auto made = generate(&why);
        if (!made) {
            setError(error, QStringLiteral("could not create this device's identity: %1").arg(why));
            return std::nullopt;
        }
        // Key first: a crash in between leaves a key without certificate, which is reported
        // (never silently replaced) on the next start.
        if (!writeFile(keyPath, made->keyPem, true, &why)
            || !writeFile(certPath, made->certPem, false, &why)) {
            setError(error,
                QStringLiteral("could not save this device's identity in %1: %2")
                    .arg(profileDir, why));
            return std::nullopt;
        }
        keyPem = made->keyPem;
        certPem = made->certPem;
        qCInfo(lcIdentity) << "created a new identity in" << profileDir;
    } else if (!haveKey || !haveCert) {
        setError(error,
            QStringLiteral("the identity in %1 is incomplete: %2 is missing. Punchline "
                           "left it untouched; restore the file, or move the other one "
                           "away to start with a new identity (friends will need your "
                           "new code)")
                .arg(profileDir, QString::fromLatin1(haveKey ? CertFileName : KeyFileName)));
        return std::nullopt;
    } else {
        const auto key = readFile(keyPath, &why);
        const auto cert = key ? readFile(certPath, &why) : std::nullopt;
        if (!key || !cert) {
            setError(
                error, QStringLiteral("cannot read the identity in %1: %2").arg(profileDir, why));
            return std::nullopt;
        }
        keyPem = *key;
        certPem = *cert;
        // A key readable by others is tightened rather than refused: the user keeps their identity.
        const QFileDevice::Permissions perms = QFile::permissions(keyPath);
        if (perms
            & (QFileDevice::ReadGroup | QFileDevice::WriteGroup | QFileDevice::ReadOther
                | QFileDevice::WriteOther)) {
            qCWarning(lcIdentity)
                << "identity key was readable by others; restricting it to the owner";
            QFile::setPermissions(keyPath, OwnerOnlyFile);
        }
    }

    QString which;
    if (!checkPair(keyPem, certPem, &which, &why)) {
        setError(error,
            QStringLiteral("the identity file %1 in %2 is damaged (%3). Punchline left it "
                           "untouched; restore it from a backup, or move both identity "
                           "files away to start with a new identity (friends will need "
                           "your new code)")
                .arg(which, profileDir, why));
        return std::nullopt;
    }
    const QSslKey key(keyPem, QSsl::Ec, QSsl::Pem, QSsl::PrivateKey);
    const QSslCertificate cert(certPem, QSsl::Pem);
    if (key.isNull() || cert.isNull()) {
        setError(error,
            QStringLiteral("the identity in %1 cannot be used by the TLS library").arg(profileDir));
        return std::nullopt;
    }
    return Identity(cert, key);
}

} // namespace Punchline
