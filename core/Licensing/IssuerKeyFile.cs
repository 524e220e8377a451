using System.Security.Cryptography;
using Dls.Core.Crypto;
using Dls.Core.Errors;

namespace Dls.Core.Licensing;

/// <summary>A vendor's signing key as New-DlsIssuerKey reports it. The private key stays in <see cref="Path"/>.</summary>
public sealed record IssuerKeyInfo(string KeyId, string PublicKey, string Path);

/// <summary>
/// The issuer's private key file (vendor side, SPEC §2): PKCS#8 PEM, created readable and writable by its owner
/// only, never printed.
/// </summary>
public static class IssuerKeyFile
{
    public static IssuerKeyInfo Create(string path, bool overwrite)
    {
        if (File.Exists(path))
        {
            if (!overwrite)
            {
                throw new DlsException(ErrorIds.IssuerKeyExists, DlsErrorKind.AlreadyExists, $"The file '{path}' exists. Use -Force to replace it with a new key.", path);
            }

            File.Delete(path);
        }

        using var key = EcKeys.Create();
        var pem = key.ExportPkcs8PrivateKeyPem();
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            // The mode is set when the file is created, so the key is never readable by others, not even briefly.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var stream = new FileStream(path, options);
            using var writer = new StreamWriter(stream);
            writer.Write(pem);
            writer.Write('\n');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DlsException(ErrorIds.IssuerKeyNotWritten, DlsErrorKind.PermissionDenied, $"The issuer key could not be written to '{path}': {ex.Message}", path, ex);
        }

        var publicKey = key.ExportSubjectPublicKeyInfo();
        return new IssuerKeyInfo(EcKeys.KeyId(publicKey), EcKeys.PublicKeyPem(publicKey), path);
    }

    /// <summary>Loads the private key; the caller disposes it.</summary>
    public static ECDsa Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new DlsException(ErrorIds.IssuerKeyNotFound, DlsErrorKind.NotFound, $"There is no issuer key file at '{path}'. Create one with New-DlsIssuerKey.", path);
        }

        var key = EcKeys.Create();
        try
        {
            var text = File.ReadAllText(path);
            if (text.Length > 16 * 1024)
            {
                throw new CryptographicException("The file is too large to be a key.");
            }

            key.ImportFromPem(text);
            if (key.KeySize != 256 || key.ExportParameters(false).Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
            {
                throw new CryptographicException("The key is not a P-256 key.");
            }

            // A public key alone cannot sign: this throws for it.
            key.ExportPkcs8PrivateKey();
            return key;
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            key.Dispose();
            throw new DlsException(ErrorIds.IssuerKeyInvalid, DlsErrorKind.InvalidData, $"'{path}' is not an ECDSA P-256 private key (PKCS#8 PEM): {ex.Message}", path, ex);
        }
    }
}
