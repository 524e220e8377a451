using Dls.Core.Alerts;
using Dls.Core.Licensing;
using Dls.Core.Storage;

namespace Dls.Core.Tests.Alerts;

/// <summary>
/// What the channels refuse to do on a hostile or misconfigured network: follow a webhook's redirect, or send the
/// SMTP credential over a connection without TLS unless the administrator chose <c>-SmtpSecurity None</c>.
/// </summary>
public sealed class AlertChannelSecurityTests : IDisposable
{
    private const string User = "dls-mailer";
    private const string Password = "Sm7p-Pa55word";
    private readonly TempStore _temp = new();
    private readonly DlsStore _store;
    private readonly FakeMeasurements _values = new();

    public AlertChannelSecurityTests()
    {
        _store = _temp.Initialized();
        _values.Use(FakeMeasurements.Item("DBR-DEV", LicenseMode.PerDeviceYearly, 10), 8);
    }

    public void Dispose() => _temp.Dispose();

    private AlertManager Manager() => new(_store, _temp.Clock, _values);

    private void ConfigureSmtp(int port, SmtpSecurity security, bool credential) => new AlertSettingsService(_store, _temp.Clock).Set(new AlertSettingsChange
    {
        SmtpServer = "127.0.0.1",
        SmtpPort = port,
        SmtpSecurity = security,
        Credential = credential ? (User, Password) : null,
        From = "dls@example.test",
        To = ["admin@example.test"],
    });

    [Fact]
    public async Task A_webhook_that_redirects_is_a_failed_delivery_and_the_redirect_target_gets_nothing()
    {
        using var elsewhere = new LoopbackWebhook();
        using var hook = new LoopbackWebhook(status: 302) { Location = elsewhere.Url };
        new AlertSettingsService(_store, _temp.Clock).Set(new AlertSettingsChange { WebhookUrl = hook.Url, WebhookSecret = "whsec" });

        var delivery = Assert.Single((await Manager().CheckAsync(CancellationToken.None)).Deliveries);

        Assert.False(delivery.Delivered);
        Assert.Single(hook.Requests);
        var record = Assert.Single(Manager().List(null));
        Assert.False(record.Delivered);
        Assert.Equal("Webhook", record.Channel);
        Assert.Contains("HTTP 302", record.Error, StringComparison.Ordinal);
        Assert.Contains("does not follow redirects", record.Error, StringComparison.Ordinal);
        Assert.Contains(elsewhere.Url, record.Error, StringComparison.Ordinal);

        // A retry is refused the same way: the redirect target never sees the signed body.
        _temp.Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.False(Assert.Single(await Manager().ProcessOutboxAsync(CancellationToken.None)).Delivered);
        Assert.Equal(2, hook.Requests.Count);
        Assert.Empty(elsewhere.Requests);
    }

    [Fact]
    public async Task Auto_with_a_credential_on_a_server_without_TLS_sends_no_AUTH_and_fails_with_what_to_do()
    {
        await using var smtp = await LoopbackSmtpServer.StartAsync(plainAuthentication: true);
        ConfigureSmtp(smtp.Port, SmtpSecurity.Auto, credential: true);

        var delivery = Assert.Single((await Manager().CheckAsync(CancellationToken.None)).Deliveries);

        Assert.False(delivery.Delivered);
        var record = Assert.Single(Manager().List(null));
        Assert.Equal("Email", record.Channel);
        Assert.False(record.Delivered);
        Assert.Contains($"SMTP 127.0.0.1:{smtp.Port}", record.Error, StringComparison.Ordinal);
        Assert.Contains("offered no TLS; the credential was not sent", record.Error, StringComparison.Ordinal);
        Assert.Contains("-SmtpSecurity None", record.Error, StringComparison.Ordinal);

        // The session ended with QUIT after EHLO: no AUTH, no password, no message.
        await WaitUntilAsync(() => smtp.Commands.Contains("QUIT"));
        Assert.Contains("EHLO", smtp.Commands);
        Assert.DoesNotContain("AUTH", smtp.Commands);
        Assert.Empty(smtp.Credentials);
        Assert.Empty(smtp.Messages);
    }

    [Fact]
    public async Task StartTls_with_a_credential_on_a_server_without_TLS_sends_no_AUTH()
    {
        await using var smtp = await LoopbackSmtpServer.StartAsync(plainAuthentication: true);
        ConfigureSmtp(smtp.Port, SmtpSecurity.StartTls, credential: true);

        Assert.False(Assert.Single((await Manager().CheckAsync(CancellationToken.None)).Deliveries).Delivered);

        Assert.NotEqual(string.Empty, Assert.Single(Manager().List(null)).Error);
        Assert.DoesNotContain("AUTH", smtp.Commands);
        Assert.Empty(smtp.Credentials);
        Assert.Empty(smtp.Messages);
    }

    [Fact]
    public async Task None_chosen_explicitly_sends_the_credential_in_clear_and_delivers()
    {
        await using var smtp = await LoopbackSmtpServer.StartAsync(plainAuthentication: true);
        ConfigureSmtp(smtp.Port, SmtpSecurity.None, credential: true);

        var delivery = Assert.Single((await Manager().CheckAsync(CancellationToken.None)).Deliveries);

        Assert.True(delivery.Delivered, delivery.Error);
        Assert.Single(await smtp.WaitForAsync(1));
        Assert.Contains("AUTH", smtp.Commands);
        Assert.Equal((User, Password), Assert.Single(smtp.Credentials));
    }

    [Fact]
    public async Task Auto_without_a_credential_still_delivers_over_a_server_without_TLS()
    {
        await using var smtp = await LoopbackSmtpServer.StartAsync(plainAuthentication: true);
        ConfigureSmtp(smtp.Port, SmtpSecurity.Auto, credential: false);

        var delivery = Assert.Single((await Manager().CheckAsync(CancellationToken.None)).Deliveries);

        Assert.True(delivery.Delivered, delivery.Error);
        Assert.Single(await smtp.WaitForAsync(1));
        Assert.DoesNotContain("AUTH", smtp.Commands);
    }

    private static async Task WaitUntilAsync(Func<bool> condition) =>
        Assert.True(await Eventually.Until(condition, TimeSpan.FromSeconds(10)), "timed out");
}
