using System;

namespace Dls.Client.Internal;

/// <summary>base64url without padding, read strictly: only its canonical spelling decodes.</summary>
internal static class Base64Url
{
    public static string Encode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>
    /// The bytes of <paramref name="text"/>, or null when it is not canonical base64url: other characters, padding, or
    /// a last character whose unused low bits are set (two spellings of the same bytes; a changed byte must not verify).
    /// </summary>
    public static byte[]? DecodeCanonical(string text)
    {
        if (text.Length % 4 == 1)
        {
            return null;
        }

        foreach (var c in text)
        {
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            {
                return null;
            }
        }

        var standard = text.Replace('-', '+').Replace('_', '/');
        standard += new string('=', (4 - (standard.Length % 4)) % 4);
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(standard);
        }
        catch (FormatException)
        {
            return null;
        }

        return Encode(bytes) == text ? bytes : null;
    }
}
