namespace Dls.Core.Storage;

/// <summary>A grant held by a client: the item it may report through the code, until <see cref="CacheUntil"/>.</summary>
internal sealed record StoredGrant(string ClientUuid, string HandshakeCode, string ItemId, DateTimeOffset CacheUntil);

/// <summary>A seat as stored: its key (the device, or the domain when <see cref="Kind"/> is "domain") and who holds it since when.</summary>
internal sealed record StoredSeat(string SeatKey, string Kind, string ClientUuid, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, DateTimeOffset ActiveUntil);

/// <summary>A client's grants for one item: the first, the latest horizon and the codes they were granted through.</summary>
internal sealed record StoredGrantee(string ClientUuid, DateTimeOffset FirstGranted, DateTimeOffset CacheUntil, string[] Codes);

/// <summary>
/// The devices aggregate: what clients hold and have done, as the ledger and the authority keep it. Seats of
/// per-device, per-server and per-domain items, the running counters of counted and concurrent items, concurrent
/// slots, grants, the fingerprints the clone rule compares, and the ids of acknowledged report batches.
/// Every method runs in the caller's <see cref="UnitOfWork"/>; none decides anything (the rules are in
/// <c>Accounting</c> and <c>Protocol</c>).
/// </summary>
internal interface IDeviceStore
{
    /// <summary>Whether <paramref name="seatKey"/> holds a seat of the item that is active at <paramref name="now"/>.</summary>
    bool HoldsActiveSeat(UnitOfWork work, string itemId, string seatKey, DateTimeOffset now);

    /// <summary>How many seats of the item are active at <paramref name="now"/>.</summary>
    long ActiveSeats(UnitOfWork work, string itemId, DateTimeOffset now);

    /// <summary>The active seats of an item and the earliest moment one of them lapses (null when none is active).</summary>
    (long Active, DateTimeOffset? NextLapse) ActiveSeatsAndNextLapse(UnitOfWork work, string itemId, DateTimeOffset now);

    /// <summary>Takes a seat (or takes over a lapsed one) for <paramref name="seatKey"/>, active until <paramref name="until"/>.</summary>
    /// <param name="kind">What the key is: "device" or "domain".</param>
    void TakeSeat(UnitOfWork work, string itemId, string seatKey, string kind, string clientUuid, DateTimeOffset now, DateTimeOffset until);

    /// <summary>Refreshes a held seat: last seen now, active until <paramref name="until"/>, held by <paramref name="clientUuid"/>.</summary>
    void RefreshSeat(UnitOfWork work, string itemId, string seatKey, string clientUuid, DateTimeOffset now, DateTimeOffset until);

    /// <summary>Refreshes the seat only when it is still active and was last seen before <paramref name="now"/> (a report does not revive a lapsed seat).</summary>
    void RefreshActiveSeat(UnitOfWork work, string itemId, string seatKey, DateTimeOffset now, DateTimeOffset until);

    /// <summary>The seats of an item (held by <paramref name="clientUuid"/> or keyed by it, when given), last seen first.</summary>
    IReadOnlyList<StoredSeat> Seats(UnitOfWork work, string itemId, string? clientUuid);

    /// <summary>Deletes the seats held by or keyed by <paramref name="clientUuid"/>, of one item or of all.</summary>
    void RemoveSeats(UnitOfWork work, string clientUuid, string? itemId);

    /// <summary>
    /// The clients granted an authorization for the item (one client, or through one code, when given): per client
    /// its first grant, its latest horizon and the codes of its grants.
    /// </summary>
    IReadOnlyList<StoredGrantee> Grantees(UnitOfWork work, string itemId, string? clientUuid, string? handshakeCode);

    /// <summary>The newest slice from <paramref name="since"/> on in which each client held a concurrent slot of the item.</summary>
    IReadOnlyDictionary<string, DateTimeOffset> NewestSlots(UnitOfWork work, string itemId, DateTimeOffset since);

    /// <summary>The running totals of an item: counted scans/pages, extra slices used from the concurrent tolerance.</summary>
    (long Counted, long Overage) Counter(UnitOfWork work, string itemId);

    /// <summary>Adds <paramref name="count"/> to the item's counted total.</summary>
    void AddCounted(UnitOfWork work, string itemId, long count);

    /// <summary>Adds one extra slice to the item's used concurrent tolerance.</summary>
    void AddOverage(UnitOfWork work, string itemId);

    /// <summary>Records that <paramref name="slotKey"/> was active in the slice; false when it already was.</summary>
    bool AddConcurrentSlot(UnitOfWork work, string itemId, DateTimeOffset slice, string slotKey, string clientUuid);

    /// <summary>Adds one to the item's active count in the slice and returns the new count.</summary>
    long AddActiveInSlice(UnitOfWork work, string itemId, DateTimeOffset slice);

    /// <summary>The item's active count in the slice.</summary>
    long ActiveInSlice(UnitOfWork work, string itemId, DateTimeOffset slice);

    /// <summary>Distinct slots of the item active in either slice that belong to clients other than <paramref name="clientUuid"/>.</summary>
    long ActiveOfOthers(UnitOfWork work, string itemId, DateTimeOffset slice, DateTimeOffset previousSlice, string clientUuid);

    /// <summary>The grants whose horizon is not before <paramref name="since"/>.</summary>
    IReadOnlyList<StoredGrant> Grants(UnitOfWork work, DateTimeOffset since);

    /// <summary>The horizon of the client's grant for the item through the code, or null.</summary>
    DateTimeOffset? GrantHorizon(UnitOfWork work, string clientUuid, string code, string itemId);

    /// <summary>Records a grant, keeping the later of the stored and the new horizon.</summary>
    void RecordGrant(UnitOfWork work, string clientUuid, string code, string itemId, DateTimeOffset now, DateTimeOffset cacheUntil);

    /// <summary>Records the client's fingerprint for the slice unless one is recorded, and returns the recorded one.</summary>
    string? FirstFingerprint(UnitOfWork work, string clientUuid, DateTimeOffset slice, string fingerprint);

    /// <summary>Deletes seats that lapsed before <paramref name="cutoff"/> (at most <paramref name="limit"/>).</summary>
    long PurgeLapsedSeats(UnitOfWork work, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes grants that ended before <paramref name="cutoff"/> (at most <paramref name="limit"/>).</summary>
    long PurgeEndedGrants(UnitOfWork work, DateTimeOffset cutoff, int limit);

    /// <summary>Drops fingerprints of slices before <paramref name="slice"/> and concurrent slots from before <paramref name="before"/>.</summary>
    void Prune(UnitOfWork work, DateTimeOffset slice, DateTimeOffset before);

    /// <summary>Deletes the active counts of concurrent items' slices before <paramref name="before"/> (at most <paramref name="limit"/>).</summary>
    long PurgeConcurrentSlices(UnitOfWork work, DateTimeOffset before, int limit);
}
