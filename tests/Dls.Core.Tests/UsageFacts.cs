using Dls.Core.Storage;
using Dls.Core.Usage;

namespace Dls.Core.Tests;

/// <summary>
/// Known facts written through <see cref="UsageStatistics"/>, and a naive oracle that computes what Get-DlsUsage
/// must answer straight from those facts (no roll-ups, no shared code with the query).
/// </summary>
internal static class UsageFacts
{
    public static readonly TimeSpan Slice = TimeSpan.FromMinutes(3);

    public static DateTimeOffset Utc(int year, int month, int day, int hour = 0, int minute = 0, int second = 0) =>
        new(year, month, day, hour, minute, second, TimeSpan.Zero);

    public static void Write(DlsStore store, IEnumerable<UsageFact> usage, IEnumerable<AuthorizationFact> authorizations)
    {
        store.Write((connection, transaction) =>
        {
            UsageStatistics.RecordUsage(connection, transaction, usage);
            UsageStatistics.RecordAuthorizations(connection, transaction, authorizations);
        });
    }

    public static UsageFact Use(DateTimeOffset slice, string code, string item, string client, long count, string instance = "", Dictionary<string, long>? features = null) =>
        new(slice.AddSeconds(30), slice, code, item, client, instance, count, features);

    /// <summary>A few hundred facts around a month boundary, in two codes that share an item, with instances, features and refusals.</summary>
    public static (List<UsageFact> Usage, List<AuthorizationFact> Authorizations) Random(int seed)
    {
        var random = new Random(seed);
        var start = Utc(2026, 9, 29, 21, 0);
        // Slices clustered on hour, day and month edges so that peaks and edges are exercised.
        var slices = Enumerable.Range(0, 60).Select(i => start.AddMinutes(3 * i)).ToList();
        slices.AddRange(Enumerable.Range(0, 50).Select(i => Utc(2026, 9, 30, 23, 0).AddMinutes(3 * i)));
        slices.AddRange(Enumerable.Range(0, 20).Select(i => Utc(2026, 10, 2, 10, 0).AddMinutes(3 * i)));
        var pairs = new[] { ("216998-a", "I1"), ("216998-a", "S"), ("216998-b", "S"), ("216998-b", "I2") };
        var usage = new List<UsageFact>();
        for (var i = 0; i < 500; i++)
        {
            var (code, item) = pairs[random.Next(pairs.Length)];
            var features = random.Next(3) == 0 ? new Dictionary<string, long> { ["barcode"] = random.Next(1, 5), ["ocr"] = random.Next(0, 3) } : null;
            usage.Add(Use(slices[random.Next(slices.Count)], code, item, "client-" + random.Next(8), random.Next(1, 20), random.Next(3) switch { 0 => "", 1 => "p1", _ => "p2" }, features));
        }

        var authorizations = new List<AuthorizationFact>();
        for (var i = 0; i < 150; i++)
        {
            var time = slices[random.Next(slices.Count)].AddSeconds(random.Next(180));
            var client = "client-" + random.Next(10);
            authorizations.Add(random.Next(10) switch
            {
                0 => new AuthorizationFact(time, "", "", client, 101),
                1 => new AuthorizationFact(time, "216998-b", "", client, 104),
                2 or 3 => new AuthorizationFact(time, pairs[random.Next(pairs.Length)].Item1, pairs[random.Next(pairs.Length)].Item2, client, 120),
                _ => new AuthorizationFact(time, pairs[i % 4].Item1, pairs[i % 4].Item2, client, 0),
            });
        }

        return (usage, authorizations);
    }

    /// <summary>What Get-DlsUsage must answer, computed naively from the facts.</summary>
    public static List<UsageRow> Expected(
        IReadOnlyList<UsageFact> usage, IReadOnlyList<AuthorizationFact> authorizations,
        DateTimeOffset from, DateTimeOffset to, UsageInterval interval, UsageGrouping by, string? code, string? item)
    {
        var a = CeilSlice(from);
        var b = CeilSlice(to);
        bool InRange(DateTimeOffset slice) => slice >= a && slice < b;
        bool Matches(string c, string i) => (code is null || c == code) && (item is null || i == item);
        (DateTime, DateTime) Period(DateTimeOffset slice)
        {
            var s = slice.UtcDateTime;
            DateTime start, end;
            switch (interval)
            {
                case UsageInterval.Slice: start = s; end = s.AddMinutes(3); break;
                case UsageInterval.Hour: start = new DateTime(s.Year, s.Month, s.Day, s.Hour, 0, 0, DateTimeKind.Utc); end = start.AddHours(1); break;
                case UsageInterval.Day: start = s.Date; end = start.AddDays(1); break;
                case UsageInterval.Month: start = new DateTime(s.Year, s.Month, 1, 0, 0, 0, DateTimeKind.Utc); end = start.AddMonths(1); break;
                default: return (a.UtcDateTime, b.UtcDateTime);
            }

            return (start < a.UtcDateTime ? a.UtcDateTime : start, end > b.UtcDateTime ? b.UtcDateTime : end);
        }

        var uses = usage.Where(u => InRange(u.Slice) && Matches(u.HandshakeCode, u.ItemId)).ToList();
        var auths = authorizations.Where(f => InRange(StartOfSlice(f.Time)) && Matches(f.HandshakeCode, f.ItemId)).ToList();
        var rows = new List<UsageRow>();
        switch (by)
        {
            case UsageGrouping.Code:
            case UsageGrouping.Item:
                string Key(string c, string i) => by == UsageGrouping.Code ? c : i;
                var keys = uses.Select(u => (Period(u.Slice), Key(u.HandshakeCode, u.ItemId)))
                    .Concat(auths.Select(f => (Period(StartOfSlice(f.Time)), Key(f.HandshakeCode, f.ItemId)))).Distinct();
                foreach (var (period, key) in keys)
                {
                    var u = uses.Where(x => Period(x.Slice) == period && Key(x.HandshakeCode, x.ItemId) == key).ToList();
                    var f = auths.Where(x => Period(StartOfSlice(x.Time)) == period && Key(x.HandshakeCode, x.ItemId) == key).ToList();
                    var bySlice = u.GroupBy(x => x.Slice).ToList();
                    rows.Add(new UsageRow(period.Item1, period.Item2,
                        by == UsageGrouping.Code ? key : code, by == UsageGrouping.Item ? key : item, null, null,
                        u.Sum(x => x.Count), u.Select(x => x.ClientUuid).Distinct().Count(),
                        bySlice.Count == 0 ? 0 : bySlice.Max(g => g.Select(x => x.ClientUuid).Distinct().Count()),
                        bySlice.Count == 0 ? 0 : bySlice.Max(g => g.Select(x => (x.ClientUuid, x.InstanceId)).Distinct().Count()),
                        f.Count, f.Count(x => x.ErrorCode != 0)));
                }

                break;
            case UsageGrouping.Device:
                // One row per device, summed over its codes and items; the code and item columns show the filters.
                var deviceKeys = uses.Select(u => (Period(u.Slice), u.ClientUuid))
                    .Concat(auths.Select(f => (Period(StartOfSlice(f.Time)), f.ClientUuid))).Distinct();
                foreach (var (period, client) in deviceKeys)
                {
                    var f = auths.Where(x => Period(StartOfSlice(x.Time)) == period && x.ClientUuid == client).ToList();
                    rows.Add(new UsageRow(period.Item1, period.Item2, code, item, client, null,
                        uses.Where(x => Period(x.Slice) == period && x.ClientUuid == client).Sum(x => x.Count),
                        null, null, null, f.Count, f.Count(x => x.ErrorCode != 0)));
                }

                break;
            default:
                foreach (var group in uses.Where(u => u.Features is not null)
                    .SelectMany(u => u.Features!.Select(p => (Period: Period(u.Slice), Feature: p.Key, Count: p.Value)))
                    .GroupBy(x => (x.Period, x.Feature)))
                {
                    rows.Add(new UsageRow(group.Key.Period.Item1, group.Key.Period.Item2, code, item, null, group.Key.Feature,
                        group.Sum(x => x.Count), null, null, null, null, null));
                }

                break;
        }

        return rows.OrderBy(r => r.PeriodStart).ThenBy(r => r.HandshakeCode, StringComparer.Ordinal).ThenBy(r => r.ItemId, StringComparer.Ordinal)
            .ThenBy(r => r.ClientUuid, StringComparer.Ordinal).ThenBy(r => r.Feature, StringComparer.Ordinal).ToList();
    }

    public static DateTimeOffset StartOfSlice(DateTimeOffset time) =>
        new(time.UtcTicks - (time.UtcTicks % Slice.Ticks), TimeSpan.Zero);

    private static DateTimeOffset CeilSlice(DateTimeOffset time)
    {
        var floor = StartOfSlice(time);
        return floor == time ? floor : floor + Slice;
    }
}
