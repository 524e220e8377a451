using System;
using System.Collections.Generic;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Dls.Client.Internal;

/// <summary>The claims of an authorization token that verified.</summary>
internal sealed class TokenClaims
{
    public string ServerUuid { get; set; } = string.Empty;
    public string ClientUuid { get; set; } = string.Empty;
    public string HandshakeCode { get; set; } = string.Empty;
    public string ItemId { get; set; } = string.Empty;
    public string Mode { get; set; } = string.Empty;
    public DateTimeOffset GrantedUntil { get; set; }
    public DateTimeOffset CacheUntil { get; set; }
    public int ReportIntervalSeconds { get; set; }
    public DateTimeOffset HandshakeUpdateTime { get; set; }
    public DateTimeOffset ServerTime { get; set; }
    public string? Warning { get; set; }
}

/// <summary>
/// Verifies the server's compact ES256 tokens (docs/protocol.md, "The token") with the license key's public key, offline:
/// header <c>{"alg":"ES256",...}</c>, signature r‖s over the ASCII of <c>header.claims</c>, every part canonical base64url.
/// </summary>
internal sealed class TokenVerifier : IDisposable
{
    // SubjectPublicKeyInfo DER of an uncompressed P-256 key, up to the point's 0x04: SEQUENCE { SEQUENCE { id-ecPublicKey,
    // prime256v1 }, BIT STRING }. The server's keys are always P-256 (SPEC §2).
    private static readonly byte[] P256SpkiPrefix =
    {
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07,
        0x03, 0x42, 0x00, 0x04,
    };

    private readonly ECDsa _key;

    public TokenVerifier(byte[] subjectPublicKeyInfo)
    {
        _key = ImportPublicKey(subjectPublicKeyInfo);
    }

    /// <summary>
    /// A P-256 public key from its SubjectPublicKeyInfo DER. Read by hand: .NET Standard 2.0 has no
    /// ImportSubjectPublicKeyInfo, and the DER of a P-256 key is a fixed prefix and the point.
    /// </summary>
    public static ECDsa ImportPublicKey(byte[] der)
    {
        if (der.Length != P256SpkiPrefix.Length + 64 || !StartsWith(der, P256SpkiPrefix))
        {
            throw new FormatException("The license key's serverPublicKey is not an ECDSA P-256 public key (SubjectPublicKeyInfo).");
        }

        var x = new byte[32];
        var y = new byte[32];
        Buffer.BlockCopy(der, P256SpkiPrefix.Length, x, 0, 32);
        Buffer.BlockCopy(der, P256SpkiPrefix.Length + 32, y, 0, 32);
        try
        {
#if NET462
            // .NET Framework 4.6.2 imports a public point through CNG: BCRYPT_ECCPUBLIC_BLOB, magic "ECS1", 32-byte coordinates.
            var blob = new byte[8 + 64];
            Buffer.BlockCopy(BitConverter.GetBytes(0x31534345), 0, blob, 0, 4);
            Buffer.BlockCopy(BitConverter.GetBytes(32), 0, blob, 4, 4);
            Buffer.BlockCopy(x, 0, blob, 8, 32);
            Buffer.BlockCopy(y, 0, blob, 40, 32);
            return new ECDsaCng(CngKey.Import(blob, CngKeyBlobFormat.EccPublicBlob));
#else
            return ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = x, Y = y } });
#endif
        }
        catch (CryptographicException error)
        {
            throw new FormatException("The license key's serverPublicKey is not a point of P-256.", error);
        }
    }

    /// <summary>The token's claims when it verifies, else null (any changed byte: null).</summary>
    public TokenClaims? Verify(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        var header = Base64Url.DecodeCanonical(parts[0]);
        var claims = Base64Url.DecodeCanonical(parts[1]);
        var signature = Base64Url.DecodeCanonical(parts[2]);
        if (header is null || claims is null || signature is null || signature.Length != 64)
        {
            return null;
        }

        try
        {
            using (var headerJson = JsonDocument.Parse(header))
            {
                if (headerJson.RootElement.ValueKind != JsonValueKind.Object
                    || !headerJson.RootElement.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String || alg.GetString() != "ES256")
                {
                    return null;
                }
            }

            // .NET Standard's VerifyData reads the signature as IEEE P1363 (r‖s), the form the server writes.
            if (!_key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature, HashAlgorithmName.SHA256))
            {
                return null;
            }

            using var json = JsonDocument.Parse(claims);
            return Read(json.RootElement);
        }
        catch (Exception error) when (error is JsonException or FormatException or InvalidOperationException or KeyNotFoundException or OverflowException)
        {
            return null;
        }
    }

    public void Dispose() => _key.Dispose();

    private static TokenClaims Read(JsonElement root) => new()
    {
        ServerUuid = root.GetProperty("serverUuid").GetString() ?? throw new FormatException(),
        ClientUuid = root.GetProperty("clientUuid").GetString() ?? throw new FormatException(),
        HandshakeCode = root.GetProperty("handshakeCode").GetString() ?? throw new FormatException(),
        ItemId = root.GetProperty("itemId").GetString() ?? throw new FormatException(),
        Mode = root.GetProperty("mode").GetString() ?? throw new FormatException(),
        GrantedUntil = Time(root.GetProperty("grantedUntil")),
        CacheUntil = Time(root.GetProperty("cacheUntil")),
        ReportIntervalSeconds = root.GetProperty("reportIntervalSeconds").GetInt32(),
        HandshakeUpdateTime = Time(root.GetProperty("handshakeUpdateTime")),
        ServerTime = Time(root.GetProperty("serverTime")),
        Warning = root.TryGetProperty("warning", out var warning) ? warning.GetString() : null,
    };

    public static DateTimeOffset Time(JsonElement value) =>
        DateTimeOffset.Parse(value.GetString() ?? throw new FormatException(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private static bool StartsWith(byte[] bytes, byte[] prefix)
    {
        for (var i = 0; i < prefix.Length; i++)
        {
            if (bytes[i] != prefix[i])
            {
                return false;
            }
        }

        return true;
    }
}
