using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Dls.Client.Internal;

/// <summary>
/// The client's folder: <c>device-id</c> (the device UUID, once per user) and, per application and license key,
/// <c>apps/{name}-{hash}/</c> with the cached authorizations (<c>auth/</c>), the batches not yet acknowledged
/// (<c>pending/</c>) and the lock of the process that sends them. Every file is written whole and renamed into place,
/// so processes of one application share the folder without corrupting it.
/// </summary>
internal sealed class ClientCache
{
    private const string AuthFormat = "dls-client-auth/1";

    public ClientCache(string root, string applicationName, DlsLicenseKey key)
    {
        Root = root;
        var identity = Sha256Hex(key.HandshakeCode + "\n" + key.OrganizationId + "\n" + Convert.ToBase64String(key.ServerPublicKey)).Substring(0, 12);
        ApplicationFolder = Path.Combine(root, "apps", SafeName(applicationName) + "-" + identity);
        AuthFolder = Path.Combine(ApplicationFolder, "auth");
        PendingFolder = Path.Combine(ApplicationFolder, "pending");
        LockPath = Path.Combine(ApplicationFolder, "send.lock");
        Directory.CreateDirectory(AuthFolder);
        Directory.CreateDirectory(PendingFolder);
    }

    public string Root { get; }

    public string ApplicationFolder { get; }

    public string AuthFolder { get; }

    public string PendingFolder { get; }

    public string LockPath { get; }

    public static string DefaultRoot()
    {
        var local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create);
        if (string.IsNullOrEmpty(local))
        {
            local = Path.Combine(Path.GetTempPath(), "dls-client-" + Environment.UserName);
        }

        return Path.Combine(local, "DLS", "client");
    }

    /// <summary>
    /// The device UUID: read from <c>device-id</c>, or generated and written once. Two processes starting together both
    /// end with the one that was written first. A damaged file is replaced (the device then counts as a new one).
    /// </summary>
    public string DeviceUuid(out bool created)
    {
        Directory.CreateDirectory(Root);
        var path = Path.Combine(Root, "device-id");
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var existing = AtomicFile.ReadOrNull(path);
            if (existing is not null)
            {
                var text = Encoding.UTF8.GetString(existing).Trim();
                if (Guid.TryParseExact(text, "D", out var parsed))
                {
                    created = false;
                    return parsed.ToString("D");
                }

                AtomicFile.TryDelete(path);
            }

            var uuid = Guid.NewGuid().ToString("D");
            if (AtomicFile.CreateNew(path, Encoding.UTF8.GetBytes(uuid + "\n")))
            {
                created = true;
                return uuid;
            }
        }

        throw new IOException($"The device id file '{path}' could not be read or written.");
    }

    /// <summary>The cache file of one authorization request (product, major version, deployment, edition, instance).</summary>
    public string AuthPath(AuthRequestKey request) => Path.Combine(AuthFolder, Sha256Hex(request.Canonical).Substring(0, 24) + ".json");

    /// <summary>The bytes of a cache file: the request it answers and the server's token, in one canonical spelling.</summary>
    public static byte[] AuthFileContent(AuthRequestKey request, string token)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("format", AuthFormat);
            json.WriteString("product", request.Product.ToUpperInvariant());
            json.WriteString("version", request.MajorVersion);
            json.WriteString("deployment", request.Deployment.ToString());
            json.WriteString("edition", request.Edition);
            json.WriteString("instanceId", request.InstanceId);
            json.WriteString("authorization", token);
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// The token of a cache file written for <paramref name="request"/>, or null when the file is not exactly what
    /// <see cref="AuthFileContent"/> writes for it (any changed byte). The token itself is verified by the caller.
    /// </summary>
    public static string? TokenFromFile(byte[] content, AuthRequestKey request)
    {
        try
        {
            using var json = JsonDocument.Parse(content);
            if (json.RootElement.ValueKind != JsonValueKind.Object
                || !json.RootElement.TryGetProperty("authorization", out var token) || token.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            var value = token.GetString()!;
            return AuthFileContent(request, value).AsSpan().SequenceEqual(content) ? value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static string Sha256Hex(string text)
    {
        using var sha = SHA256.Create();
        var hash = sha.ComputeHash(Encoding.UTF8.GetBytes(text));
        var builder = new StringBuilder(hash.Length * 2);
        foreach (var b in hash)
        {
            builder.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        }

        return builder.ToString();
    }

    private static string SafeName(string name)
    {
        var builder = new StringBuilder();
        foreach (var c in name)
        {
            builder.Append((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c is '.' or '-' or '_' ? c : '_');
        }

        return builder.Length > 40 ? builder.ToString(0, 40) : builder.ToString();
    }
}

/// <summary>What an authorization answers: requests equal in these get the same item.</summary>
internal sealed class AuthRequestKey : IEquatable<AuthRequestKey>
{
    public AuthRequestKey(string product, string version, DlsDeployment deployment, string? edition, string? instanceId)
    {
        Product = product;
        Version = version;
        var dot = version.IndexOf('.');
        MajorVersion = dot < 0 ? version : version.Substring(0, dot);
        Deployment = deployment;
        Edition = edition ?? string.Empty;
        InstanceId = instanceId ?? string.Empty;
        Canonical = string.Join("\n", Product.ToUpperInvariant(), MajorVersion, Deployment.ToString(), Edition, InstanceId);
    }

    public string Product { get; }

    /// <summary>The version as the application gave it (sent to the server).</summary>
    public string Version { get; }

    public string MajorVersion { get; }

    public DlsDeployment Deployment { get; }

    public string Edition { get; }

    public string InstanceId { get; }

    public string Canonical { get; }

    public bool Equals(AuthRequestKey? other) => other is not null && Canonical == other.Canonical;

    public override bool Equals(object? obj) => Equals(obj as AuthRequestKey);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Canonical);
}
