#include "record.h"

#include "common/textfilter.h"

#include <QJsonArray>
#include <QtEndian>

#include <QCryptographicHash>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>
#include <limits>
#include <memory>

namespace Punchline::Rendezvous {

namespace {

const char Salt[] = "punchline/rendezvous/v1";
const char AadPrefix[] = "PLR1";
const char SignatureContext[] = "punchline/rendezvous/reply-signature/v1";
// version, type, seq, expiry, flags, status, name, fingerprint, request id: all inside the
// first padding block, so open() reads them without length checks.
constexpr int MaxFixedBytes = 1 + 1 + 8 + 8 + 1 + 1 + 1 + Record::MaxNameBytes + 1
    + Channel::FingerprintBytes + 1 + Record::RequestIdBytes;
static_assert(MaxFixedBytes < Record::PaddingBlock, "the fixed part must fit the first block");
// The largest reply and the largest other record fit the last bucket.
static_assert(1 + 1 + 8 + 8 + 1 + 1 + 1 + Record::MaxNameBytes + 1 + 1 + 3
            + 3 * Record::MaxReplyEndpoints * 19 + 2 + Record::MaxCertificateBytes + 1
            + Record::MaxSignatureBytes
        <= Record::MaxPlaintextBytes,
    "a signed reply must fit MaxValueBytes");
static_assert(
    MaxFixedBytes + 3 + 3 * Record::MaxEndpoints * 19 + 2 + 1 <= Record::MaxPlaintextBytes,
    "a request must fit MaxValueBytes");

struct KdfDeleter
{
    void operator()(EVP_KDF_CTX *ctx) const { EVP_KDF_CTX_free(ctx); }
};
struct CipherDeleter
{
    void operator()(EVP_CIPHER_CTX *ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
struct OsslDeleter
{
    void operator()(EVP_MD_CTX *p) const { EVP_MD_CTX_free(p); }
    void operator()(BIO *p) const { BIO_free(p); }
    void operator()(X509 *p) const { X509_free(p); }
};
template <typename T> using Owned = std::unique_ptr<T, OsslDeleter>;

// Fetched once: an implicit fetch on every use costs a provider lookup.
EVP_KDF *hkdfMethod()
{
    static EVP_KDF *kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    return kdf;
}

const EVP_CIPHER *aesGcmMethod()
{
    static EVP_CIPHER *cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    return cipher;
}

uchar *bytesOf(QByteArray &b)
{
    return reinterpret_cast<uchar *>(b.data());
}
const uchar *bytesOf(const QByteArray &b)
{
    return reinterpret_cast<const uchar *>(b.constData());
}

// RFC 5869 in one of its two halves: mode EXTRACT_ONLY (key = ikm, salt) or EXPAND_ONLY
// (key = prk, info). Empty on failure.
QByteArray hkdf(const char *mode, const QByteArray &key, const QByteArray &saltOrInfo, int length)
{
    if (!hkdfMethod())
        return QByteArray();
    std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx(EVP_KDF_CTX_new(hkdfMethod()));
    if (!ctx)
        return QByteArray();
    const bool extract = qstrcmp(mode, "EXTRACT_ONLY") == 0;
    QByteArray keyCopy = key; // the OSSL_PARAM API takes non-const pointers
    QByteArray other = saltOrInfo;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, const_cast<char *>(mode), 0),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char *>("SHA256"), 0),
        OSSL_PARAM_construct_octet_string(
            OSSL_KDF_PARAM_KEY, keyCopy.data(), size_t(keyCopy.size())),
        OSSL_PARAM_construct_octet_string(extract ? OSSL_KDF_PARAM_SALT : OSSL_KDF_PARAM_INFO,
            other.data(), size_t(other.size())),
        OSSL_PARAM_construct_end(),
    };
    QByteArray out(length, Qt::Uninitialized);
    if (EVP_KDF_derive(ctx.get(), bytesOf(out), size_t(out.size()), params) != 1)
        return QByteArray();
    return out;
}

QByteArray hmacSha256(const QByteArray &key, const QByteArray &data)
{
    QByteArray out(32, Qt::Uninitialized);
    size_t length = 0;
    if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.constData(), size_t(key.size()),
            bytesOf(data), size_t(data.size()), bytesOf(out), size_t(out.size()), &length)
        || length != 32)
        return QByteArray();
    return out;
}

Channel derive(
    const QByteArray &secret, const char *keyLabel, const char *encLabel, const QByteArray &context)
{
    const QByteArray prk = hkdf("EXTRACT_ONLY", secret, QByteArray(Salt), Channel::KeyBytes);
    if (prk.isEmpty())
        return Channel();
    Channel c;
    c.keyKey = hkdf("EXPAND_ONLY", prk, QByteArray(keyLabel) + context, Channel::KeyBytes);
    c.encKey = hkdf("EXPAND_ONLY", prk, QByteArray(encLabel) + context, Channel::KeyBytes);
    if (!c.isValid())
        return Channel();
    return c;
}

QByteArray aad(const Channel &c, qint64 epoch)
{
    return QByteArray(AadPrefix) + c.dhtKey(epoch);
}

bool setError(Error *error, ErrorCode code, const QString &message)
{
    if (error)
        *error = Error { code, message };
    return false;
}

bool statusFitsType(quint8 type, quint8 status)
{
    if (type == Record::InviteReply)
        return status >= Record::Accepted && status <= Record::Expired;
    return status == Record::NoStatus;
}

qsizetype fingerprintBytesFor(quint8 type)
{
    return type == Record::InviteRequest ? Channel::FingerprintBytes : 0;
}

qsizetype requestIdBytesFor(quint8 type)
{
    return type == Record::InviteRequest ? Record::RequestIdBytes : 0;
}

int maxEndpointsFor(quint8 type)
{
    return type == Record::InviteReply ? Record::MaxReplyEndpoints : Record::MaxEndpoints;
}

// The size a plaintext of `length` bytes is padded to: whole blocks, the last one shorter.
qsizetype paddedSize(qsizetype length)
{
    const qsizetype blocks
        = std::max<qsizetype>(1, (length + Record::PaddingBlock - 1) / Record::PaddingBlock);
    return std::min<qsizetype>(blocks * Record::PaddingBlock, Record::MaxPlaintextBytes);
}

bool expiryFits(const Record &r)
{
    return r.expiresMs > r.seq && r.expiresMs - r.seq <= quint64(Record::MaxLifetimeMs);
}

QList<Endpoint> usable(const QList<Endpoint> &list, int max)
{
    QList<Endpoint> out;
    for (const Endpoint &e : list) {
        if (out.size() == max)
            break;
        if (isDialable(e))
            out.append(e);
    }
    return out;
}

} // namespace

qint64 epochOf(qint64 unixSeconds)
{
    qint64 q = unixSeconds / EpochSeconds;
    if (unixSeconds % EpochSeconds < 0)
        --q; // floor, also before 1970
    return q;
}

QList<qint64> epochsAround(qint64 unixSeconds)
{
    QList<qint64> out;
    for (const qint64 t :
        { unixSeconds - EpochSkewSeconds, unixSeconds, unixSeconds + EpochSkewSeconds }) {
        const qint64 e = epochOf(t);
        if (!out.contains(e))
            out.append(e);
    }
    return out;
}

Channel Channel::friendDirection(
    const QByteArray &pairSecret32, const QByteArray &senderFp32, const QByteArray &receiverFp32)
{
    if (pairSecret32.size() != SecretBytes || senderFp32.size() != FingerprintBytes
        || receiverFp32.size() != FingerprintBytes)
        return Channel();
    return derive(pairSecret32, "friend key", "friend enc", senderFp32 + receiverFp32);
}

Channel Channel::inviteRequests(const QByteArray &inviteSecret16, const QByteArray &inviterFp32)
{
    if (inviteSecret16.size() != InviteSecretBytes || inviterFp32.size() != FingerprintBytes)
        return Channel();
    return derive(inviteSecret16, "invite req key", "invite req enc", inviterFp32);
}

Channel Channel::inviteReplies(const QByteArray &inviteSecret16, const QByteArray &inviterFp32,
    const QByteArray &requesterFp32)
{
    if (inviteSecret16.size() != InviteSecretBytes || inviterFp32.size() != FingerprintBytes
        || requesterFp32.size() != FingerprintBytes)
        return Channel();
    return derive(inviteSecret16, "invite rep key", "invite rep enc", inviterFp32 + requesterFp32);
}

QByteArray Channel::dhtKey(qint64 epoch) const
{
    if (!isValid())
        return QByteArray();
    QByteArray message(9, Qt::Uninitialized);
    message[0] = 'k';
    qToBigEndian<qint64>(epoch, message.data() + 1);
    return hmacSha256(keyKey, message).left(DhtKeyBytes);
}

quint64 Record::nextSeq(quint64 previous, qint64 nowMs)
{
    const quint64 now = nowMs > 0 ? quint64(nowMs) : 0;
    return std::max(now, previous + 1);
}

namespace {

// The plaintext up to (not including) the signature: what a reply's signature covers.
QByteArray signedPartOf(const Record &r)
{
    QByteArray plain;
    plain.reserve(Record::MaxPlaintextBytes);
    plain.append(char(Record::Version));
    plain.append(char(r.type));
    char be64[8];
    qToBigEndian<quint64>(r.seq, be64);
    plain.append(be64, 8);
    qToBigEndian<quint64>(r.expiresMs, be64);
    plain.append(be64, 8);
    plain.append(char(r.flags));
    plain.append(char(r.status));
    const QByteArray name = truncateUtf8(r.name, Record::MaxNameBytes).toUtf8();
    plain.append(char(name.size()));
    plain.append(name);
    plain.append(char(r.fingerprint.size()));
    plain.append(r.fingerprint);
    plain.append(char(r.requestId.size()));
    plain.append(r.requestId);
    for (const QList<Endpoint> *list : { &r.direct, &r.mapped, &r.relays }) {
        const QList<Endpoint> endpoints = usable(*list, maxEndpointsFor(r.type));
        plain.append(char(endpoints.size()));
        for (const Endpoint &e : endpoints)
            appendEndpointBytes(&plain, e);
    }
    char be16[2];
    qToBigEndian<quint16>(quint16(r.certificate.size()), be16);
    plain.append(be16, 2);
    plain.append(r.certificate);
    return plain;
}

} // namespace

QByteArray seal(const Channel &c, qint64 epoch, const Record &r)
{
    const bool reply = r.type == Record::InviteReply;
    if (!c.isValid() || r.type < Record::Presence || r.type > Record::InviteReply
        || !statusFitsType(r.type, r.status) || r.fingerprint.size() != fingerprintBytesFor(r.type)
        || r.requestId.size() != requestIdBytesFor(r.type) || !expiryFits(r)
        || (!reply && (!r.certificate.isEmpty() || !r.signature.isEmpty()))
        || r.certificate.size() > Record::MaxCertificateBytes
        || r.signature.size() > Record::MaxSignatureBytes)
        return QByteArray();

    QByteArray plain = signedPartOf(r);
    plain.append(char(r.signature.size()));
    plain.append(r.signature);
    if (plain.size() > Record::MaxPlaintextBytes)
        return QByteArray();
    plain.append(QByteArray(paddedSize(plain.size()) - plain.size(), '\0'));

    QByteArray value(Record::NonceBytes + plain.size() + Record::TagBytes, Qt::Uninitialized);
    uchar *nonce = bytesOf(value);
    uchar *cipherText = nonce + Record::NonceBytes;
    uchar *tag = cipherText + plain.size();
    if (RAND_bytes(nonce, Record::NonceBytes) != 1)
        return QByteArray();
    const QByteArray associated = aad(c, epoch);
    std::unique_ptr<EVP_CIPHER_CTX, CipherDeleter> ctx(EVP_CIPHER_CTX_new());
    int length = 0;
    int finalLength = 0;
    if (!ctx || !aesGcmMethod()
        || EVP_EncryptInit_ex2(ctx.get(), aesGcmMethod(), bytesOf(c.encKey), nonce, nullptr) != 1
        || EVP_EncryptUpdate(
               ctx.get(), nullptr, &length, bytesOf(associated), int(associated.size()))
            != 1
        || EVP_EncryptUpdate(ctx.get(), cipherText, &length, bytesOf(plain), int(plain.size())) != 1
        || length != plain.size()
        || EVP_EncryptFinal_ex(ctx.get(), cipherText + length, &finalLength) != 1
        || finalLength != 0
        || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, Record::TagBytes, tag) != 1)
        return QByteArray();
    return value;
}

std::optional<Record> open(const Channel &c, qint64 epoch, const QByteArray &value, Error *error)
{
    const auto bad = [error](const QString &why) -> std::optional<Record> {
        setError(
            error, ErrorCode::BadRecord, QStringLiteral("rendezvous record dropped: %1").arg(why));
        return std::nullopt;
    };
    if (!c.isValid())
        return bad(QStringLiteral("no key to open it with"));
    if (value.size() > Record::MaxValueBytes)
        return bad(
            QStringLiteral("%1 bytes, more than %2").arg(value.size()).arg(Record::MaxValueBytes));
    const qsizetype cipherBytes = value.size() - Record::NonceBytes - Record::TagBytes;
    // Every sealed record is whole padding blocks or the last bucket: anything else cannot be
    // one, so it is dropped before any cryptography.
    if (value.size() < Record::MinValueBytes
        || (cipherBytes % Record::PaddingBlock != 0 && cipherBytes != Record::MaxPlaintextBytes))
        return bad(QStringLiteral("%1 bytes is not the size of a record").arg(value.size()));

    const uchar *nonce = bytesOf(value);
    const uchar *cipherText = nonce + Record::NonceBytes;
    // EVP_CTRL_GCM_SET_TAG takes a non-const pointer; copy the tag.
    uchar tag[Record::TagBytes];
    memcpy(tag, cipherText + cipherBytes, Record::TagBytes);
    const QByteArray associated = aad(c, epoch);
    QByteArray plain(cipherBytes, Qt::Uninitialized);
    std::unique_ptr<EVP_CIPHER_CTX, CipherDeleter> ctx(EVP_CIPHER_CTX_new());
    int length = 0;
    int finalLength = 0;
    if (!ctx || !aesGcmMethod()
        || EVP_DecryptInit_ex2(ctx.get(), aesGcmMethod(), bytesOf(c.encKey), nonce, nullptr) != 1
        || EVP_DecryptUpdate(
               ctx.get(), nullptr, &length, bytesOf(associated), int(associated.size()))
            != 1
        || EVP_DecryptUpdate(ctx.get(), bytesOf(plain), &length, cipherText, int(cipherBytes)) != 1
        || length != cipherBytes
        || EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, Record::TagBytes, tag) != 1
        || EVP_DecryptFinal_ex(ctx.get(), bytesOf(plain) + length, &finalLength) != 1
        || finalLength != 0)
        return bad(QStringLiteral("it does not authenticate (forged, changed, or sealed for "
                                  "another key or day)"));

    // Authentic from here on: a problem now is a newer or broken Punchline, not a stranger.
    const uchar *p = bytesOf(plain);
    const qsizetype n = plain.size();
    if (p[0] != Record::Version || p[1] < Record::Presence || p[1] > Record::InviteReply) {
        setError(error, ErrorCode::RecordVersion,
            QStringLiteral("rendezvous record dropped: it comes from another version of "
                           "Punchline (version %1, type %2)")
                .arg(p[0])
                .arg(p[1]));
        return std::nullopt;
    }
    Record r;
    r.type = p[1];
    r.seq = qFromBigEndian<quint64>(p + 2);
    r.expiresMs = qFromBigEndian<quint64>(p + 10);
    r.flags = p[18];
    r.status = p[19];
    if (!statusFitsType(r.type, r.status))
        return bad(QStringLiteral("status %1 does not fit type %2").arg(r.status).arg(r.type));
    if (!expiryFits(r))
        return bad(QStringLiteral("an expiry that does not fit its sequence number"));
    qsizetype pos = 20;
    // n >= PaddingBlock > MaxFixedBytes: no check needed until the lists, which check for
    // themselves.
    const int nameBytes = p[pos++];
    if (nameBytes > Record::MaxNameBytes)
        return bad(QStringLiteral("a name of %1 bytes").arg(nameBytes));
    const auto name = decodeUtf8Strict(QByteArrayView(plain).sliced(pos, nameBytes));
    if (!name)
        return bad(QStringLiteral("the name is not valid UTF-8"));
    r.name = sanitizeDisplayName(*name, Record::MaxNameBytes);
    pos += nameBytes;
    const int fingerprintBytes = p[pos++];
    if (fingerprintBytes != fingerprintBytesFor(r.type))
        return bad(QStringLiteral("a fingerprint of %1 bytes for type %2")
                       .arg(fingerprintBytes)
                       .arg(r.type));
    r.fingerprint = plain.mid(pos, fingerprintBytes);
    pos += fingerprintBytes;
    const int requestIdBytes = p[pos++];
    if (requestIdBytes != requestIdBytesFor(r.type))
        return bad(
            QStringLiteral("a request id of %1 bytes for type %2").arg(requestIdBytes).arg(r.type));
    r.requestId = plain.mid(pos, requestIdBytes);
    pos += requestIdBytes;
    for (QList<Endpoint> *list : { &r.direct, &r.mapped, &r.relays }) {
        if (pos >= n)
            return bad(QStringLiteral("cut short"));
        const int count = p[pos++];
        if (count > maxEndpointsFor(r.type))
            return bad(QStringLiteral("%1 addresses in one list").arg(count));
        for (int i = 0; i < count; ++i) {
            const auto e = readEndpointBytes(plain, &pos);
            if (!e)
                return bad(QStringLiteral("an address is cut short or of an unknown family"));
            if (!isDialable(*e))
                return bad(QStringLiteral("an address cannot be used"));
            list->append(*e);
        }
    }
    const bool reply = r.type == Record::InviteReply;
    if (pos + 2 > n)
        return bad(QStringLiteral("cut short"));
    const int certificateBytes = qFromBigEndian<quint16>(p + pos);
    pos += 2;
    if (certificateBytes > (reply ? Record::MaxCertificateBytes : 0))
        return bad(QStringLiteral("a certificate of %1 bytes for type %2")
                       .arg(certificateBytes)
                       .arg(r.type));
    if (pos + certificateBytes + 1 > n)
        return bad(QStringLiteral("cut short"));
    r.certificate = plain.mid(pos, certificateBytes);
    pos += certificateBytes;
    r.signedPart = plain.left(pos);
    const int signatureBytes = p[pos++];
    if (signatureBytes > (reply ? Record::MaxSignatureBytes : 0))
        return bad(
            QStringLiteral("a signature of %1 bytes for type %2").arg(signatureBytes).arg(r.type));
    if (pos + signatureBytes > n)
        return bad(QStringLiteral("cut short"));
    r.signature = plain.mid(pos, signatureBytes);
    pos += signatureBytes;
    // The padding: zeros up to the next bucket, and not one bucket more.
    const qsizetype padded = paddedSize(pos);
    if (n != padded)
        return bad(QStringLiteral("padding of the wrong length"));
    if (std::any_of(p + pos, p + n, [](uchar b) { return b != 0; }))
        return bad(QStringLiteral("padding that is not zero"));
    return r;
}

bool isCurrent(const Record &r, qint64 nowMs)
{
    const qint64 expires = r.expiresMs > quint64(std::numeric_limits<qint64>::max() / 2)
        ? std::numeric_limits<qint64>::max() / 2
        : qint64(r.expiresMs);
    const qint64 seq = r.seq > quint64(std::numeric_limits<qint64>::max() / 2)
        ? std::numeric_limits<qint64>::max() / 2
        : qint64(r.seq);
    return nowMs < expires + Record::ClockSkewMs && seq <= nowMs + Record::MaxAheadMs;
}

ReplySigner ReplySigner::fromIdentity(const QByteArray &certificateDer, const QByteArray &keyPem)
{
    ReplySigner signer;
    const uchar *in = bytesOf(certificateDer);
    Owned<X509> cert(d2i_X509(nullptr, &in, long(certificateDer.size())));
    Owned<BIO> bio(BIO_new_mem_buf(keyPem.constData(), int(keyPem.size())));
    if (!cert || !bio || certificateDer.size() > Record::MaxCertificateBytes)
        return signer;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    if (!key)
        return signer;
    std::shared_ptr<EVP_PKEY> owned(key, EVP_PKEY_free);
    if (X509_check_private_key(cert.get(), key) != 1)
        return signer;
    signer.m_certificate = certificateDer;
    signer.m_key = owned;
    return signer;
}

QByteArray ReplySigner::sign(const QByteArray &message) const
{
    if (!isValid())
        return QByteArray();
    Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    size_t length = 0;
    if (!ctx
        || EVP_DigestSignInit_ex(
               ctx.get(), nullptr, "SHA256", nullptr, nullptr, m_key.get(), nullptr)
            != 1
        || EVP_DigestSign(ctx.get(), nullptr, &length, bytesOf(message), size_t(message.size()))
            != 1)
        return QByteArray();
    QByteArray signature(qsizetype(length), Qt::Uninitialized);
    if (EVP_DigestSign(
            ctx.get(), bytesOf(signature), &length, bytesOf(message), size_t(message.size()))
            != 1
        || length > size_t(Record::MaxSignatureBytes))
        return QByteArray();
    signature.resize(qsizetype(length));
    return signature;
}

QByteArray replyMessage(const ReplyBinding &b, const QByteArray &signedPart)
{
    QByteArray m(SignatureContext, sizeof SignatureContext); // with its '\0': a fixed prefix
    m += b.inviterFp;
    m += b.requesterFp;
    m += b.requestId;
    m += signedPart;
    return m;
}

QByteArray sealReply(const Channel &c, qint64 epoch, const Record &r, const ReplySigner &signer,
    const ReplyBinding &b)
{
    if (r.type != Record::InviteReply || !signer.isValid() || !b.isValid())
        return QByteArray();
    Record signedReply = r;
    signedReply.certificate = signer.certificate();
    signedReply.signature = signer.sign(replyMessage(b, signedPartOf(signedReply)));
    if (signedReply.signature.isEmpty())
        return QByteArray();
    return seal(c, epoch, signedReply);
}

bool verifyReply(const Record &r, const ReplyBinding &b, Error *error)
{
    const auto bad = [error](const QString &why) {
        return setError(error, ErrorCode::BadRecord, QStringLiteral("reply dropped: %1").arg(why));
    };
    if (r.type != Record::InviteReply || !b.isValid())
        return bad(QStringLiteral("not a reply to this request"));
    if (r.certificate.isEmpty() || r.signature.isEmpty() || r.signedPart.isEmpty())
        return bad(QStringLiteral("it is not signed"));
    // The pinned fingerprint first: a certificate that is not the inviter's is never parsed.
    if (QCryptographicHash::hash(r.certificate, QCryptographicHash::Sha256) != b.inviterFp)
        return bad(QStringLiteral("its certificate is not the one in the code"));
    const uchar *in = bytesOf(r.certificate);
    Owned<X509> cert(d2i_X509(nullptr, &in, long(r.certificate.size())));
    EVP_PKEY *key = cert ? X509_get0_pubkey(cert.get()) : nullptr;
    if (!key)
        return bad(QStringLiteral("its certificate cannot be read"));
    const QByteArray message = replyMessage(b, r.signedPart);
    Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    if (!ctx
        || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr)
            != 1
        || EVP_DigestVerify(ctx.get(), bytesOf(r.signature), size_t(r.signature.size()),
               bytesOf(message), size_t(message.size()))
            != 1)
        return bad(QStringLiteral("its signature does not verify (forged, or for another "
                                  "request)"));
    return true;
}

ReplayGuard::ReplayGuard(int maxEntries)
    : m_maxEntries(std::max(1, maxEntries))
{
}

bool ReplayGuard::accept(const QByteArray &sender, quint64 seq, qint64 nowMs)
{
    constexpr auto maxSeq = quint64(std::numeric_limits<qint64>::max());
    if (seq > maxSeq || qint64(seq) < nowMs - MaxAgeMs || qint64(seq) > nowMs + MaxAheadMs)
        return false;
    const auto it = m_entries.find(sender);
    if (it != m_entries.end()) {
        if (seq <= it->seq)
            return false;
        *it = Entry { seq, nowMs };
        return true;
    }
    if (m_entries.size() >= m_maxEntries)
        evictOne(nowMs);
    m_entries.insert(sender, Entry { seq, nowMs });
    return true;
}

void ReplayGuard::evictOne(qint64 nowMs)
{
    // An entry whose seq is stale already protects nothing (accept() refuses stale seqs by
    // itself); otherwise the sender heard from least recently gives way.
    auto victim = m_entries.end();
    for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
        if (qint64(it->seq) < nowMs - MaxAgeMs) {
            victim = it;
            break;
        }
        if (victim == m_entries.end() || it->seenMs < victim->seenMs)
            victim = it;
    }
    if (victim != m_entries.end())
        m_entries.erase(victim);
}

quint64 ReplayGuard::lastSeq(const QByteArray &sender) const
{
    return m_entries.value(sender).seq;
}

QJsonObject ReplayGuard::toJson() const
{
    QJsonArray senders;
    for (auto it = m_entries.cbegin(); it != m_entries.cend(); ++it) {
        senders.append(QJsonObject {
            { QStringLiteral("id"), QString::fromLatin1(it.key().toHex()) },
            { QStringLiteral("seq"), QString::number(it->seq) },
            { QStringLiteral("seen"), QString::number(it->seenMs) },
        });
    }
    return QJsonObject {
        { QStringLiteral("v"), 1 },
        { QStringLiteral("senders"), senders },
    };
}

ReplayGuard ReplayGuard::fromJson(const QJsonObject &json, int maxEntries)
{
    ReplayGuard guard(maxEntries);
    if (json.value(QStringLiteral("v")).toInt() != 1)
        return guard;
    struct Item
    {
        QByteArray id;
        Entry entry;
    };
    QList<Item> items;
    const QJsonArray senders = json.value(QStringLiteral("senders")).toArray();
    for (const QJsonValue &v : senders) {
        const QJsonObject o = v.toObject();
        const QString idHex = o.value(QStringLiteral("id")).toString();
        bool seqOk = false;
        bool seenOk = false;
        const quint64 seq = o.value(QStringLiteral("seq")).toString().toULongLong(&seqOk);
        const qint64 seen = o.value(QStringLiteral("seen")).toString().toLongLong(&seenOk);
        const QByteArray id = QByteArray::fromHex(idHex.toLatin1());
        // fromHex skips what is not hex: insist on a clean round trip.
        if (!seqOk || !seenOk || id.isEmpty() || seq > quint64(std::numeric_limits<qint64>::max())
            || QString::fromLatin1(id.toHex()) != idHex.toLower())
            continue;
        items.append(Item { id, Entry { seq, seen } });
    }
    // Keep the most recently seen when the file holds more than fits.
    std::sort(items.begin(), items.end(),
        [](const Item &a, const Item &b) { return a.entry.seenMs > b.entry.seenMs; });
    for (const Item &item : std::as_const(items)) {
        if (guard.m_entries.size() >= guard.m_maxEntries)
            break;
        Entry &e = guard.m_entries[item.id];
        if (item.entry.seq >= e.seq)
            e = item.entry;
    }
    return guard;
}

Invitation Invitation::create(qint64 nowUnix, qint64 lifetimeSeconds, bool singleUse)
{
    Invitation invitation;
    invitation.createdUnix = nowUnix;
    invitation.expiresUnix = nowUnix + std::max<qint64>(0, lifetimeSeconds);
    invitation.singleUse = singleUse;
    QByteArray secret(Channel::InviteSecretBytes, Qt::Uninitialized);
    if (RAND_bytes(bytesOf(secret), int(secret.size())) == 1)
        invitation.secret16 = secret;
    return invitation;
}

} // namespace Punchline::Rendezvous
