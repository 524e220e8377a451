namespace Dls.Core.Usage;

/// <summary>Usage is recorded per 3-minute slice aligned to UTC midnight: 480 a day (SPEC §2).</summary>
public static class TimeSlice
{
    public static readonly TimeSpan Length = TimeSpan.FromMinutes(3);

    public const int PerDay = 480;

    /// <summary>The start of the slice holding <paramref name="time"/>.</summary>
    public static DateTimeOffset StartOf(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        var ticks = utc.UtcTicks - (utc.UtcTicks % Length.Ticks);
        return new DateTimeOffset(ticks, TimeSpan.Zero);
    }

    /// <summary>Whether <paramref name="time"/> is exactly a slice start (what report records must carry).</summary>
    public static bool IsStart(DateTimeOffset time) => time.UtcTicks % Length.Ticks == 0;
}
