using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace Dls.Core.Alerts;

/// <summary>Sends one notification on one channel; throws on failure (the outbox records the message and retries).</summary>
internal interface IAlertChannel
{
    Task SendAsync(long notificationId, AlertMessage message, AlertSettings settings, DateTimeOffset now, CancellationToken cancellationToken);
}

/// <summary>E-mail over SMTP with MailKit.</summary>
internal sealed class EmailChannel : IAlertChannel
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    internal const string PlainCredentialRefused =
        "the SMTP server offered no TLS; the credential was not sent. Use -SmtpSecurity StartTls or SslOnConnect with a server that offers TLS, "
        + "or -SmtpSecurity None to send the credential in clear.";

    public async Task SendAsync(long notificationId, AlertMessage message, AlertSettings settings, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!settings.EmailEnabled)
        {
            throw new InvalidOperationException("e-mail is not configured (Set-DlsAlertSetting -SmtpServer -From -To)");
        }

        var mail = AlertEmail.Build(message, notificationId, settings);
        using var client = new SmtpClient { Timeout = (int)Timeout.TotalMilliseconds };
        var options = settings.SmtpSecurity switch
        {
            SmtpSecurity.None => SecureSocketOptions.None,
            SmtpSecurity.StartTls => SecureSocketOptions.StartTls,
            SmtpSecurity.SslOnConnect => SecureSocketOptions.SslOnConnect,
            _ => SecureSocketOptions.Auto,
        };
        try
        {
            await client.ConnectAsync(settings.SmtpServer, settings.SmtpPort, options, cancellationToken).ConfigureAwait(false);
            if (settings.SmtpUserName.Length > 0)
            {
                // Auto falls back to a plain connection when the server offers no STARTTLS. The message itself may go
                // that way, but a password in clear is for the administrator to choose (None), not for a server (or
                // whoever sits between it and us and strips the STARTTLS offer) to decide.
                if (!client.IsSecure && settings.SmtpSecurity != SmtpSecurity.None)
                {
                    await client.DisconnectAsync(quit: true, cancellationToken).ConfigureAwait(false);
                    throw new AuthenticationException(PlainCredentialRefused);
                }

                await client.AuthenticateAsync(settings.SmtpUserName, settings.SmtpPassword, cancellationToken).ConfigureAwait(false);
            }

            await client.SendAsync(mail, cancellationToken).ConfigureAwait(false);
            await client.DisconnectAsync(quit: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Say which server: the administrator reads this in Get-DlsAlert.
            throw new IOException($"SMTP {settings.SmtpServer}:{settings.SmtpPort}: {error.Message}", error);
        }
    }
}

/// <summary>
/// The webhook: a JSON POST signed with HMAC-SHA256 over "timestamp.body" (SPEC §6), so a receiver can check
/// it came from this server and is fresh.
/// </summary>
internal sealed class WebhookChannel : IAlertChannel
{
    public const string TimestampHeader = "X-Dls-Timestamp";
    public const string SignatureHeader = "X-Dls-Signature";

    // Redirects are not followed: the signed body would go to an address the administrator never configured
    // (another host, or plain http after https), and a receiver that moved can be given its new URL.
    private static readonly HttpClient Http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false })
    {
        Timeout = TimeSpan.FromSeconds(20),
    };

    public async Task SendAsync(long notificationId, AlertMessage message, AlertSettings settings, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!settings.WebhookEnabled)
        {
            throw new InvalidOperationException("the webhook is not configured (Set-DlsAlertSetting -WebhookUrl)");
        }

        var body = WebhookPayload.Serialize(notificationId, message);
        var timestamp = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, settings.WebhookUrl)
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.UserAgent.ParseAdd("DLS/" + DlsVersion.Current);
        request.Headers.Add(TimestampHeader, timestamp);
        if (settings.WebhookSecret.Length > 0)
        {
            request.Headers.Add(SignatureHeader, WebhookPayload.Signature(settings.WebhookSecret, timestamp, body));
        }

        HttpResponseMessage response;
        try
        {
            response = await Http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"webhook {settings.WebhookUrl}: {error.Message}", error);
        }

        using (response)
        {
            if ((int)response.StatusCode is >= 300 and < 400)
            {
                var location = response.Headers.Location is { } target
                    ? $" to {(target.IsAbsoluteUri ? target : new Uri(new Uri(settings.WebhookUrl), target))}"
                    : string.Empty;
                throw new HttpRequestException(
                    $"webhook {settings.WebhookUrl}: answered HTTP {(int)response.StatusCode} {response.ReasonPhrase}, a redirect{location}; "
                    + "DLS does not follow redirects: set -WebhookUrl to the address that accepts the POST.");
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"webhook {settings.WebhookUrl}: answered HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }
        }
    }
}

/// <summary>The webhook's body and signature (documented in docs/alerts.md).</summary>
public static class WebhookPayload
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        // A JSON body for machines, never embedded in HTML: keep '+', '<', '&' readable.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static byte[] Serialize(long notificationId, AlertMessage message) => JsonSerializer.SerializeToUtf8Bytes(
        new
        {
            type = message.Kind == AlertMessage.TestKind ? "dls.test" : "dls.alert",
            id = notificationId,
            time = message.Time.UtcDateTime,
            server = new { uuid = message.ServerUuid, organizationId = message.OrganizationId },
            severity = message.Severity,
            subject = message.Subject,
            conditions = message.Conditions,
        },
        Json);

    /// <summary><c>v1=</c> + lowercase hex HMAC-SHA256(secret, timestamp + "." + body).</summary>
    public static string Signature(string secret, string timestamp, byte[] body)
    {
        var signed = new byte[timestamp.Length + 1 + body.Length];
        Encoding.ASCII.GetBytes(timestamp, signed);
        signed[timestamp.Length] = (byte)'.';
        body.CopyTo(signed, timestamp.Length + 1);
        return "v1=" + Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed)).ToLowerInvariant();
    }
}
