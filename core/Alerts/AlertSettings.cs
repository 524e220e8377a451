using System.Globalization;
using Dls.Core.Audit;
using Dls.Core.Errors;
using Dls.Core.Storage;
using MimeKit;

namespace Dls.Core.Alerts;

/// <summary>How the SMTP connection is secured (MailKit's SecureSocketOptions, by the names SPEC §5 fixes).</summary>
public enum SmtpSecurity
{
    /// <summary>Plain SMTP, no TLS; the only choice that sends a credential in clear.</summary>
    None,

    /// <summary>TLS on connect for port 465, STARTTLS when the server offers it otherwise; a credential is never sent over plain SMTP.</summary>
    Auto,

    /// <summary>STARTTLS required.</summary>
    StartTls,

    /// <summary>TLS from the first byte (usually port 465).</summary>
    SslOnConnect,
}

/// <summary>
/// The alert settings as Get-DlsAlertSetting shows them: secrets appear only as whether they are set.
/// </summary>
public sealed record AlertSettingInfo(
    string SmtpServer,
    int SmtpPort,
    SmtpSecurity SmtpSecurity,
    string SmtpUserName,
    bool SmtpPasswordSet,
    string From,
    IReadOnlyList<string> To,
    IReadOnlyList<string> Cc,
    IReadOnlyList<string> Bcc,
    string WebhookUrl,
    bool WebhookSecretSet,
    bool EmailEnabled,
    bool WebhookEnabled,
    string SecretKeyPath);

/// <summary>
/// A change to the settings: null leaves a setting as it is, an empty value (string or list) clears it.
/// </summary>
public sealed record AlertSettingsChange
{
    public string? SmtpServer { get; init; }

    public int? SmtpPort { get; init; }

    public SmtpSecurity? SmtpSecurity { get; init; }

    /// <summary>User name and password; an empty user name clears the credential.</summary>
    public (string UserName, string Password)? Credential { get; init; }

    public string? From { get; init; }

    public IReadOnlyList<string>? To { get; init; }

    public IReadOnlyList<string>? Cc { get; init; }

    public IReadOnlyList<string>? Bcc { get; init; }

    public string? WebhookUrl { get; init; }

    public string? WebhookSecret { get; init; }

    public bool IsEmpty => this == new AlertSettingsChange();
}

/// <summary>The settings with secrets in clear, for the channels only; never leaves core.</summary>
internal sealed record AlertSettings(
    string SmtpServer,
    int SmtpPort,
    SmtpSecurity SmtpSecurity,
    string SmtpUserName,
    string SmtpPassword,
    string From,
    IReadOnlyList<string> To,
    IReadOnlyList<string> Cc,
    IReadOnlyList<string> Bcc,
    string WebhookUrl,
    string WebhookSecret)
{
    public bool EmailEnabled => SmtpServer.Length > 0 && From.Length > 0 && To.Count + Cc.Count + Bcc.Count > 0;

    public bool WebhookEnabled => WebhookUrl.Length > 0;

    public IEnumerable<AlertChannelKind> Channels()
    {
        if (EmailEnabled)
        {
            yield return AlertChannelKind.Email;
        }

        if (WebhookEnabled)
        {
            yield return AlertChannelKind.Webhook;
        }
    }
}

/// <summary>Reads and changes the alert settings; secrets are kept protected by <see cref="SecretProtector"/>.</summary>
public sealed class AlertSettingsService(DlsStore store, TimeProvider time)
{
    public const int DefaultSmtpPort = 25;

    private const string SmtpServerKey = "smtp.server";
    private const string SmtpPortKey = "smtp.port";
    private const string SmtpSecurityKey = "smtp.security";
    private const string SmtpUserKey = "smtp.user";
    internal const string SmtpPasswordKey = "smtp.password";
    private const string FromKey = "email.from";
    private const string ToKey = "email.to";
    private const string CcKey = "email.cc";
    private const string BccKey = "email.bcc";
    private const string WebhookUrlKey = "webhook.url";
    internal const string WebhookSecretKey = "webhook.secret";

    private readonly SecretProtector _protector = new(store.Path);

    public AlertSettingInfo Get()
    {
        var values = ReadAll();
        return Show(values);
    }

    /// <summary>Splits address lists: each entry may hold several addresses separated by ';' (or ',').</summary>
    public static IReadOnlyList<string> SplitAddresses(IEnumerable<string>? values) =>
        values is null ? [] : values
            .SelectMany(v => (v ?? string.Empty).Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .ToList();

    /// <summary>Validates the whole change first (bad input changes nothing), then writes it in one transaction with an audit entry.</summary>
    public AlertSettingInfo Set(AlertSettingsChange change)
    {
        var writes = new List<(string Key, string? Value, bool Secret)>();
        var audit = new List<string>();
        if (change.SmtpServer is not null)
        {
            var host = change.SmtpServer.Trim();
            if (host.Length > 0 && Uri.CheckHostName(host) == UriHostNameType.Unknown)
            {
                throw Invalid("AlertSmtpServerInvalid", $"The SMTP server '{change.SmtpServer}' is not a host name or an IP address.", change.SmtpServer);
            }

            writes.Add((SmtpServerKey, host, false));
            audit.Add($"SmtpServer = '{host}'");
        }

        if (change.SmtpPort is { } port)
        {
            if (port is < 0 or > 65535)
            {
                throw Invalid("AlertSmtpPortInvalid", $"The SMTP port {port} is not between 1 and 65535 (0 restores the default).", port);
            }

            writes.Add((SmtpPortKey, port == 0 ? string.Empty : port.ToString(CultureInfo.InvariantCulture), false));
            audit.Add($"SmtpPort = {port}");
        }

        if (change.SmtpSecurity is { } security)
        {
            writes.Add((SmtpSecurityKey, security.ToString(), false));
            audit.Add($"SmtpSecurity = {security}");
        }

        if (change.Credential is { } credential)
        {
            writes.Add((SmtpUserKey, credential.UserName, false));
            writes.Add((SmtpPasswordKey, credential.UserName.Length == 0 ? string.Empty : credential.Password, true));
            audit.Add(credential.UserName.Length == 0 ? "Credential cleared" : $"Credential = '{credential.UserName}' (password protected)");
        }

        if (change.From is not null)
        {
            var from = change.From.Trim();
            if (from.Length > 0)
            {
                CheckAddress(from, "From");
            }

            writes.Add((FromKey, from, false));
            audit.Add($"From = '{from}'");
        }

        foreach (var (key, name, list) in new[] { (ToKey, "To", change.To), (CcKey, "Cc", change.Cc), (BccKey, "Bcc", change.Bcc) })
        {
            if (list is null)
            {
                continue;
            }

            var addresses = SplitAddresses(list);
            foreach (var address in addresses)
            {
                CheckAddress(address, name);
            }

            writes.Add((key, string.Join(";", addresses), false));
            audit.Add($"{name} = '{string.Join(";", addresses)}'");
        }

        if (change.WebhookUrl is not null)
        {
            var url = change.WebhookUrl.Trim();
            if (url.Length > 0 && (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
            {
                throw Invalid("AlertWebhookUrlInvalid", $"The webhook URL '{change.WebhookUrl}' is not an absolute http:// or https:// URL.", change.WebhookUrl);
            }

            writes.Add((WebhookUrlKey, url, false));
            audit.Add($"WebhookUrl = '{url}'");
        }

        if (change.WebhookSecret is not null)
        {
            writes.Add((WebhookSecretKey, change.WebhookSecret, true));
            audit.Add(change.WebhookSecret.Length == 0 ? "WebhookSecret cleared" : "WebhookSecret set (protected)");
        }

        if (writes.Count == 0)
        {
            return Get();
        }

        // Encrypt before the transaction: a failure to create the key file changes nothing.
        var rows = writes.Select(w => (w.Key, Value: w.Secret && !string.IsNullOrEmpty(w.Value) ? _protector.Protect(w.Key, w.Value) : w.Value)).ToList();
        var now = time.GetUtcNow();
        store.Write(work =>
        {
            foreach (var (key, value) in rows)
            {
                work.Stores.Alerts.SetSetting(work, key, value, now);
            }

            AuditLog.Write(work, now, "Set-DlsAlertSetting", "alerts", string.Join("; ", audit));
        });
        return Get();
    }

    /// <summary>The settings with secrets decrypted, for sending.</summary>
    internal AlertSettings Load()
    {
        var v = ReadAll();
        return new AlertSettings(
            Value(v, SmtpServerKey),
            Port(v),
            Security(v),
            Value(v, SmtpUserKey),
            v.TryGetValue(SmtpPasswordKey, out var password) ? _protector.Unprotect(SmtpPasswordKey, password) : string.Empty,
            Value(v, FromKey),
            List(v, ToKey),
            List(v, CcKey),
            List(v, BccKey),
            Value(v, WebhookUrlKey),
            v.TryGetValue(WebhookSecretKey, out var secret) ? _protector.Unprotect(WebhookSecretKey, secret) : string.Empty);
    }

    private AlertSettingInfo Show(Dictionary<string, string> v)
    {
        var to = List(v, ToKey);
        var cc = List(v, CcKey);
        var bcc = List(v, BccKey);
        var server = Value(v, SmtpServerKey);
        var from = Value(v, FromKey);
        return new AlertSettingInfo(
            server,
            Port(v),
            Security(v),
            Value(v, SmtpUserKey),
            v.ContainsKey(SmtpPasswordKey),
            from,
            to,
            cc,
            bcc,
            Value(v, WebhookUrlKey),
            v.ContainsKey(WebhookSecretKey),
            server.Length > 0 && from.Length > 0 && to.Count + cc.Count + bcc.Count > 0,
            v.ContainsKey(WebhookUrlKey),
            _protector.KeyPath);
    }

    private Dictionary<string, string> ReadAll() =>
        new(store.Query(work => work.Stores.Alerts.Settings(work)), StringComparer.Ordinal);

    private static string Value(Dictionary<string, string> v, string key) => v.TryGetValue(key, out var value) ? value : string.Empty;

    private static IReadOnlyList<string> List(Dictionary<string, string> v, string key) => SplitAddresses([Value(v, key)]);

    private static int Port(Dictionary<string, string> v) =>
        v.TryGetValue(SmtpPortKey, out var port) ? int.Parse(port, CultureInfo.InvariantCulture) : DefaultSmtpPort;

    private static SmtpSecurity Security(Dictionary<string, string> v) =>
        v.TryGetValue(SmtpSecurityKey, out var s) && Enum.TryParse<SmtpSecurity>(s, out var security) ? security : SmtpSecurity.Auto;

    private static void CheckAddress(string address, string field)
    {
        if (!MailboxAddress.TryParse(address, out var parsed) || !parsed.Address.Contains('@', StringComparison.Ordinal))
        {
            throw Invalid("AlertAddressInvalid", $"{field}: '{address}' is not an e-mail address.", address);
        }
    }

    private static DlsException Invalid(string id, string message, object? target) => new(id, DlsErrorKind.InvalidArgument, message, target);
}
