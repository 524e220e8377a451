using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Dls.Core.Crypto;

/// <summary>
/// Compact JWS (RFC 7515) with ES256 (P-256, SHA-256, IEEE P1363 r‖s signature), the format of authorization
/// tokens. Written here with the platform's ECDsa rather than a JWT package: the format is three base64url parts,
/// signing is one call, and core stays free of dependencies that must also load in PowerShell 7.4.
/// Any standard JOSE library verifies these tokens with the server's public key.
/// </summary>
public static class AuthorizationTokens
{
    /// <summary>Signs <paramref name="claims"/> (serialized as-is) with a header naming ES256 and <paramref name="keyId"/>.</summary>
    public static string Sign(ECDsa key, string keyId, ReadOnlySpan<byte> claimsJson)
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["alg"] = "ES256", ["typ"] = "JWT", ["kid"] = keyId });
        var signingInput = Base64Url.Encode(header) + "." + Base64Url.Encode(claimsJson);
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url.Encode(signature);
    }

    /// <summary>Verifies a token with a public key and returns its claims, or null when it does not verify.</summary>
    public static JsonDocument? Verify(ECDsa publicKey, string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        try
        {
            using var header = JsonDocument.Parse(Base64Url.Decode(parts[0]));
            if (!header.RootElement.TryGetProperty("alg", out var alg) || alg.GetString() != "ES256")
            {
                return null;
            }

            var signature = Base64Url.Decode(parts[2]);
            var input = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
            return publicKey.VerifyData(input, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
                ? JsonDocument.Parse(Base64Url.Decode(parts[1]))
                : null;
        }
        catch (Exception error) when (error is FormatException or JsonException)
        {
            return null;
        }
    }
}
