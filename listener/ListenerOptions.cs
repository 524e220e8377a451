namespace Dls.Listener;

/// <summary>Settings bound from the <c>Dls</c> configuration section (arguments, DLS_ environment, appsettings.json).</summary>
public sealed class ListenerOptions
{
    public const string Section = "Dls";

    /// <summary>The store file; empty means $env:DLS_STORE or the platform default.</summary>
    public string? StorePath { get; set; }

    /// <summary>
    /// <c>Main</c> or <c>Standby</c> (<c>--role</c>, SPEC §7); empty means the store's role (<c>Set-DlsServer -Role</c>).
    /// A standby answers error 100 to auth and report requests while a main listener of its store is alive.
    /// </summary>
    public string? Role { get; set; }

    /// <summary><c>text</c> (one line a message) or <c>json</c> (one JSON object a message).</summary>
    public string LogFormat { get; set; } = "text";

    /// <summary>
    /// The server certificate for https:// addresses (<c>--certificate</c>): a PFX file, or a PEM certificate.
    /// Its password, if any, comes from the DLS_CERTIFICATE_PASSWORD environment variable, never from here.
    /// </summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="CertificatePath"/> (<c>--certificate-key</c>), optionally encrypted.</summary>
    public string? CertificateKeyPath { get; set; }
}
