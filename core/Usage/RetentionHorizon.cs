namespace Dls.Core.Usage;

/// <summary>
/// What retention has removed, as a query needs to know it (see <see cref="UsageRetention"/>): before
/// <see cref="Before"/> (a UTC midnight, unix seconds) the slice and hour rows and the per-device slice, hour and day
/// rows are gone; before the start of its month, the per-device month rows and the day device sets too. Day and month
/// roll-ups (and feature counts) and month device sets are never removed.
/// </summary>
internal readonly record struct RetentionHorizon(long Before)
{
    public long MonthBefore => UsagePeriods.Floor(UsageGrain.Month, Before);

    /// <summary>Whether the roll-up (or feature) rows of the <paramref name="grain"/> period starting at <paramref name="start"/> are removed.</summary>
    public bool RemovedRollup(UsageGrain grain, long start) => grain <= UsageGrain.Hour && start < Before;

    /// <summary>Whether the per-device rows of the period are removed.</summary>
    public bool RemovedDeviceRows(UsageGrain grain, long start) => start < (grain == UsageGrain.Month ? MonthBefore : Before);

    /// <summary>Whether who was seen in the period (device set, or per-device rows for slices and hours) is removed.</summary>
    public bool RemovedDeviceSet(UsageGrain grain, long start) => grain switch
    {
        UsageGrain.Month => false,
        UsageGrain.Day => start < MonthBefore,
        _ => start < Before,
    };
}
