using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Dls.Listener.Hosting;

/// <summary>
/// HTTPS for the listener: the server certificate from a PFX file (with its password) or from PEM files
/// (certificate and private key, the key optionally encrypted). The certificate is loaded before Kestrel
/// starts, so one that cannot be used ends the start with one clear line instead of a stack trace.
/// </summary>
public static class HttpsCertificate
{
    /// <summary>
    /// The password of the PFX file or of the encrypted PEM key. It is read from the environment only:
    /// a command line is visible to every user of the machine (ps), an environment is not.
    /// </summary>
    public const string PasswordVariable = "DLS_CERTIFICATE_PASSWORD";

    /// <summary>
    /// Serves every https:// address with the configured certificate. Returns false, after writing why
    /// to <paramref name="errors"/>, when the certificate cannot be used or an https:// address has none.
    /// </summary>
    public static bool UseDlsHttps(this IWebHostBuilder webHost, ListenerOptions options, string urls, TextWriter errors)
    {
        var https = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Any(url => url.StartsWith("https://", StringComparison.OrdinalIgnoreCase));
        if (string.IsNullOrEmpty(options.CertificatePath))
        {
            if (!string.IsNullOrEmpty(options.CertificateKeyPath))
            {
                errors.WriteLine("dls-listener: --certificate-key needs --certificate (the certificate file it belongs to).");
                return false;
            }

            if (https)
            {
                errors.WriteLine($"dls-listener: {urls} is https:// but no certificate is configured; give --certificate PATH (and --certificate-key PATH for PEM files).");
                return false;
            }

            return true;
        }

        if (!https)
        {
            errors.WriteLine($"dls-listener: a certificate is configured but {urls} has no https:// address; use --urls https://HOST:PORT.");
            return false;
        }

        X509Certificate2 certificate;
        try
        {
            certificate = Load(options.CertificatePath, options.CertificateKeyPath, Environment.GetEnvironmentVariable(PasswordVariable));
        }
        catch (HttpsCertificateException error)
        {
            errors.WriteLine($"dls-listener: {error.Message}");
            return false;
        }

        // Without the HTTPS configuration services (left out by CreateSlimBuilder) Kestrel cannot bind an https:// URL at all.
        webHost.UseKestrelHttpsConfiguration();
        webHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(defaults =>
        {
            defaults.ServerCertificate = certificate;
            defaults.ClientCertificateMode = ClientCertificateMode.NoCertificate;
        }));
        webHost.ConfigureServices(services => services.AddHostedService(provider => new HttpsCertificateNotice(
            certificate,
            provider.GetService<TimeProvider>() ?? TimeProvider.System,
            provider.GetRequiredService<ILogger<HttpsCertificateNotice>>())));
        return true;
    }

    /// <summary>
    /// The certificate with its private key: PEM when a key file is given or the file is PEM text (certificate
    /// and key in one file), PFX otherwise. Fails with <see cref="HttpsCertificateException"/> and a message for people.
    /// </summary>
    public static X509Certificate2 Load(string certificatePath, string? keyPath, string? password)
    {
        var certificateFile = Path.GetFullPath(certificatePath);
        var keyFile = string.IsNullOrEmpty(keyPath) ? null : Path.GetFullPath(keyPath);
        foreach (var file in keyFile is null ? [certificateFile] : new[] { certificateFile, keyFile })
        {
            if (!File.Exists(file))
            {
                throw new HttpsCertificateException($"the certificate file '{file}' does not exist.");
            }
        }

        var pem = keyFile is not null;
        X509Certificate2 certificate;
        try
        {
            pem = pem || IsPem(certificateFile);
            certificate = pem ? LoadPem(certificateFile, keyFile, password) : new X509Certificate2(certificateFile, password);
        }
        catch (Exception error) when (error is CryptographicException or ArgumentException)
        {
            var reason = (error is ArgumentException argument && argument.ParamName is not null
                ? argument.Message.Replace($" (Parameter '{argument.ParamName}')", string.Empty, StringComparison.Ordinal)
                : error.Message).TrimEnd('.');
            throw new HttpsCertificateException(pem
                ? $"the PEM certificate '{certificateFile}' cannot be used with the key '{keyFile ?? certificateFile}': the key is missing, does not match the certificate, or its password ({PasswordVariable}) is wrong ({reason})."
                : $"the PFX certificate '{certificateFile}' cannot be read: the password ({PasswordVariable}) is wrong or the file is not a PKCS#12 file ({reason}).");
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new HttpsCertificateException($"the certificate file cannot be read: {error.Message}");
        }

        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new HttpsCertificateException($"the certificate '{certificateFile}' has no private key; a server certificate needs one (give it with --certificate-key for PEM files).");
        }

        return certificate;
    }

    private static X509Certificate2 LoadPem(string certificateFile, string? keyFile, string? password)
    {
        var certificate = string.IsNullOrEmpty(password)
            ? X509Certificate2.CreateFromPemFile(certificateFile, keyFile)
            : X509Certificate2.CreateFromEncryptedPemFile(certificateFile, password, keyFile);
        if (!OperatingSystem.IsWindows())
        {
            return certificate;
        }

        // Schannel cannot use the ephemeral key a PEM file gives; a round trip through PKCS#12 gives it a usable one.
        using (certificate)
        {
            return new X509Certificate2(certificate.Export(X509ContentType.Pkcs12));
        }
    }

    private static bool IsPem(string file)
    {
        using var reader = new StreamReader(file);
        var start = new char[4096];
        var read = reader.ReadBlock(start, 0, start.Length);
        return new string(start, 0, read).Contains("-----BEGIN ", StringComparison.Ordinal);
    }
}
