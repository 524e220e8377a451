using System.Globalization;

namespace Dls.Core;

/// <summary>
/// How instants are stored: ISO-8601 UTC with a fixed width (<c>yyyy-MM-ddTHH:mm:ss.fffffffZ</c>) so that text
/// order is time order and SQL range comparisons work on the column.
/// </summary>
public static class Timestamps
{
    private const string Format_ = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    public static string Format(DateTimeOffset time) => time.UtcDateTime.ToString(Format_, CultureInfo.InvariantCulture);

    public static DateTimeOffset Parse(string text) =>
        DateTimeOffset.ParseExact(text, Format_, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
