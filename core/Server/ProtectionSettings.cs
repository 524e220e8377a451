using System.Globalization;
using Dls.Core.Audit;
using Dls.Core.Errors;
using Dls.Core.Storage;

namespace Dls.Core.Server;

/// <summary>
/// How the listener protects the accounting from hostile or broken clients (SPEC §4 "Only authorized usage counts",
/// "Rate limits"; docs/security.md). Limits are per minute; 0 turns a limit off. Known devices (clients that hold a
/// grant) are never limited by the failure limits, and a device that already holds a grant on an item never takes a
/// new seat on it.
/// </summary>
/// <param name="MaxCountPerSlice">The largest <c>count</c> one report record (one device, one slice) may carry.</param>
/// <param name="NewSeatsPerMinute">New seats (a device's first grant on an item) per source address.</param>
/// <param name="NewSeatsPerMinutePerCode">New seats per handshake code, over all addresses.</param>
/// <param name="FailedAuthorizationsPerMinute">Failed session-password checks and refused requests per source address.</param>
/// <param name="FailedAuthorizationsPerMinutePerCode">The same per handshake code, over all addresses.</param>
/// <param name="PublicHomePage">Whether the home page shows the organization and license items to non-loopback clients.</param>
public sealed record ProtectionSettings(
    long MaxCountPerSlice,
    int NewSeatsPerMinute,
    int NewSeatsPerMinutePerCode,
    int FailedAuthorizationsPerMinute,
    int FailedAuthorizationsPerMinutePerCode,
    bool PublicHomePage)
{
    public const long MaxCountLimit = 1_000_000_000;
    public const int MaxPerMinute = 1_000_000;

    public static ProtectionSettings Default { get; } = new(100_000, 60, 600, 30, 300, false);

    /// <summary>The settings stored in the store (defaults for those never set), read in the caller's unit of work.</summary>
    public static ProtectionSettings Read(UnitOfWork work)
    {
        var values = work.Stores.Server.Settings(work);
        var d = Default;
        return new ProtectionSettings(
            Long(values, nameof(MaxCountPerSlice), d.MaxCountPerSlice),
            (int)Long(values, nameof(NewSeatsPerMinute), d.NewSeatsPerMinute),
            (int)Long(values, nameof(NewSeatsPerMinutePerCode), d.NewSeatsPerMinutePerCode),
            (int)Long(values, nameof(FailedAuthorizationsPerMinute), d.FailedAuthorizationsPerMinute),
            (int)Long(values, nameof(FailedAuthorizationsPerMinutePerCode), d.FailedAuthorizationsPerMinutePerCode),
            Long(values, nameof(PublicHomePage), d.PublicHomePage ? 1 : 0) != 0);
    }

    public static ProtectionSettings Read(DlsStore store) => store.Query(Read);

    /// <summary>
    /// Changes the given settings (null leaves one as it is), validated first so a bad value changes nothing, and
    /// audited in the same transaction.
    /// </summary>
    public static ProtectionSettings Set(
        DlsStore store, DateTimeOffset now, long? maxCountPerSlice = null, int? newSeatsPerMinute = null, int? newSeatsPerMinutePerCode = null,
        int? failedAuthorizationsPerMinute = null, int? failedAuthorizationsPerMinutePerCode = null, bool? publicHomePage = null)
    {
        var changes = new List<(string Name, long Value)>();
        if (maxCountPerSlice is { } max)
        {
            Check(max, 1, MaxCountLimit, "MaxCountPerSlice");
            changes.Add((nameof(MaxCountPerSlice), max));
        }

        AddRate(changes, nameof(NewSeatsPerMinute), newSeatsPerMinute);
        AddRate(changes, nameof(NewSeatsPerMinutePerCode), newSeatsPerMinutePerCode);
        AddRate(changes, nameof(FailedAuthorizationsPerMinute), failedAuthorizationsPerMinute);
        AddRate(changes, nameof(FailedAuthorizationsPerMinutePerCode), failedAuthorizationsPerMinutePerCode);
        if (publicHomePage is { } show)
        {
            changes.Add((nameof(PublicHomePage), show ? 1 : 0));
        }

        return store.Write(work =>
        {
            if (changes.Count == 0)
            {
                return Read(work);
            }

            work.Stores.Server.SetSettings(work, changes.Select(c => KeyValuePair.Create(c.Name, c.Value.ToString(CultureInfo.InvariantCulture))));
            AuditLog.Write(work, now, "Server.SetProtection", "listener",
                string.Join(", ", changes.Select(c => $"{c.Name}={c.Value.ToString(CultureInfo.InvariantCulture)}")));
            return Read(work);
        });
    }

    private static void AddRate(List<(string, long)> changes, string name, int? value)
    {
        if (value is { } rate)
        {
            Check(rate, 0, MaxPerMinute, name);
            changes.Add((name, rate));
        }
    }

    private static void Check(long value, long min, long max, string name)
    {
        if (value < min || value > max)
        {
            throw new DlsException(ErrorIds.ProtectionSettingInvalid, DlsErrorKind.InvalidArgument,
                $"-{name} must be between {min.ToString("N0", CultureInfo.InvariantCulture)} and {max.ToString("N0", CultureInfo.InvariantCulture)}; {value.ToString(CultureInfo.InvariantCulture)} was given.", value);
        }
    }

    private static long Long(IReadOnlyDictionary<string, string> values, string name, long fallback) =>
        values.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;
}
