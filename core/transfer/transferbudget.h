#pragma once
// What incoming offers may cost this device, shared by every friend's TransferManager (the
// engine makes one and hands it to each). Without it a hostile or merely enormous peer could
// fill memory with offers (a 100,000-file offer costs ~2 KB per file while it waits), run the
// process out of descriptors with accepted transfers, or the profile out of space with records.
// Over a limit, the offer or the accept is refused with a TransferRejected error the sender sees
// and the user sees on the transfer.
//
// Threading: the network thread only, like the managers.

#include "common/types.h"

#include <QList>

namespace Punchline {

class TransferManager;

class TransferBudget
{
public:
    struct Limits
    {
        // Files listed in incoming offers being received, waiting for an answer or in progress
        // (one offer may list up to TransferProtocol::MaxFiles = 100,000).
        qint64 filesPerPeer = 150'000;
        qint64 filesTotal = 200'000;
        // The same files' names in UTF-8 bytes: most of an offer's memory.
        qint64 nameBytesPerPeer = qint64(32) << 20;
        qint64 nameBytesTotal = qint64(64) << 20;
        // Accepted incoming transfers not finished yet (each holds up to 3 descriptors while
        // it writes, none once it ends).
        int activePerPeer = 16;
        int activeTotal = 64;
        // Transfer records (resume state) in the profile. The oldest records of the same peer
        // are dropped first to make room; finished ones before unfinished ones.
        qint64 recordBytesPerPeer = qint64(128) << 20;
        qint64 recordBytesTotal = qint64(512) << 20;
    };
    struct Usage
    {
        qint64 files = 0;
        qint64 nameBytes = 0;
        int active = 0;
        qint64 recordBytes = 0;
    };

    TransferBudget() = default;
    explicit TransferBudget(const Limits &limits)
        : m_limits(limits)
    {
    }
    TransferBudget(const TransferBudget &) = delete;
    TransferBudget &operator=(const TransferBudget &) = delete;

    const Limits &limits() const { return m_limits; }
    // Everyone's usage now (summed over the managers sharing this budget).
    Usage total() const;
    // Whether `peer` may take `more` on top of what it and everyone else use now. On false,
    // *error (TransferRejected) says which limit, in words the sender may see.
    bool allows(const TransferManager *peer, const Usage &more, Error *error) const;

private:
    friend class TransferManager;
    void join(const TransferManager *peer);
    void leave(const TransferManager *peer);

    Limits m_limits;
    QList<const TransferManager *> m_members;
};

} // namespace Punchline
