using Dls.Core.Accounting;
using Dls.Core.Crypto;
using Dls.Core.Licensing;
using Dls.Core.Storage;
using Dls.Core.Usage;

namespace Dls.Core.Protocol;

/// <summary>
/// The decisions behind <c>POST /api/v1/auth</c> and <c>POST /api/v1/reports</c> (SPEC §4): which code, whether
/// the client may use it, which item serves it, and what a report counts. <see cref="Authorize"/> and
/// <see cref="Report"/> run inside the caller's write transaction and keep their facts raw there, so a decision, its
/// seat and its raw statistics commit together. Without a <see cref="StatisticsBuffer"/> the facts are rolled up in
/// the same transaction; with one (the listener's writer) they are rolled up by it, in the same or a later commit.
/// </summary>
public sealed class LicenseAuthority(SessionPasswordCache passwords, StatisticsBuffer? statistics = null)
{
    public const int ReportIntervalSeconds = 180;

    /// <summary>How long a client may work offline at most (cacheUntil).</summary>
    public static readonly TimeSpan MaxOfflineCache = TimeSpan.FromDays(7);

    /// <summary>How old a reported slice may be (clients send what they buffered offline).</summary>
    public static readonly TimeSpan MaxReportAge = TimeSpan.FromDays(30);

    /// <summary>The catalog as the writer last read it (see <see cref="CatalogCache"/>).</summary>
    private readonly CatalogCache _catalog = new();

    /// <summary>Active seats per item as the writer last counted them (see <see cref="ActiveSeatCounter"/>).</summary>
    private readonly ActiveSeatCounter _seats = new();

    /// <summary>Feature names each item's statistics keep (see <see cref="FeatureNames"/>).</summary>
    private readonly FeatureNames _features = new();

    /// <summary>Short ids of the clients whose batches the writer stored (the retention removes no id a batch names).</summary>
    private readonly CommittedCache<string, long> _clientIds = new(StringComparer.Ordinal);

    /// <summary>Who was granted which item through which code: what a report may count.</summary>
    public GrantIndex Grants { get; } = new();

    /// <summary>
    /// The code and stored hash a request's session password is to be checked against, or null when there is
    /// nothing to check (no password in the request; a code that does not exist or has no password).
    /// </summary>
    public static PasswordTarget? PasswordTargetOf(DlsStore store, AuthRequest request)
    {
        if (request.SessionPassword is null)
        {
            return null;
        }

        var code = store.Query(work => ResolveCode(work, request).Code);
        return code?.PasswordHash is { } hash ? new PasswordTarget(code.Code, hash) : null;
    }

    /// <summary>Whether checking the request's password against <paramref name="target"/> is remembered (costs no derivation).</summary>
    public bool IsPasswordCheckCached(PasswordTarget? target, AuthRequest request) =>
        target is null || request.SessionPassword is null || passwords.IsCached(target.Code, target.StoredHash, request.SessionPassword);

    /// <summary>
    /// Checks the session password outside the writer: the slow hash runs here, once per distinct password (the
    /// result is remembered), so the writer only compares. Safe to call from many threads.
    /// </summary>
    public PasswordCheck? CheckPassword(PasswordTarget? target, AuthRequest request) =>
        target is null || request.SessionPassword is null
            ? null
            : new PasswordCheck(target.StoredHash, passwords.Verify(target.Code, target.StoredHash, request.SessionPassword));

    public AuthOutcome Authorize(UnitOfWork work, AuthRequest request, DateTimeOffset now, AuthContext? context = null)
    {
        _catalog.Sync(work);
        _seats.Sync(work);
        try
        {
            var (outcome, code, itemId) = Decide(work, request, now, context);
            if (outcome.NeedsPasswordCheck || outcome.RetryAfter is not null)
            {
                // Not decided (the password check is stale) or rate-limited: nothing was written, nothing is counted.
                return outcome;
            }

            if (outcome.Grant is { } grant)
            {
                Grants.Record(work, request.ClientUuid, grant.HandshakeCode, grant.ItemId, now, grant.CacheUntil);
            }

            // A request refused before a code is known is counted, not kept per device: anyone can send those, and
            // a device row per made-up clientUuid would grow the store without bound.
            var client = code is null ? string.Empty : request.ClientUuid;
            var fact = new AuthorizationFact(now, code ?? string.Empty, itemId ?? string.Empty, client, outcome.Error?.ErrorCode ?? 0);
            var eventId = work.Stores.Usage.AddAuthorizationEvent(work, fact);
            if (statistics is null)
            {
                UsageStatistics.RollUpAuthorizations(work, [fact]);
                UsageStatistics.RolledUp(work, RollupSource.AuthEvent, eventId);
            }
            else
            {
                statistics.Add(eventId, fact);
            }

            return outcome;
        }
        catch
        {
            // The caller rolls this request back: a seat counted as taken by it was not.
            _seats.Forget();
            throw;
        }
    }

    /// <summary>The caller rolled back work this authority did: forget the running seat counts and the grants not yet committed.</summary>
    public void RolledBack()
    {
        _clientIds.Failed();
        _seats.Forget();
        _features.Forget();
        Grants.RolledBack();
    }

    /// <summary>The caller committed the work this authority did since the last commit.</summary>
    public void Committed()
    {
        _clientIds.Committed();
        Grants.Committed();
    }

    /// <summary>
    /// Which code a request names (SPEC §4): the code when given (it must belong to the organization when one is
    /// given too), else the organization's default code.
    /// </summary>
    public static (HandshakeCode? Code, ProtocolError? Error) ResolveCode(UnitOfWork work, AuthRequest request) =>
        ResolveCode(request, name => LicenseCatalog.FindCode(work, name), org => LicenseCatalog.FindDefaultCode(work, org));

    private static (HandshakeCode? Code, ProtocolError? Error) ResolveCode(
        AuthRequest request, Func<string, HandshakeCode?> findCode, Func<string, HandshakeCode?> findDefaultCode)
    {
        if (request.HandshakeCode is { } name)
        {
            var code = findCode(name);
            if (code is null || !code.Enabled)
            {
                return (null, new ProtocolError(ErrorCodes.CodeNotFound, $"The handshake code '{name}' does not exist or is disabled."));
            }

            if (request.OrganizationId is { } org && !string.Equals(org, code.OrganizationId, StringComparison.Ordinal))
            {
                return (code, new ProtocolError(ErrorCodes.CodeNotInOrganization, $"The handshake code '{name}' does not belong to organization '{org}'."));
            }

            return (code, null);
        }

        if (request.OrganizationId is { } organization)
        {
            var code = findDefaultCode(organization);
            return code is null || !code.Enabled
                ? (null, new ProtocolError(ErrorCodes.NoDefaultCode, $"Organization '{organization}' has no default handshake code."))
                : (code, null);
        }

        return (null, new ProtocolError(ErrorCodes.NoCodeOrOrganization, "The request names neither a handshakeCode nor an organizationId."));
    }

    /// <summary>Whether an item serves a request's product, deployment, major version and edition (SPEC §7).</summary>
    public static bool Matches(LicenseItem item, AuthRequest request) =>
        string.Equals(item.Product, request.Product, StringComparison.OrdinalIgnoreCase)
        && item.Deployment == request.Deployment
        && string.Equals(item.Version.Trim(), MajorVersion(request.Version), StringComparison.OrdinalIgnoreCase)
        && (item.Edition.Length == 0 || string.Equals(item.Edition, request.Edition, StringComparison.OrdinalIgnoreCase));

    public static string MajorVersion(string version)
    {
        var dot = version.IndexOf('.');
        return (dot < 0 ? version : version[..dot]).Trim();
    }

    /// <summary>The clone rule's fingerprint (SPEC §7): deployment, os, and domain / app id / process name.</summary>
    public static string Fingerprint(AuthRequest request) => string.Join('\u001f',
        request.Deployment.ToString(),
        request.Os?.Trim() ?? string.Empty,
        RegistrableDomain.Normalize(request.Domain) ?? string.Empty,
        request.AppId?.Trim() ?? string.Empty,
        request.ProcessName?.Trim().ToLowerInvariant() ?? string.Empty);

    /// <summary>
    /// Counts a report batch (SPEC §4). The batch as a whole is refused only when its code does not exist or a slice is
    /// out of range; each record counts only when its client holds a grant for the record's item through the code and
    /// names the item's product, and its count is within the per-slice bound. Other records are refused one by one
    /// (105, 104, 400) and listed in the answer; the rest count. A batch in which nothing counts writes nothing.
    /// </summary>
    public ReportOutcome Report(UnitOfWork work, ReportRequest request, DateTimeOffset now)
    {
        _catalog.Sync(work);
        var code = _catalog.FindCode(request.HandshakeCode);
        if (code is null || !code.Enabled)
        {
            return new ReportOutcome(null, new ProtocolError(ErrorCodes.CodeNotFound, $"The handshake code '{request.HandshakeCode}' does not exist or is disabled."));
        }

        var updateTime = _catalog.HandshakeUpdateTime(code.Code);
        // A re-sent batch is answered as all duplicates whatever its records would be today. The common case (records
        // that count) learns it from the insert of the batch's row; the others ask first.
        var batchKey = RawUsageBatch.KeyOf(request.BatchId);

        // Slices out of range make the whole batch malformed: the client's clock or buffer is broken.
        var current = TimeSlice.StartOf(now);
        for (var i = 0; i < request.Records.Count; i++)
        {
            var record = request.Records[i];
            if (record.Slice > current)
            {
                return Seen() ? Duplicate() : Malformed($"records[{i}].slice {record.Slice:O} is in the future (the current slice starts {current:O}).");
            }

            if (record.Slice < now - MaxReportAge)
            {
                return Seen() ? Duplicate() : Malformed($"records[{i}].slice {record.Slice:O} is older than {MaxReportAge.TotalDays} days.");
            }
        }

        var maxCount = _catalog.Protection().MaxCountPerSlice;
        var itemsOfCode = _catalog.ItemsOfCode(code.Code);
        var items = new Dictionary<string, LicenseItem>(StringComparer.Ordinal);
        var accepted = new List<UsageRecord>(request.Records.Count);
        var refused = new List<RefusedRecord>();

        // A batch's records mostly name one or two items: the grant is looked up once per item.
        var horizons = new Dictionary<string, DateTimeOffset?>(StringComparer.Ordinal);
        for (var i = 0; i < request.Records.Count; i++)
        {
            var record = request.Records[i];
            var item = FindItemOfCode(itemsOfCode, record.ItemId);
            if (item is null || !string.Equals(item.Product, record.Product, StringComparison.OrdinalIgnoreCase))
            {
                refused.Add(new RefusedRecord(i, ErrorCodes.NoMatchingItem));
            }
            else if (record.Count > maxCount)
            {
                refused.Add(new RefusedRecord(i, ErrorCodes.Malformed));
            }
            else if (!Granted(item.ItemId, record.Slice))
            {
                refused.Add(new RefusedRecord(i, ErrorCodes.NoGrant));
            }
            else
            {
                items[item.ItemId] = item;
                accepted.Add(record);
            }
        }

        if (accepted.Count == 0)
        {
            return Seen() ? Duplicate() : new ReportOutcome(new ReportAnswer(0, 0, updateTime) { RefusedRecords = refused }, null);
        }

        // The batch's accepted records are kept raw in one row, which also remembers its id (a re-sent batch counts nothing).
        var raw = new List<RawUsageRecord>(accepted.Count);
        foreach (var record in accepted)
        {
            raw.Add(new RawUsageRecord(record.Slice, record.ItemId, record.InstanceId ?? string.Empty, record.Count, record.Features));
        }

        if (work.Stores.Usage.AddBatch(work, ClientId(work, request.ClientUuid), batchKey, now, code.Code, RawUsageBatch.Encode(now, raw)) is not { } batchId)
        {
            return Duplicate();
        }

        Ledger.Count(work, items, request.ClientUuid, accepted, now);

        var facts = ReportFacts.Of(request.ClientUuid, code.Code, now, raw, (item, features) => _features.Admit(work, item, features));
        if (statistics is null)
        {
            UsageStatistics.RollUpUsage(work, facts);
            UsageStatistics.RolledUp(work, RollupSource.UsageBatch, batchId);
        }
        else
        {
            statistics.Add(batchId, facts);
        }

        return new ReportOutcome(new ReportAnswer(accepted.Count, 0, updateTime) { RefusedRecords = refused }, null);

        static ReportOutcome Malformed(string message) => new(null, new ProtocolError(ErrorCodes.Malformed, message));

        bool Seen() => work.Stores.Usage.BatchSeen(work, request.ClientUuid, batchKey);

        ReportOutcome Duplicate() => new(new ReportAnswer(0, request.Records.Count, updateTime), null);

        bool Granted(string itemId, DateTimeOffset slice)
        {
            if (!horizons.TryGetValue(itemId, out var horizon))
            {
                horizon = Grants.Horizon(work, request.ClientUuid, code.Code, itemId);
                horizons[itemId] = horizon;
            }

            return horizon is { } until && slice < until;
        }

        static LicenseItem? FindItemOfCode(IReadOnlyList<LicenseItem> items, string itemId)
        {
            foreach (var item in items)
            {
                if (string.Equals(item.ItemId, itemId, StringComparison.Ordinal))
                {
                    return item;
                }
            }

            return null;
        }
    }

    private long ClientId(UnitOfWork work, string clientUuid)
    {
        if (_clientIds.TryFind(clientUuid, out var known))
        {
            return known;
        }

        var id = work.Stores.Usage.ClientId(work, clientUuid);
        _clientIds.Learnt(clientUuid, id);
        return id;
    }

    /// <summary>Drops accounting state no rule needs any more: fingerprints of past slices and concurrent slots beyond the report age (batch ids go with the raw usage retention).</summary>
    public static void Prune(UnitOfWork work, DateTimeOffset now) =>
        work.Stores.Devices.Prune(work, TimeSlice.StartOf(now), now - MaxReportAge - TimeSpan.FromDays(1));

    private (AuthOutcome Outcome, string? Code, string? ItemId) Decide(
        UnitOfWork work, AuthRequest request, DateTimeOffset now, AuthContext? context)
    {
        var (code, error) = ResolveCode(request, _catalog.FindCode, _catalog.FindDefaultCode);
        if (error is not null)
        {
            return (new AuthOutcome(null, error), code?.Code, null);
        }

        if (code!.PasswordHash is { } hash)
        {
            bool valid;
            if (request.SessionPassword is null)
            {
                valid = false;
            }
            else if (context is null)
            {
                // Used directly (not through the listener's writer): check here.
                valid = passwords.Verify(code.Code, hash, request.SessionPassword);
            }
            else if (context.Password is { } check && string.Equals(check.StoredHash, hash, StringComparison.Ordinal))
            {
                valid = check.Valid;
            }
            else
            {
                // The slow hash never runs on the writer: the password changed since the request's check, so check again.
                return (new AuthOutcome(null, null) { NeedsPasswordCheck = true }, code.Code, null);
            }

            if (!valid)
            {
                return (AuthOutcome.Refused(ErrorCodes.WrongSessionPassword,
                    request.SessionPassword is null ? $"The handshake code '{code.Code}' needs a session password." : "The session password is wrong."), code.Code, null);
            }
        }

        if (CheckAllowedValues(code, request) is { } notAllowed)
        {
            return (new AuthOutcome(null, notAllowed), code.Code, null);
        }

        var candidates = _catalog.ItemsOfCode(code.Code).Where(i => Matches(i, request)).ToList();

        // A device that holds no grant on any item it could get through this code is asking for a new seat: the
        // rate limit on new seats applies, before anything is written (a limited request changes nothing).
        if (candidates.Count > 0 && context?.NewSeats is { } gate
            && !candidates.Any(item => Grants.Horizon(work, request.ClientUuid, code.Code, item.ItemId) is not null)
            && !gate.TryAdmit(code.Code, out var retryAfter))
        {
            return (new AuthOutcome(null, new ProtocolError(ErrorCodes.RateLimited,
                $"Too many new devices from this address or for the handshake code '{code.Code}'; retry in {Math.Ceiling(retryAfter.TotalSeconds)} s.")) { RetryAfter = retryAfter }, code.Code, null);
        }

        if (IsClone(work, request, now))
        {
            return (AuthOutcome.Refused(ErrorCodes.CloneSuspected,
                $"Client '{request.ClientUuid}' was seen in this time slice with another identity (deployment, os, domain, app id or process name)."), code.Code, null);
        }

        if (candidates.Count == 0)
        {
            return (AuthOutcome.Refused(ErrorCodes.NoMatchingItem,
                $"No item of the handshake code '{code.Code}' covers {request.Product} {request.Version} ({request.Deployment}{(request.Edition is null ? string.Empty : ", " + request.Edition)})."), code.Code, null);
        }

        var claim = new SeatClaim(request.ClientUuid, RegistrableDomain.Of(request.Domain), request.InstanceId ?? string.Empty, request.InstanceCount);

        // Items are tried in the code's order, except that an item on which this client already holds an active
        // seat comes first: a known device keeps its seat instead of taking a second one elsewhere.
        var usable = new List<(LicenseItem Item, ItemStatus Status)>();
        var refusals = new List<(ProtocolError Error, string ItemId)>();
        foreach (var item in candidates)
        {
            var status = item.StatusAt(now, _catalog.IsRevoked(item));
            switch (status)
            {
                case ItemStatus.Revoked:
                    refusals.Add((new ProtocolError(ErrorCodes.Revoked, $"Item {item.ItemId} is revoked."), item.ItemId));
                    break;
                case ItemStatus.NotYetEffective:
                    refusals.Add((new ProtocolError(ErrorCodes.NotYetEffective, $"Item {item.ItemId} is not effective before {item.StartDate:yyyy-MM-dd}."), item.ItemId));
                    break;
                case ItemStatus.Expired:
                    refusals.Add((new ProtocolError(ErrorCodes.Expired, $"Item {item.ItemId} expired on {item.ExpirationDate:yyyy-MM-dd} and its {LicenseItem.GraceDays} days of grace are over."), item.ItemId));
                    break;
                default:
                    usable.Add((item, status));
                    break;
            }
        }

        var ordered = usable.Count < 2
            ? usable
            : usable.OrderByDescending(u => Ledger.HoldsActiveSeat(work, u.Item, claim, now)).ToList();
        var quotaRefusals = new List<(ProtocolError Error, string ItemId)>();
        foreach (var (item, status) in ordered)
        {
            var seat = Ledger.TryTake(work, item, claim, now, _seats);
            if (seat.Error is not null)
            {
                quotaRefusals.Add((seat.Error, item.ItemId));
                continue;
            }

            var warning = status == ItemStatus.InGrace
                ? $"Item {item.ItemId} expired on {item.ExpirationDate:yyyy-MM-dd}; it stops granting after {item.GraceEndsAt.AddTicks(-1):yyyy-MM-dd} (grace)."
                : null;
            warning = warning is null ? seat.Warning : seat.Warning is null ? warning : warning + " " + seat.Warning;
            var cacheUntil = item.GraceEndsAt < now + MaxOfflineCache ? item.GraceEndsAt : now + MaxOfflineCache;
            var grant = new AuthGrant(code.Code, item.ItemId, item.Mode, seat.HeldUntil ?? item.GraceEndsAt, cacheUntil,
                ReportIntervalSeconds, _catalog.HandshakeUpdateTime(code.Code), now, warning);
            return (new AuthOutcome(grant, null), code.Code, item.ItemId);
        }

        // Nothing granted. A quota refusal names a live item, so it tells the client more than a date or a
        // revocation of another item; among refusals of one kind the code's order decides.
        var (refusal, refusedItem) = quotaRefusals.Count > 0 ? quotaRefusals[0] : refusals[0];
        return (new AuthOutcome(null, refusal), code.Code, refusedItem);
    }

    /// <summary>
    /// The code's validation values (SPEC §2): allowed domains apply to Browser requests, app ids to Mobile ones,
    /// process names to Desktop, Server and Embedded ones. An empty list allows everything.
    /// </summary>
    private static ProtocolError? CheckAllowedValues(HandshakeCode code, AuthRequest request)
    {
        switch (request.Deployment)
        {
            case Deployment.Browser when code.AllowedDomains.Count > 0:
                var host = RegistrableDomain.Normalize(request.Domain);
                return host is not null && code.AllowedDomains.Select(RegistrableDomain.Normalize).Any(allowed => allowed is not null && DomainAllowed(host, allowed))
                    ? null
                    : new ProtocolError(ErrorCodes.NotAllowed, $"The domain '{request.Domain}' is not allowed for the handshake code '{code.Code}'.");
            case Deployment.Mobile when code.AllowedAppIds.Count > 0:
                return request.AppId is not null && code.AllowedAppIds.Contains(request.AppId.Trim(), StringComparer.OrdinalIgnoreCase)
                    ? null
                    : new ProtocolError(ErrorCodes.NotAllowed, $"The app id '{request.AppId}' is not allowed for the handshake code '{code.Code}'.");
            case Deployment.Desktop or Deployment.Server or Deployment.Embedded when code.AllowedProcessNames.Count > 0:
                return request.ProcessName is not null && code.AllowedProcessNames.Contains(request.ProcessName.Trim(), StringComparer.OrdinalIgnoreCase)
                    ? null
                    : new ProtocolError(ErrorCodes.NotAllowed, $"The process name '{request.ProcessName}' is not allowed for the handshake code '{code.Code}'.");
            default:
                return null;
        }
    }

    /// <summary>An allowed domain admits itself and its subdomains; a leading "*." means the same.</summary>
    private static bool DomainAllowed(string host, string allowed)
    {
        var bare = allowed.StartsWith("*.", StringComparison.Ordinal) ? allowed[2..] : allowed;
        return host == bare || host.EndsWith("." + bare, StringComparison.Ordinal);
    }

    private static bool IsClone(UnitOfWork work, AuthRequest request, DateTimeOffset now)
    {
        var fingerprint = Fingerprint(request);
        var first = work.Stores.Devices.FirstFingerprint(work, request.ClientUuid, TimeSlice.StartOf(now), fingerprint);
        return !string.Equals(first, fingerprint, StringComparison.Ordinal);
    }

}
