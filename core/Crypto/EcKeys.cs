using System.Numerics;
using System.Security.Cryptography;

namespace Dls.Core.Crypto;

/// <summary>ECDSA P-256 key handling shared by the server key and issuer keys (SPEC §2).</summary>
public static class EcKeys
{
    /// <summary>Bytes of an ES256 signature in IEEE P1363 form: r‖s, 32 bytes each.</summary>
    public const int SignatureLength = 64;

    // The order n of P-256's base point (FIPS 186-4, D.1.2.3).
    private static readonly BigInteger Order = BigInteger.Parse("0FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", System.Globalization.NumberStyles.HexNumber);
    private static readonly BigInteger HalfOrder = Order / 2;

    public static ECDsa Create() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>
    /// Signs <paramref name="data"/> with ES256 and returns r‖s with s in low-S form. ECDSA is malleable: (r, n − s)
    /// verifies whenever (r, s) does, so one message has two valid signatures; fixing s ≤ n/2 leaves one, and a reader
    /// that refuses high-S (as Bitcoin does since BIP 62) then accepts only the spelling the signer wrote.
    /// </summary>
    public static byte[] SignLowS(ECDsa key, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(key);
        var signature = key.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        NormalizeLowS(signature);
        return signature;
    }

    /// <summary>Whether an r‖s signature's s lies in 1 … n/2 (the low half, one of a signature's two spellings).</summary>
    public static bool IsLowS(ReadOnlySpan<byte> signature)
    {
        if (signature.Length != SignatureLength)
        {
            return false;
        }

        var s = new BigInteger(signature[32..], isUnsigned: true, isBigEndian: true);
        return s.Sign > 0 && s <= HalfOrder;
    }

    /// <summary>Rewrites a high s as n − s in place; the signature still verifies and is now the low-S one.</summary>
    public static void NormalizeLowS(Span<byte> signature)
    {
        if (signature.Length != SignatureLength)
        {
            throw new ArgumentException($"An ES256 signature has {SignatureLength} bytes.", nameof(signature));
        }

        var s = new BigInteger(signature[32..], isUnsigned: true, isBigEndian: true);
        if (s <= HalfOrder || s >= Order)
        {
            return;
        }

        var low = Order - s;
        var target = signature[32..];
        target.Clear();
        var length = low.GetByteCount(isUnsigned: true);
        low.TryWriteBytes(target[(32 - length)..], out _, isUnsigned: true, isBigEndian: true);
    }

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
                throw new Errors.DlsException(Errors.ErrorIds.PublicKeyInvalid, Errors.DlsErrorKind.InvalidArgument, "The public key is not an ECDSA P-256 key.");
            }

            return key.ExportSubjectPublicKeyInfo();
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException or ArgumentException)
        {
            throw new Errors.DlsException(
                Errors.ErrorIds.PublicKeyInvalid,
                Errors.DlsErrorKind.InvalidArgument,
                "The public key is neither a SubjectPublicKeyInfo PEM nor base64 DER of an ECDSA P-256 key.",
                null,
                ex);
        }
    }
}
