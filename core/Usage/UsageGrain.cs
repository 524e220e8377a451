namespace Dls.Core.Usage;

/// <summary>The period lengths roll-ups are kept at (stored as their number in the <c>grain</c> column).</summary>
internal enum UsageGrain
{
    Slice = 0,
    Hour = 1,
    Day = 2,
    Month = 3,
}

/// <summary>
/// Period arithmetic on unix seconds (UTC). Periods are aligned to UTC: slices to 3 minutes from midnight,
/// hours, days, and calendar months.
/// </summary>
internal static class UsagePeriods
{
    public const long SliceSeconds = 180;

    public static readonly UsageGrain[] All = [UsageGrain.Slice, UsageGrain.Hour, UsageGrain.Day, UsageGrain.Month];

    public static long ToSeconds(DateTimeOffset time) => time.ToUnixTimeSeconds();

    public static DateTime ToUtc(long seconds) => DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime;

    /// <summary>The start of the <paramref name="grain"/> period holding <paramref name="seconds"/>.</summary>
    public static long Floor(UsageGrain grain, long seconds) => grain switch
    {
        UsageGrain.Slice => FloorBy(seconds, SliceSeconds),
        UsageGrain.Hour => FloorBy(seconds, 3600),
        UsageGrain.Day => FloorBy(seconds, 86400),
        _ => MonthStart(seconds),
    };

    /// <summary>The start of the period after the one starting at <paramref name="start"/>.</summary>
    public static long Next(UsageGrain grain, long start) => grain switch
    {
        UsageGrain.Slice => start + SliceSeconds,
        UsageGrain.Hour => start + 3600,
        UsageGrain.Day => start + 86400,
        _ => new DateTimeOffset(ToUtc(start).AddMonths(1)).ToUnixTimeSeconds(),
    };

    /// <summary>The first period start at or after <paramref name="seconds"/>.</summary>
    public static long Ceiling(UsageGrain grain, long seconds)
    {
        var floor = Floor(grain, seconds);
        return floor == seconds ? floor : Next(grain, floor);
    }

    /// <summary>
    /// Splits the slice-aligned range [<paramref name="from"/>, <paramref name="to"/>) into runs of whole periods,
    /// as coarse as possible but never coarser than <paramref name="coarsest"/>: whole months in the middle, then days,
    /// hours and slices towards the edges. Each run is [Start, End) at one grain.
    /// </summary>
    public static List<(UsageGrain Grain, long Start, long End)> Decompose(long from, long to, UsageGrain coarsest)
    {
        var runs = new List<(UsageGrain, long, long)>();
        DecomposeInto(runs, from, to, coarsest);
        return runs;
    }

    private static void DecomposeInto(List<(UsageGrain, long, long)> runs, long from, long to, UsageGrain grain)
    {
        if (from >= to)
        {
            return;
        }

        if (grain == UsageGrain.Slice)
        {
            runs.Add((grain, from, to));
            return;
        }

        var first = Ceiling(grain, from);
        var last = Floor(grain, to);
        if (first >= last)
        {
            DecomposeInto(runs, from, to, grain - 1);
            return;
        }

        DecomposeInto(runs, from, first, grain - 1);
        runs.Add((grain, first, last));
        DecomposeInto(runs, last, to, grain - 1);
    }

    private static long FloorBy(long seconds, long length)
    {
        var remainder = seconds % length;
        return remainder < 0 ? seconds - remainder - length : seconds - remainder;
    }

    private static long MonthStart(long seconds)
    {
        var utc = ToUtc(seconds);
        return new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();
    }
}
