using System;

namespace Dls.Client.Internal;

/// <summary>Usage is summed per 3-minute slice aligned to UTC midnight (480 a day), as the server keeps it.</summary>
internal static class TimeSlice
{
    public static readonly TimeSpan Length = TimeSpan.FromMinutes(3);

    /// <summary>The server accepts slices up to 30 days old; the client drops older usage a slice before that.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromDays(30) - TimeSpan.FromMinutes(3);

    public static DateTimeOffset Start(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % Length.Ticks), TimeSpan.Zero);
    }

    public static string Format(DateTimeOffset slice) => slice.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
