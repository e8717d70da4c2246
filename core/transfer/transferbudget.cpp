#include "transferbudget.h"

#include "transfermanager.h"

namespace Punchline {

TransferBudget::Usage TransferBudget::total() const
{
    Usage sum;
    for (const TransferManager *m : m_members) {
        const Usage u = m->budgetUsage();
        sum.files += u.files;
        sum.nameBytes += u.nameBytes;
        sum.active += u.active;
        sum.recordBytes += u.recordBytes;
    }
    return sum;
}

bool TransferBudget::allows(const TransferManager *peer, const Usage &more, Error *error) const
{
    const Usage mine = peer->budgetUsage();
    const Usage all = total();
    const auto refuse = [error](const QString &text) {
        *error = { ErrorCode::TransferRejected, text };
        return false;
    };
    const QString later = QStringLiteral(" Try again when the current transfers have finished.");
    if (more.files > 0 && mine.files + more.files > m_limits.filesPerPeer)
        return refuse(QStringLiteral("The receiver has too many files offered or in progress "
                                     "from you (at most %L1 at once).")
                          .arg(m_limits.filesPerPeer)
            + later);
    if (more.files > 0 && all.files + more.files > m_limits.filesTotal)
        return refuse(QStringLiteral("The receiver has too many files offered or in progress "
                                     "(at most %L1 at once from all friends).")
                          .arg(m_limits.filesTotal)
            + later);
    if (more.nameBytes > 0 && mine.nameBytes + more.nameBytes > m_limits.nameBytesPerPeer)
        return refuse(QStringLiteral("The file names offered or in progress from you are too "
                                     "long in total (at most %L1 MiB at once).")
                          .arg(m_limits.nameBytesPerPeer >> 20)
            + later);
    if (more.nameBytes > 0 && all.nameBytes + more.nameBytes > m_limits.nameBytesTotal)
        return refuse(QStringLiteral("The file names offered or in progress are too long in "
                                     "total (at most %L1 MiB at once from all friends).")
                          .arg(m_limits.nameBytesTotal >> 20)
            + later);
    if (more.active > 0 && mine.active + more.active > m_limits.activePerPeer)
        return refuse(QStringLiteral("The receiver already takes %L1 transfers from you, "
                                     "the most at once.")
                          .arg(m_limits.activePerPeer)
            + later);
    if (more.active > 0 && all.active + more.active > m_limits.activeTotal)
        return refuse(QStringLiteral("The receiver already takes %L1 transfers, the most at "
                                     "once from all friends.")
                          .arg(m_limits.activeTotal)
            + later);
    if (more.recordBytes > 0 && mine.recordBytes + more.recordBytes > m_limits.recordBytesPerPeer)
        return refuse(QStringLiteral("The transfer is too large for the receiver's resume "
                                     "records (at most %L1 MiB from you).")
                          .arg(m_limits.recordBytesPerPeer >> 20));
    if (more.recordBytes > 0 && all.recordBytes + more.recordBytes > m_limits.recordBytesTotal)
        return refuse(QStringLiteral("The receiver's resume records are full (at most %L1 MiB "
                                     "from all friends).")
                          .arg(m_limits.recordBytesTotal >> 20)
            + later);
    return true;
}

void TransferBudget::join(const TransferManager *peer)
{
    if (!m_members.contains(peer))
        m_members.append(peer);
}

void TransferBudget::leave(const TransferManager *peer)
{
    m_members.removeAll(peer);
}

} // namespace Punchline
