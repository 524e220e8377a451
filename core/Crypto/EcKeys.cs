using System.Security.Cryptography;

namespace Dls.Core.Crypto;

/// <summary>ECDSA P-256 key handling shared by the server key and issuer keys (SPEC §2).</summary>
public static class EcKeys
{
    public static ECDsa Create() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>Key id: lowercase hex of the first 8 bytes of SHA-256 over the public key's SubjectPublicKeyInfo DER.</summary>
    public static string KeyId(byte[] subjectPublicKeyInfo) =>
        Convert.ToHexString(SHA256.HashData(subjectPublicKeyInfo), 0, 8).ToLowerInvariant();

    public static string PublicKeyPem(byte[] subjectPublicKeyInfo) =>
        new string(PemEncoding.Write("PUBLIC KEY", subjectPublicKeyInfo));

    /// <summary>
    /// Reads a P-256 public key given as SubjectPublicKeyInfo PEM or as base64 DER and returns its DER;
    /// <c>PublicKeyInvalid</c> for anything else.
    /// </summary>
    public static byte[] ParsePublicKey(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            using var key = ECDsa.Create();
            var trimmed = text.Trim();
            if (trimmed.StartsWith("-----BEGIN", StringComparison.Ordinal))
            {
                key.ImportFromPem(trimmed);
            }
            else
            {
                key.ImportSubjectPublicKeyInfo(Convert.FromBase64String(trimmed), out _);
            }

            if (key.KeySize != 256 || key.ExportParameters(false).Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
            {
                throw new Errors.DlsException("PublicKeyInvalid", Errors.DlsErrorKind.InvalidArgument, "The public key is not an ECDSA P-256 key.");
            }

            return key.ExportSubjectPublicKeyInfo();
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException or ArgumentException)
        {
            throw new Errors.DlsException(
                "PublicKeyInvalid",
                Errors.DlsErrorKind.InvalidArgument,
                "The public key is neither a SubjectPublicKeyInfo PEM nor base64 DER of an ECDSA P-256 key.",
                null,
                ex);
        }
    }
}
