using System;
using System.Text;
using System.Text.Json;

namespace Dls.Client;

/// <summary>
/// What a DLS license key carries (<c>DLS2</c> + base64 of a JSON object): the handshake code, the organization, the main
/// and standby server URLs, an optional session password and the server's public key that signs authorizations.
/// </summary>
public sealed class DlsLicenseKey
{
    /// <summary>Every license key starts with these four characters.</summary>
    public const string Prefix = "DLS2";

    private DlsLicenseKey(string handshakeCode, string organizationId, Uri mainServer, Uri? standbyServer, string? sessionPassword, byte[] serverPublicKey)
    {
        HandshakeCode = handshakeCode;
        OrganizationId = organizationId;
        MainServer = mainServer;
        StandbyServer = standbyServer;
        SessionPassword = sessionPassword;
        ServerPublicKey = serverPublicKey;
    }

    /// <summary>The handshake code (<c>{organizationId}-{name}</c>) the application authorizes and reports through.</summary>
    public string HandshakeCode { get; }

    /// <summary>The organization the code belongs to.</summary>
    public string OrganizationId { get; }

    /// <summary>The main server, always ending in a slash.</summary>
    public Uri MainServer { get; }

    /// <summary>The standby server, or null when the key names none.</summary>
    public Uri? StandbyServer { get; }

    /// <summary>The code's session password, when the administrator embedded it.</summary>
    public string? SessionPassword { get; }

    /// <summary>The server's ECDSA P-256 public key (SubjectPublicKeyInfo DER) that verifies authorization tokens.</summary>
    public byte[] ServerPublicKey { get; }

    /// <summary>Reads a key; <see cref="FormatException"/> (saying what is wrong) for anything else.</summary>
    public static DlsLicenseKey Parse(string licenseKey)
    {
        if (licenseKey is null)
        {
            throw new ArgumentNullException(nameof(licenseKey));
        }

        var text = licenseKey.Trim();
        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw new FormatException($"A DLS license key starts with '{Prefix}'.");
        }

        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(Convert.FromBase64String(text.Substring(Prefix.Length)));
        }
        catch (Exception error) when (error is FormatException or JsonException)
        {
            throw new FormatException("The license key is damaged: after 'DLS2' it is not base64 of a JSON object.", error);
        }

        using (json)
        {
            if (json.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("The license key is damaged: it does not hold a JSON object.");
            }

            var root = json.RootElement;
            var code = Required(root, "handshakeCode");
            var organization = Required(root, "organizationId");
            var main = Server(Required(root, "mainServerUrl"), "mainServerUrl");
            var standbyText = Optional(root, "standbyServerUrl");
            var standby = string.IsNullOrWhiteSpace(standbyText) ? null : Server(standbyText!, "standbyServerUrl");
            byte[] publicKey;
            try
            {
                publicKey = Convert.FromBase64String(Required(root, "serverPublicKey"));
            }
            catch (FormatException error)
            {
                throw new FormatException("The license key's serverPublicKey is not base64.", error);
            }

            // Checked now, not at the first offline check: a key whose server key cannot be read is no use.
            Internal.TokenVerifier.ImportPublicKey(publicKey).Dispose();
            return new DlsLicenseKey(code, organization, main, standby, Optional(root, "sessionPassword"), publicKey);
        }
    }

    private static string Required(JsonElement root, string name) =>
        Optional(root, name) is { Length: > 0 } value ? value : throw new FormatException($"The license key has no {name}.");

    private static string? Optional(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static Uri Server(string url, string name)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new FormatException($"The license key's {name} '{url}' is not an http or https URL.");
        }

        return uri.AbsoluteUri.EndsWith("/", StringComparison.Ordinal) ? uri : new Uri(uri.AbsoluteUri + "/");
    }
}
