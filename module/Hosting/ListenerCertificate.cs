using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Dls.Core.Errors;
using Dls.Core.Storage;

namespace Dls.Module.Hosting;

/// <summary>
/// The certificate an HTTPS listener must present. The module's probes trust exactly that certificate
/// (the admin's own, often self-signed), never whatever answers on the port.
/// </summary>
internal static class ListenerCertificate
{
    /// <summary>The public part of the certificate in a PFX file (opened with its password) or a PEM file.</summary>
    public static X509Certificate2 ReadPublic(string certificatePath, string? password)
    {
        try
        {
            var text = ReadStart(certificatePath);
            if (text.Contains("-----BEGIN ", StringComparison.Ordinal))
            {
                // The first CERTIFICATE block, as the listener serves it; a key in the same file is skipped.
                return X509Certificate2.CreateFromPem(File.ReadAllText(certificatePath));
            }

            // Only the public part is kept; the private key stays in memory no longer than this call.
            var flags = OperatingSystem.IsMacOS() ? X509KeyStorageFlags.DefaultKeySet : X509KeyStorageFlags.EphemeralKeySet;
            using var full = new X509Certificate2(certificatePath, password, flags);
            return new X509Certificate2(full.RawData);
        }
        catch (Exception error) when (error is CryptographicException or ArgumentException)
        {
            throw new DlsException(
                ErrorIds.CertificateInvalid,
                DlsErrorKind.InvalidData,
                $"The certificate '{certificatePath}' cannot be read: the -CertificatePassword is wrong or missing, or it is not a PFX or PEM certificate file ({error.Message.TrimEnd('.')}).",
                certificatePath,
                error);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new DlsException(ErrorIds.CertificateInvalid, DlsErrorKind.PermissionDenied, $"The certificate '{certificatePath}' cannot be read: {error.Message}", certificatePath, error);
        }
    }

    /// <summary>True when the server presented exactly <paramref name="expected"/> (same bytes, so same key, names and dates).</summary>
    public static bool Matches(X509Certificate? presented, X509Certificate2 expected) =>
        presented is not null && presented.GetRawCertData().AsSpan().SequenceEqual(expected.RawData);

    /// <summary>
    /// Where Start-DlsListener keeps the certificate of an HTTPS listener, beside its log, so that
    /// Get-DlsListener in any session checks the same certificate without the PFX password.
    /// </summary>
    public static string RecordPath(string storePath, string url) =>
        Path.Combine(StorePaths.FilesFolder(storePath), "logs", $"listener-{new Uri(url).Port}.crt");

    public static void Record(string storePath, string url, X509Certificate2 certificate)
    {
        var path = RecordPath(storePath, url);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, certificate.ExportCertificatePem() + Environment.NewLine);
    }

    /// <summary>The certificate recorded for an HTTPS listener, or null (not HTTPS, started by hand, or unreadable).</summary>
    public static X509Certificate2? ReadRecorded(string storePath, string url)
    {
        var path = RecordPath(storePath, url);
        if (new Uri(url).Scheme != Uri.UriSchemeHttps || !File.Exists(path))
        {
            return null;
        }

        try
        {
            return X509Certificate2.CreateFromPem(File.ReadAllText(path));
        }
        catch (Exception error) when (error is CryptographicException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string ReadStart(string path)
    {
        using var reader = new StreamReader(path);
        var buffer = new char[4096];
        return new string(buffer, 0, reader.ReadBlock(buffer, 0, buffer.Length));
    }
}
