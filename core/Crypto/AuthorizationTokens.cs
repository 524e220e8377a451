using System.Buffers;
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
    // An ES256 signature in IEEE P1363 form is r‖s, 32 bytes each; room for P-521 keeps any other curve working.
    private const int MaxSignatureBytes = 132;

    /// <summary>Signs <paramref name="claimsJson"/> (serialized as-is) with a header naming ES256 and <paramref name="keyId"/>.</summary>
    public static string Sign(ECDsa key, string keyId, ReadOnlySpan<byte> claimsJson) => Sign(key, EncodedHeader(keyId), claimsJson);

    /// <summary>
    /// The token's first part, base64url of <c>{"alg":"ES256","typ":"JWT","kid":…}</c>: the same for every token of a
    /// key, so a signer computes it once.
    /// </summary>
    public static byte[] EncodedHeader(string keyId)
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["alg"] = "ES256", ["typ"] = "JWT", ["kid"] = keyId });
        var encoded = new byte[Base64Url.EncodedLength(header.Length)];
        Base64Url.EncodeToUtf8(header, encoded);
        return encoded;
    }

    /// <summary>
    /// Signs <paramref name="claimsJson"/> under a header from <see cref="EncodedHeader"/>. The token is assembled in
    /// one pooled buffer (header, claims, signature) and becomes a string once, at the end.
    /// </summary>
    public static string Sign(ECDsa key, ReadOnlySpan<byte> encodedHeader, ReadOnlySpan<byte> claimsJson)
    {
        ArgumentNullException.ThrowIfNull(key);
        var inputLength = encodedHeader.Length + 1 + Base64Url.EncodedLength(claimsJson.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(inputLength + 1 + Base64Url.EncodedLength(MaxSignatureBytes));
        try
        {
            var token = buffer.AsSpan();
            encodedHeader.CopyTo(token);
            token[encodedHeader.Length] = (byte)'.';
            Base64Url.EncodeToUtf8(claimsJson, token[(encodedHeader.Length + 1)..inputLength]);

            Span<byte> signature = stackalloc byte[MaxSignatureBytes];
            if (!key.TrySignData(token[..inputLength], signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out var signatureLength))
            {
                throw new CryptographicException("The signature does not fit in the space of a P-521 signature.");
            }

            token[inputLength] = (byte)'.';
            var encodedSignature = Base64Url.EncodedLength(signatureLength);
            Base64Url.EncodeToUtf8(signature[..signatureLength], token[(inputLength + 1)..]);
            return Encoding.ASCII.GetString(token[..(inputLength + 1 + encodedSignature)]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
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
