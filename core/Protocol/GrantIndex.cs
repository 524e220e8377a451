using System.Collections.Concurrent;
using Dls.Core.Storage;

namespace Dls.Core.Protocol;

/// <summary>
/// Who holds a grant for which item through which code (SPEC §4 "Only authorized usage counts"). The store's
/// <c>client_grant</c> table is the truth; this index keeps what was committed in memory so a report's check costs a
/// dictionary lookup, and falls back to the store on a miss (the listener restarted, another listener of the store
/// granted it, or it was never granted). Grants recorded by the writer wait in <see cref="_pending"/> until their
/// batch commits (<see cref="Committed"/>): an answer that was never acknowledged never admits usage.
/// <para>
/// The writer thread calls <see cref="Record"/>, <see cref="Horizon"/>, <see cref="Committed"/> and
/// <see cref="RolledBack"/>; request threads may call <see cref="IsKnownClient"/> at the same time.
/// </para>
/// </summary>
public sealed class GrantIndex
{
    /// <summary>Grants are written at most once an hour per device, item and code: the stored horizon is rounded up.</summary>
    public static readonly TimeSpan Granularity = TimeSpan.FromHours(1);

    private readonly ConcurrentDictionary<GrantKey, DateTimeOffset> _committed = new();
    private readonly ConcurrentDictionary<string, byte> _knownClients = new(StringComparer.Ordinal);
    private readonly Dictionary<GrantKey, DateTimeOffset> _pending = [];

    /// <summary>Loads the grants that can still admit usage (horizon not older than <paramref name="since"/>).</summary>
    public void Load(UnitOfWork work, DateTimeOffset since)
    {
        foreach (var grant in work.Stores.Devices.Grants(work, since))
        {
            _committed[new GrantKey(grant.ClientUuid, grant.HandshakeCode, grant.ItemId)] = grant.CacheUntil;
            _knownClients.TryAdd(grant.ClientUuid, 0);
        }
    }

    /// <summary>
    /// Records, in the caller's transaction, that <paramref name="client"/> was granted <paramref name="item"/> through
    /// <paramref name="code"/> until <paramref name="cacheUntil"/>. Writes only when the stored horizon grows.
    /// </summary>
    /// <returns>Whether this is the client's first grant on the item through the code (a new seat, for rate limits).</returns>
    public bool Record(UnitOfWork work, string client, string code, string item, DateTimeOffset now, DateTimeOffset cacheUntil)
    {
        var key = new GrantKey(client, code, item);
        var horizon = RoundUp(cacheUntil);
        var known = Find(work, key);
        if (known is { } current && current >= horizon)
        {
            return false;
        }

        work.Stores.Devices.RecordGrant(work, client, code, item, now, horizon);
        _pending[key] = horizon;
        return known is null;
    }

    /// <summary>
    /// Until when the client's grant for the item through the code covers slices (null: no grant). A grant covers
    /// every slice before its horizon (SPEC §4: "still within its cacheUntil or covering the record's slice"; a
    /// record's slice is never in the future, so "still within" is the same test).
    /// </summary>
    public DateTimeOffset? Horizon(UnitOfWork work, string client, string code, string item) =>
        Find(work, new GrantKey(client, code, item));

    /// <summary>
    /// Whether the client holds any grant in memory: such a device is never held back by the failure limits.
    /// Cheap and lock-free; a device granted by another listener and not yet seen here answers false.
    /// </summary>
    public bool IsKnownClient(string client) => _knownClients.ContainsKey(client);

    /// <summary>The writer's batch committed: its grants are now the truth.</summary>
    public void Committed()
    {
        foreach (var (key, horizon) in _pending)
        {
            _committed[key] = horizon;
            _knownClients.TryAdd(key.Client, 0);
        }

        _pending.Clear();
    }

    /// <summary>
    /// A request or the whole batch was rolled back: which pending grants survived is not known here, so none are
    /// kept in memory; those that did commit are found in the store on their next lookup.
    /// </summary>
    public void RolledBack() => _pending.Clear();

    /// <summary>Drops grants whose horizon is before <paramref name="before"/> from memory (the store is purged separately).</summary>
    public void Forget(DateTimeOffset before)
    {
        foreach (var (key, horizon) in _committed)
        {
            if (horizon < before)
            {
                _committed.TryRemove(key, out _);
            }
        }
    }

    private static DateTimeOffset RoundUp(DateTimeOffset time)
    {
        var ticks = Granularity.Ticks;
        var rounded = (time.UtcTicks + ticks - 1) / ticks * ticks;
        return new DateTimeOffset(rounded, TimeSpan.Zero);
    }

    private DateTimeOffset? Find(UnitOfWork work, GrantKey key)
    {
        if (_pending.TryGetValue(key, out var pending))
        {
            return pending;
        }

        if (_committed.TryGetValue(key, out var committed))
        {
            return committed;
        }

        return work.Stores.Devices.GrantHorizon(work, key.Client, key.Code, key.Item);
    }

    private readonly record struct GrantKey(string Client, string Code, string Item);
}
