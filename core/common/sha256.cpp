#include "sha256.h"

#include "common/logging.h"

#include <openssl/evp.h>

#include <utility>

namespace Punchline {

namespace {

// Fetched once: an implicit fetch in every EVP_DigestInit_ex costs a provider lookup.
const EVP_MD *sha256Method()
{
    static EVP_MD *md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}

EVP_MD_CTX *newContext()
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, sha256Method(), nullptr) != 1)
        qFatal("OpenSSL could not initialise SHA-256");
    return ctx;
}

} // namespace

Sha256::Sha256()
    : m_ctx(newContext())
{
}

Sha256::Sha256(const Sha256 &other)
    : m_ctx(EVP_MD_CTX_new())
{
    if (!m_ctx)
        qFatal("OpenSSL could not allocate a digest context");
    if (other.m_ctx) {
        if (EVP_MD_CTX_copy_ex(m_ctx, other.m_ctx) != 1)
            qFatal("OpenSSL could not copy a SHA-256 context");
    } else if (EVP_DigestInit_ex(m_ctx, sha256Method(), nullptr) != 1) {
        qFatal("OpenSSL could not initialise SHA-256");
    }
}

Sha256 &Sha256::operator=(const Sha256 &other)
{
    if (this != &other) {
        Sha256 copy(other);
        std::swap(m_ctx, copy.m_ctx);
    }
    return *this;
}

Sha256::Sha256(Sha256 &&other) noexcept
    : m_ctx(std::exchange(other.m_ctx, nullptr))
{
}

Sha256 &Sha256::operator=(Sha256 &&other) noexcept
{
    std::swap(m_ctx, other.m_ctx);
    return *this;
}

Sha256::~Sha256()
{
    EVP_MD_CTX_free(m_ctx);
}

EVP_MD_CTX *Sha256::context()
{
    if (!m_ctx)
        m_ctx = newContext();
    return m_ctx;
}

void Sha256::reset()
{
    if (EVP_DigestInit_ex(context(), sha256Method(), nullptr) != 1)
        qFatal("OpenSSL could not initialise SHA-256");
}

void Sha256::addData(const char *data, qsizetype length)
{
    if (length <= 0)
        return;
    if (EVP_DigestUpdate(context(), data, size_t(length)) != 1)
        qFatal("OpenSSL SHA-256 update failed");
}

QByteArray Sha256::result() const
{
    Sha256 copy(*this); // finalising consumes the context; keep ours going
    QByteArray digest(Size, Qt::Uninitialized);
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(
            copy.context(), reinterpret_cast<unsigned char *>(digest.data()), &length)
            != 1
        || length != unsigned(Size))
        qFatal("OpenSSL SHA-256 final failed");
    return digest;
}

QByteArray Sha256::hash(QByteArrayView data)
{
    Sha256 h;
    h.addData(data);
    return h.result();
}

} // namespace Punchline
