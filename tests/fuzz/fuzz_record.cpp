// Rendezvous records (core/rendezvous/record.h) with one fixed channel. The first byte picks:
//   0: open() the rest as a DHT value (what a stranger can do: must fail, never crash);
//   1: the rest is a plaintext, encrypted here the way seal() does (zero-padded to whole
//      blocks), so the parser behind the authentication sees arbitrary bytes from a key holder;
//   2: the rest describes a Record (any name, any endpoints, ports 0 included) that is sealed.
// Invariants: what open() accepts keeps the limits and seals again to a value that opens to the
// same record; what seal() makes, open() accepts.
#include "rendezvous/record.h"

#include <openssl/evp.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

using namespace Punchline;
using namespace Punchline::Rendezvous;

namespace {

constexpr qint64 Epoch = 19723;

void check(bool ok)
{
    if (!ok)
        abort();
}

const Channel &channel()
{
    static const Channel c = Channel::friendDirection(
        QByteArray(32, '\x01'), QByteArray(32, '\xaa'), QByteArray(32, '\xbb'));
    return c;
}

QByteArray encrypt(const QByteArray &plain)
{
    const Channel &c = channel();
    const QByteArray aad = QByteArray("PLR1") + c.dhtKey(Epoch);
    QByteArray value(Record::NonceBytes + plain.size() + Record::TagBytes, '\0');
    auto *out = reinterpret_cast<uchar *>(value.data());
    int length = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    const bool ok = ctx
        && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr,
               reinterpret_cast<const uchar *>(c.encKey.constData()), out)
            == 1
        && EVP_EncryptUpdate(ctx, nullptr, &length,
               reinterpret_cast<const uchar *>(aad.constData()), int(aad.size()))
            == 1
        && EVP_EncryptUpdate(ctx, out + Record::NonceBytes, &length,
               reinterpret_cast<const uchar *>(plain.constData()), int(plain.size()))
            == 1
        && EVP_EncryptFinal_ex(ctx, out + Record::NonceBytes + length, &length) == 1
        && EVP_CIPHER_CTX_ctrl(
               ctx, EVP_CTRL_GCM_GET_TAG, Record::TagBytes, out + Record::NonceBytes + plain.size())
            == 1;
    EVP_CIPHER_CTX_free(ctx);
    check(ok);
    return value;
}

void checkOpened(const Record &r)
{
    check(r.type >= Record::Presence && r.type <= Record::InviteReply);
    check(r.name.toUtf8().size() <= Record::MaxNameBytes);
    check(r.fingerprint.size() == (r.type == Record::InviteRequest ? 32 : 0));
    check(r.requestId.size() == (r.type == Record::InviteRequest ? Record::RequestIdBytes : 0));
    check(r.expiresMs > r.seq && r.expiresMs - r.seq <= quint64(Record::MaxLifetimeMs));
    check(
        r.certificate.size() <= (r.type == Record::InviteReply ? Record::MaxCertificateBytes : 0));
    check(r.signature.size() <= (r.type == Record::InviteReply ? Record::MaxSignatureBytes : 0));
    // Anything the parser accepts as a reply is still refused by the signature check unless it
    // really is signed (a fuzzer cannot make that): verifyReply must not crash on it.
    if (r.type == Record::InviteReply)
        check(!verifyReply(r,
            ReplyBinding { QByteArray(32, '\xaa'), QByteArray(32, '\xbb'), QByteArray(16, '\x01') },
            nullptr));
    for (const QList<Endpoint> *list : { &r.direct, &r.mapped, &r.relays }) {
        check(list->size()
            <= (r.type == Record::InviteReply ? Record::MaxReplyEndpoints : Record::MaxEndpoints));
        for (const Endpoint &e : *list)
            check(isDialable(e));
    }
    const QByteArray again = seal(channel(), Epoch, r);
    check(!again.isEmpty() && again.size() <= Record::MaxValueBytes);
    Error error;
    const auto reopened = open(channel(), Epoch, again, &error);
    check(reopened && *reopened == r);
}

void openValue(const QByteArray &value)
{
    Error error;
    const auto r = open(channel(), Epoch, value, &error);
    check(r.has_value() != error.isError());
    if (r)
        checkOpened(*r);
    else
        check(error.code == ErrorCode::BadRecord || error.code == ErrorCode::RecordVersion);
}

// A byte reader that returns zeros past the end.
struct Reader
{
    const uint8_t *data;
    size_t size;
    size_t pos = 0;
    uint8_t byte() { return pos < size ? data[pos++] : 0; }
    QByteArray bytes(size_t n)
    {
        QByteArray out;
        for (size_t i = 0; i < n; ++i)
            out.append(char(byte()));
        return out;
    }
};

Record recordFrom(Reader &in)
{
    Record r;
    r.type = quint8(1 + in.byte() % 3);
    r.seq = 0;
    for (int i = 0; i < 8; ++i)
        r.seq = r.seq << 8 | in.byte();
    r.seq = std::min<quint64>(r.seq, std::numeric_limits<quint64>::max() - Record::MaxLifetimeMs);
    const quint64 lifetime = quint64(in.byte()) << 16 | quint64(in.byte()) << 8 | in.byte();
    r.expiresMs = r.seq + 1 + lifetime % quint64(Record::MaxLifetimeMs);
    r.flags = in.byte();
    r.status = r.type == Record::InviteReply ? quint8(1 + in.byte() % 4) : 0;
    r.name = QString::fromUtf8(in.bytes(in.byte() % 100));
    if (r.type == Record::InviteRequest) {
        r.fingerprint = in.bytes(32);
        r.requestId = in.bytes(Record::RequestIdBytes);
    }
    if (r.type == Record::InviteReply) {
        r.certificate
            = in.bytes((size_t(in.byte()) << 8 | in.byte()) % (Record::MaxCertificateBytes + 1));
        r.signature = in.bytes(in.byte() % (Record::MaxSignatureBytes + 1));
    }
    for (QList<Endpoint> *list : { &r.direct, &r.mapped, &r.relays }) {
        const int count = in.byte() % 12;
        for (int i = 0; i < count; ++i) {
            Endpoint e;
            if (in.byte() & 1) {
                const QByteArray a = in.bytes(16);
                Q_IPV6ADDR v6;
                memcpy(v6.c, a.constData(), 16);
                e.address = QHostAddress(v6);
            } else {
                const QByteArray a = in.bytes(4);
                e.address = QHostAddress(quint32(uchar(a[0])) << 24 | quint32(uchar(a[1])) << 16
                    | quint32(uchar(a[2])) << 8 | uchar(a[3]));
            }
            e.port = quint16(in.byte() << 8 | in.byte());
            list->append(e);
        }
    }
    return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    const QByteArray rest(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));
    switch (data[0] % 3) {
    case 0:
        openValue(rest);
        break;
    case 1: {
        QByteArray plain = rest.left(Record::MaxPlaintextBytes);
        if (plain.size() > 3 * Record::PaddingBlock)
            plain.append(QByteArray(Record::MaxPlaintextBytes - plain.size(), '\0'));
        else if (plain.isEmpty() || plain.size() % Record::PaddingBlock != 0)
            plain.append(
                QByteArray(Record::PaddingBlock - plain.size() % Record::PaddingBlock, '\0'));
        openValue(encrypt(plain));
        break;
    }
    case 2: {
        Reader in { data + 1, size - 1 };
        const Record r = recordFrom(in);
        const QByteArray value = seal(channel(), qint64(Epoch), r);
        check(!value.isEmpty() && value.size() <= Record::MaxValueBytes);
        const size_t plainBytes = size_t(value.size() - Record::NonceBytes - Record::TagBytes);
        check(plainBytes % Record::PaddingBlock == 0 || plainBytes == Record::MaxPlaintextBytes);
        Error error;
        const auto opened = open(channel(), Epoch, value, &error);
        check(opened.has_value());
        check(opened->type == r.type && opened->seq == r.seq && opened->flags == r.flags
            && opened->status == r.status && opened->fingerprint == r.fingerprint
            && opened->expiresMs == r.expiresMs && opened->requestId == r.requestId
            && opened->certificate == r.certificate && opened->signature == r.signature);
        checkOpened(*opened);
        break;
    }
    }
    return 0;
}
