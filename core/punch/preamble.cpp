#include "preamble.h"

namespace Punchline::Preamble {

namespace {
constexpr char Magic[] = "PUNCHLN1";
constexpr int MagicSize = 8;
constexpr int FingerprintSize = 32;
} // namespace

QByteArray encode(const QByteArray &fingerprint)
{
    Q_ASSERT(fingerprint.size() == FingerprintSize);
    QByteArray out(Magic, MagicSize);
    out.append(fingerprint.left(FingerprintSize));
    return out;
}

QString describeBytes(QByteArrayView bytes)
{
    QString out;
    for (const char c : bytes.first(qMin<qsizetype>(bytes.size(), 24))) {
        const uchar u = uchar(c);
        out += (u >= 0x20 && u < 0x7f) ? QChar(QLatin1Char(c)) : QChar(QLatin1Char('.'));
    }
    return out;
}

bool decode(QByteArrayView bytes, QByteArray *fingerprint, Error *error)
{
    if (bytes.size() != Size || bytes.first(MagicSize) != QByteArrayView(Magic, MagicSize)) {
        if (error)
            *error = { ErrorCode::NotPunchline,
                QStringLiteral("the other end does not speak Punchline (it sent \"%1\")")
                    .arg(describeBytes(bytes)) };
        return false;
    }
    *fingerprint = bytes.sliced(MagicSize, FingerprintSize).toByteArray();
    return true;
}

bool checkStart(QByteArrayView head, Error *error)
{
    const QByteArrayView start = head.first(qMin<qsizetype>(head.size(), MagicSize));
    if (QByteArrayView(Magic, MagicSize).startsWith(start))
        return true;
    decode(start, nullptr, error);
    return false;
}

} // namespace Punchline::Preamble
