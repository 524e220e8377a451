namespace Dls.Core.Crypto;

/// <summary>base64url as in JWS: written without padding, read with or without it (SPEC §7).</summary>
public static class Base64Url
{
    public static string Encode(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Decodes base64url; <see cref="FormatException"/> for anything that is not.</summary>
    public static byte[] Decode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Contains('+') || text.Contains('/'))
        {
            throw new FormatException("Not base64url: '+' and '/' belong to plain base64.");
        }

        var trimmed = text.TrimEnd('=');
        if (text.Length - trimmed.Length > 2)
        {
            throw new FormatException("Too much padding.");
        }

        var padded = trimmed.Replace('-', '+').Replace('_', '/');
        switch (padded.Length % 4)
        {
            case 2: padded += "=="; break;
            case 3: padded += "="; break;
            case 1: throw new FormatException("Invalid base64url length.");
        }

        return Convert.FromBase64String(padded);
    }
}
