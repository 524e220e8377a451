using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dls.Core.Alerts;
using Dls.Core.Licensing;
using Dls.Core.Storage;
using MimeKit;

namespace Dls.Core.Tests.Alerts;

/// <summary>Delivery through a real SMTP server and a real webhook receiver on 127.0.0.1, retries driven by the injected clock.</summary>
public sealed class AlertDeliveryTests : IDisposable
{
    private const string Secret = "whsec-test-7f3a";
    private readonly TempStore _temp = new();
    private readonly DlsStore _store;
    private readonly FakeMeasurements _values = new();

    public AlertDeliveryTests()
    {
        _store = _temp.Initialized();
    }

    public void Dispose() => _temp.Dispose();

    private AlertManager Manager() => new(_store, _temp.Clock, _values);

    private void Configure(int? smtpPort, string? webhookUrl) => new AlertSettingsService(_store, _temp.Clock).Set(new AlertSettingsChange
    {
        SmtpServer = smtpPort is null ? null : "127.0.0.1",
        SmtpPort = smtpPort,
        SmtpSecurity = SmtpSecurity.None,
        From = "DLS <dls@example.test>",
        To = ["admin@example.test; ops@example.test"],
        Cc = ["cc@example.test"],
        Bcc = ["audit@example.test"],
        WebhookUrl = webhookUrl,
        WebhookSecret = webhookUrl is null ? null : Secret,
    });

    private static string Hmac(string timestamp, byte[] body) =>
        "v1=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes(timestamp + ".").Concat(body).ToArray()));

    [Fact]
    public async Task A_check_sends_one_email_and_one_signed_webhook_listing_every_condition_and_no_repeat_without_a_new_crossing()
    {
        await using var smtp = await LoopbackSmtpServer.StartAsync();
        using var hook = new LoopbackWebhook();
        Configure(smtp.Port, hook.Url);
        var devices = FakeMeasurements.Item("DBR-DEV", LicenseMode.PerDeviceYearly, 10);
        _values.Use(devices, 11)
            .Use(FakeMeasurements.Item("DBR-SCAN", LicenseMode.PerScan, 1000), 620)
            .Authorizations("216998-app", 10, 5);

        var result = await Manager().CheckAsync(CancellationToken.None);
        Assert.Equal(3, result.Findings.Count);
        Assert.Equal(2, result.Deliveries.Count);
        Assert.All(result.Deliveries, d => Assert.True(d.Delivered, d.Error));

        var mail = Assert.Single(await smtp.WaitForAsync(1));
        Assert.StartsWith("[DLS Critical] Devices in use 110 %: DBR-DEV (+2 more)", mail.Subject, StringComparison.Ordinal);
        Assert.Equal(["admin@example.test", "ops@example.test"], mail.To.Mailboxes.Select(m => m.Address));
        Assert.Equal(["cc@example.test"], mail.Cc.Mailboxes.Select(m => m.Address));
        Assert.Empty(mail.Bcc); // Bcc goes in the envelope, never in the headers
        var text = mail.TextBody;
        var html = mail.HtmlBody;
        Assert.NotNull(text);
        Assert.NotNull(html);
        foreach (var expected in new[] { "DBR-DEV", "110 % (11 of 10 devices)", "new devices are refused (error 120)", "DBR-SCAN", "62 % (620 of 1000 scans)", "216998-app", "50 % (5 of 10 refused in the last hour)" })
        {
            Assert.Contains(expected, text, StringComparison.Ordinal);
            Assert.Contains(expected, html, StringComparison.Ordinal);
        }

        Assert.Contains("<table", html, StringComparison.Ordinal);
        Assert.Contains("What happens next", html, StringComparison.Ordinal);

        var request = Assert.Single(hook.Requests);
        Assert.Equal(_temp.Clock.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), request.Timestamp);
        Assert.Equal(Hmac(request.Timestamp, request.Body), request.Signature);
        Assert.StartsWith("application/json", request.ContentType, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(request.Body);
        Assert.Equal("dls.alert", json.RootElement.GetProperty("type").GetString());
        Assert.Equal("Critical", json.RootElement.GetProperty("severity").GetString());
        Assert.Equal(_temp.Clock.GetUtcNow().UtcDateTime, json.RootElement.GetProperty("time").GetDateTime());
        var conditions = json.RootElement.GetProperty("conditions").EnumerateArray().ToList();
        Assert.Equal(3, conditions.Count);
        Assert.Equal("DeviceQuota", conditions[0].GetProperty("condition").GetString());
        Assert.Equal("110 %", conditions[0].GetProperty("level").GetString());
        Assert.Equal(110, conditions[0].GetProperty("value").GetDouble());
        Assert.Equal(["216998-app"], conditions[0].GetProperty("handshakeCodes").EnumerateArray().Select(e => e.GetString()));

        var records = Manager().List(null);
        Assert.Equal(6, records.Count); // 3 conditions x 2 channels
        Assert.All(records, r => Assert.True(r.Delivered));
        Assert.All(records, r => Assert.Equal(string.Empty, r.Error));

        // Ten minutes later nothing new: nothing is sent.
        _temp.Clock.Advance(TimeSpan.FromMinutes(10));
        var again = await Manager().CheckAsync(CancellationToken.None);
        Assert.Null(again.NotificationId);
        // The sleep is the test here: no poll can show that nothing arrives, so a message that must not come gets a
        // moment to come anyway.
        await Task.Delay(200, CancellationToken.None);
        Assert.Single(smtp.Messages);
        Assert.Single(hook.Requests);

        // Devices fall below 100 % and cross it again: one new message, for that crossing only.
        _values.Use(devices, 9);
        Assert.Null((await Manager().CheckAsync(CancellationToken.None)).NotificationId);
        _values.Use(devices, 10);
        var crossing = await Manager().CheckAsync(CancellationToken.None);
        Assert.Equal("100 %", Assert.Single(crossing.Findings).Level);
        var mails = await smtp.WaitForAsync(2);
        Assert.Equal(2, mails.Count);
        Assert.StartsWith("[DLS Warning] Devices in use 100 %: DBR-DEV", mails[1].Subject, StringComparison.Ordinal);
        Assert.Equal(2, hook.Requests.Count);
    }

    [Fact]
    public async Task A_dead_smtp_server_is_recorded_undelivered_with_the_error_and_a_later_retry_succeeds()
    {
        var port = LoopbackSmtpServer.FreePort(); // nothing listens there yet
        Configure(port, null);
        _values.Use(FakeMeasurements.Item("DBR-DEV", LicenseMode.PerDeviceYearly, 10), 8);
        var start = _temp.Clock.GetUtcNow();

        var result = await Manager().CheckAsync(CancellationToken.None);
        var failed = Assert.Single(result.Deliveries);
        Assert.False(failed.Delivered);
        Assert.Equal(start.AddMinutes(1), failed.NextAttempt);

        var record = Assert.Single(Manager().List(null));
        Assert.Equal("Email", record.Channel);
        Assert.False(record.Delivered);
        Assert.NotEqual(string.Empty, record.Error);
        Assert.Equal(1, record.Attempts);
        Assert.Equal(start.AddMinutes(1).UtcDateTime, record.NextAttempt);

        // Not due yet: the outbox leaves it alone.
        Assert.Empty(await Manager().ProcessOutboxAsync(CancellationToken.None));

        // Due, still down: second failure, the wait doubles.
        _temp.Clock.Advance(TimeSpan.FromMinutes(1));
        var second = Assert.Single(await Manager().ProcessOutboxAsync(CancellationToken.None));
        Assert.False(second.Delivered);
        Assert.Equal(2, second.Attempts);
        Assert.Equal(_temp.Clock.GetUtcNow().AddMinutes(2), second.NextAttempt);

        // The server comes up; the next due retry delivers, once.
        await using var smtp = await LoopbackSmtpServer.StartAsync(port);
        _temp.Clock.Advance(TimeSpan.FromMinutes(2));
        var third = Assert.Single(await Manager().ProcessOutboxAsync(CancellationToken.None));
        Assert.True(third.Delivered, third.Error);
        var mail = Assert.Single(await smtp.WaitForAsync(1));
        Assert.Contains("80 %", mail.Subject, StringComparison.Ordinal);

        var delivered = Assert.Single(Manager().List(null));
        Assert.True(delivered.Delivered);
        Assert.Equal(string.Empty, delivered.Error);
        Assert.Equal(3, delivered.Attempts);
        Assert.Empty(await Manager().ProcessOutboxAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_failing_webhook_is_retried_until_it_accepts_and_gives_up_after_the_last_attempt()
    {
        using var hook = new LoopbackWebhook(status: 500);
        Configure(null, hook.Url);
        _values.Use(FakeMeasurements.Item("DBR-DEV", LicenseMode.PerDeviceYearly, 10), 10);

        var first = Assert.Single((await Manager().CheckAsync(CancellationToken.None)).Deliveries);
        Assert.False(first.Delivered);
        Assert.Contains("500", first.Error, StringComparison.Ordinal);

        hook.Status = 204;
        _temp.Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.True(Assert.Single(await Manager().ProcessOutboxAsync(CancellationToken.None)).Delivered);
        Assert.Equal(2, hook.Requests.Count);
        Assert.All(hook.Requests, r => Assert.Equal(Hmac(r.Timestamp, r.Body), r.Signature));

        // A receiver that never accepts: attempts stop at the maximum.
        hook.Status = 503;
        _values.Use(FakeMeasurements.Item("DBR-DEV", LicenseMode.PerDeviceYearly, 10), 11);
        await Manager().CheckAsync(CancellationToken.None);
        for (var i = 0; i < AlertManager.MaxAttempts + 2; i++)
        {
            _temp.Clock.Advance(AlertManager.MaxBackoff);
            await Manager().ProcessOutboxAsync(CancellationToken.None);
        }

        var last = Manager().List(null).Single(r => r.Level == "110 %");
        Assert.False(last.Delivered);
        Assert.Equal(AlertManager.MaxAttempts, last.Attempts);
        Assert.Null(last.NextAttempt);
        Assert.Equal(2 + AlertManager.MaxAttempts, hook.Requests.Count);
    }

    [Fact]
    public async Task A_test_alert_goes_out_on_every_channel()
    {
        await using var smtp = await LoopbackSmtpServer.StartAsync();
        using var hook = new LoopbackWebhook();
        Configure(smtp.Port, hook.Url);

        var result = await Manager().SendTestAsync(CancellationToken.None);
        Assert.All(result.Deliveries, d => Assert.True(d.Delivered, d.Error));
        Assert.Equal(2, result.Deliveries.Count);
        var mail = Assert.Single(await smtp.WaitForAsync(1));
        Assert.Equal("[DLS] Test notification", mail.Subject);
        Assert.Contains("the alert channels work", mail.TextBody, StringComparison.Ordinal);
        var request = Assert.Single(hook.Requests);
        Assert.Equal(Hmac(request.Timestamp, request.Body), request.Signature);
        Assert.Equal("dls.test", JsonDocument.Parse(request.Body).RootElement.GetProperty("type").GetString());
        Assert.Equal([AlertCondition.Test, AlertCondition.Test], Manager().List(null).Select(r => r.Condition));
    }

    [Fact]
    public async Task A_test_alert_without_any_channel_is_refused()
    {
        var error = await Assert.ThrowsAsync<Errors.DlsException>(() => Manager().SendTestAsync(CancellationToken.None));
        Assert.Equal("AlertChannelNotConfigured", error.ErrorId);
        Assert.Empty(Manager().List(null));
    }
}
