using System.Text;
using System.Text.Json;
using Dls.Core.Errors;

namespace Dls.Core.Licensing;

/// <summary>What a license key carries (SPEC §2). <see cref="ServerPublicKey"/> is base64 of the SubjectPublicKeyInfo DER.</summary>
public sealed record LicenseKeyContent(
    string HandshakeCode,
    string OrganizationId,
    string MainServerUrl,
    string StandbyServerUrl,
    string? SessionPassword,
    string ServerPublicKey);

/// <summary>The <c>DLS2</c> + base64(JSON) string an application developer pastes into the SDK.</summary>
public static class LicenseKey
{
    public const string Prefix = "DLS2";

    public static string Encode(LicenseKeyContent content)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("handshakeCode", content.HandshakeCode);
            writer.WriteString("organizationId", content.OrganizationId);
            writer.WriteString("mainServerUrl", content.MainServerUrl);
            writer.WriteString("standbyServerUrl", content.StandbyServerUrl);
            if (content.SessionPassword is not null)
            {
                writer.WriteString("sessionPassword", content.SessionPassword);
            }

            writer.WriteString("serverPublicKey", content.ServerPublicKey);
            writer.WriteEndObject();
        }

        return Prefix + Convert.ToBase64String(buffer.ToArray());
    }

    /// <summary>Reads a key back (for SDK-side code and tests); <c>LicenseKeyInvalid</c> for anything else.</summary>
    public static LicenseKeyContent Decode(string key)
    {
        try
        {
            if (!key.StartsWith(Prefix, StringComparison.Ordinal))
            {
                throw new FormatException($"A license key starts with '{Prefix}'.");
            }

            using var json = JsonDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(key[Prefix.Length..])));
            var root = json.RootElement;
            string? Get(string name) => root.TryGetProperty(name, out var value) ? value.GetString() : null;
            return new LicenseKeyContent(
                Get("handshakeCode") ?? throw new FormatException("No handshakeCode."),
                Get("organizationId") ?? throw new FormatException("No organizationId."),
                Get("mainServerUrl") ?? throw new FormatException("No mainServerUrl."),
                Get("standbyServerUrl") ?? string.Empty,
                Get("sessionPassword"),
                Get("serverPublicKey") ?? throw new FormatException("No serverPublicKey."));
        }
        catch (Exception ex) when (ex is FormatException or JsonException or InvalidOperationException)
        {
            throw new DlsException(ErrorIds.LicenseKeyInvalid, DlsErrorKind.InvalidArgument, $"Not a DLS license key: {ex.Message}", null, ex);
        }
    }
}
