using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Dls.Core.Crypto;

/// <summary>base64url as in JWS: written without padding, read with or without it (SPEC §7).</summary>
public static class Base64Url
{
    /// <summary>The length of <paramref name="byteCount"/> bytes in base64url without padding.</summary>
    public static int EncodedLength(int byteCount) => (int)(((long)byteCount * 4 + 2) / 3);

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var length = EncodedLength(bytes.Length);
        byte[]? rented = null;
        var utf8 = length <= 256 ? stackalloc byte[length] : (rented = ArrayPool<byte>.Shared.Rent(length)).AsSpan(0, length);
        try
        {
            EncodeToUtf8(bytes, utf8);
            return Encoding.ASCII.GetString(utf8);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// Writes base64url of <paramref name="bytes"/> as ASCII into exactly <see cref="EncodedLength"/> bytes of
    /// <paramref name="destination"/>, so a token can be assembled in one buffer without intermediate strings.
    /// </summary>
    public static void EncodeToUtf8(ReadOnlySpan<byte> bytes, Span<byte> destination)
    {
        var length = EncodedLength(bytes.Length);
        if (destination.Length < length)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; {length} are needed.", nameof(destination));
        }

        // Whole 3-byte groups encode without padding straight into place; the 1 or 2 bytes left over go through a
        // small buffer so that their '=' padding is never written.
        var whole = bytes.Length - bytes.Length % 3;
        Base64.EncodeToUtf8(bytes[..whole], destination, out _, out var written);
        if (whole < bytes.Length)
        {
            Span<byte> tail = stackalloc byte[4];
            Base64.EncodeToUtf8(bytes[whole..], tail, out _, out _);
            tail[..(length - written)].CopyTo(destination[written..]);
        }

        var encoded = destination[..length];
        encoded.Replace((byte)'+', (byte)'-');
        encoded.Replace((byte)'/', (byte)'_');
    }

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
