using Dls.Core.Audit;
using Dls.Core.Listeners;

namespace Dls.Core.Storage;

/// <summary>The server identity as stored: the public half of the signing key, not the (sealed) private half.</summary>
internal sealed record StoredServer(
    string Uuid, string OrganizationId, string MainServerUrl, string StandbyServerUrl, string Role, byte[] PublicKey, DateTimeOffset CreatedAt);

/// <summary>
/// The server aggregate: the identity (one row), the protection settings, the listeners started on the store and
/// the audit trail. Every method runs in the caller's <see cref="UnitOfWork"/>.
/// </summary>
internal interface IServerStore
{
    /// <summary>The identity, or null when the store has none yet.</summary>
    StoredServer? Identity(UnitOfWork work);

    /// <summary>Creates or replaces the identity with its sealed private key.</summary>
    void WriteIdentity(UnitOfWork work, StoredServer server, byte[] sealedPrivateKey, DateTimeOffset now);

    /// <summary>Changes the given identity settings; null leaves one as it is.</summary>
    void UpdateIdentity(UnitOfWork work, string? organizationId, string? mainServerUrl, string? standbyServerUrl, string? role, DateTimeOffset now);

    /// <summary>The sealed private signing key, or null when the store has no identity.</summary>
    byte[]? SealedPrivateKey(UnitOfWork work);

    /// <summary>Whether the store holds any license (a store that does is never given a new identity).</summary>
    bool HoldsLicenses(UnitOfWork work);

    /// <summary>The stored server settings by name (those never set are absent).</summary>
    IReadOnlyDictionary<string, string> Settings(UnitOfWork work);

    /// <summary>Sets server settings.</summary>
    void SetSettings(UnitOfWork work, IEnumerable<KeyValuePair<string, string>> settings);

    /// <summary>Records (or replaces) the listener serving <paramref name="url"/>, its heartbeat at <paramref name="now"/>.</summary>
    void RegisterListener(
        UnitOfWork work, string url, int processId, DateTimeOffset? processStartedAt, DateTimeOffset now, string version, string role, string host, bool serving);

    /// <summary>Records the listener serving <paramref name="url"/> unless a record of that URL exists.</summary>
    void RegisterListenerIfFree(
        UnitOfWork work, string url, int processId, DateTimeOffset? processStartedAt, DateTimeOffset now, string version, string role, string host, bool serving);

    /// <summary>Writes the heartbeat of the listener at <paramref name="url"/> if its record still names that process and host.</summary>
    /// <returns>Whether the record was there.</returns>
    bool Heartbeat(UnitOfWork work, string url, int processId, string host, DateTimeOffset now, bool serving);

    /// <summary>Removes the record of <paramref name="url"/> if it still names <paramref name="processId"/>.</summary>
    void UnregisterListener(UnitOfWork work, string url, int processId, string host);

    /// <summary>The listeners started on the store, by URL.</summary>
    IReadOnlyList<ListenerRecord> Listeners(UnitOfWork work);

    /// <summary>
    /// Claims the task <paramref name="name"/> for <paramref name="holder"/> at <paramref name="now"/> if it has never
    /// run or last ran at or before <paramref name="ranBefore"/>; true when claimed.
    /// </summary>
    bool ClaimTask(UnitOfWork work, string name, string holder, DateTimeOffset now, DateTimeOffset ranBefore);

    /// <summary>Appends an audit entry.</summary>
    void AppendAudit(UnitOfWork work, DateTimeOffset time, string user, string action, string target, string details);

    /// <summary>The audit entries from <paramref name="since"/> on, oldest first.</summary>
    IReadOnlyList<AuditEntry> Audit(UnitOfWork work, DateTimeOffset since);
}
