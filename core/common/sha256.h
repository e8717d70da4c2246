#pragma once
// Incremental SHA-256 over OpenSSL EVP: every transferred file is hashed while it streams, and
// EVP (SHA-NI) is about ten times faster here than QCryptographicHash.

#include <QByteArray>
#include <QByteArrayView>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace Punchline {

class Sha256
{
public:
    static constexpr int Size = 32;

    Sha256();
    Sha256(const Sha256 &other);
    Sha256 &operator=(const Sha256 &other);
    Sha256(Sha256 &&other) noexcept;
    Sha256 &operator=(Sha256 &&other) noexcept;
    ~Sha256();

    void reset();
    void addData(const char *data, qsizetype length);
    void addData(QByteArrayView data) { addData(data.data(), data.size()); }
    // Digest (32 bytes) of everything added so far; the object keeps hashing afterwards.
    QByteArray result() const;

    static QByteArray hash(QByteArrayView data);

private:
    EVP_MD_CTX *context();
    EVP_MD_CTX *m_ctx = nullptr; // null after a move: re-created on first use
};

} // namespace Punchline
