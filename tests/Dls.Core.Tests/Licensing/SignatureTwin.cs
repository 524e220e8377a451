using System.Numerics;
using System.Text;
using System.Text.Json;
using Dls.Core.Crypto;

namespace Dls.Core.Tests.Licensing;

/// <summary>
/// ECDSA's malleability, for tests: (r, n − s) verifies whenever (r, s) does. The order n is written out here
/// rather than taken from the code under test, so the tests check it independently.
/// </summary>
public static class SignatureTwin
{
    public static readonly BigInteger Order =
        BigInteger.Parse("0FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", System.Globalization.NumberStyles.HexNumber);

    public static BigInteger S(byte[] signature) => new(signature.AsSpan(32), isUnsigned: true, isBigEndian: true);

    /// <summary>The other valid spelling of an r‖s signature: s replaced by n − s.</summary>
    public static byte[] Of(byte[] signature)
    {
        var twin = (byte[])signature.Clone();
        var other = Order - S(signature);
        Array.Clear(twin, 32, 32);
        other.TryWriteBytes(twin.AsSpan(64 - other.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);
        return twin;
    }

    /// <summary>The same license file with its signature replaced by the high-S twin.</summary>
    public static string HighSFile(string file)
    {
        var line = file.TrimEnd('\n');
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        var signature = root.GetProperty("signature").GetString()!;
        var twin = Base64Url.Encode(Of(Base64Url.Decode(signature)));
        return LicenseFiles.Envelope(root.GetProperty("keyId").GetString()!, root.GetProperty("payload").GetString()!, twin) + "\n";
    }

    public static byte[] Bytes(string text) => Encoding.ASCII.GetBytes(text);
}
