using System.Text;
using Dls.Core.Alerts;
using Dls.Core.Errors;
using Dls.Core.Storage;

namespace Dls.Core.Tests.Alerts;

public sealed class AlertSettingsTests : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly DlsStore _store;

    public AlertSettingsTests()
    {
        _store = _temp.Initialized();
    }

    public void Dispose() => _temp.Dispose();

    private AlertSettingsService Service() => new(_store, _temp.Clock);

    [Fact]
    public void Settings_round_trip_with_secrets_shown_only_as_set_and_never_in_the_store_in_clear()
    {
        var shown = Service().Set(new AlertSettingsChange
        {
            SmtpServer = "smtp.example.test",
            SmtpPort = 587,
            SmtpSecurity = SmtpSecurity.StartTls,
            Credential = ("dls-mailer", "Sup3r-Secret-Mail-Pw"),
            From = "dls@example.test",
            To = ["a@example.test;b@example.test", "c@example.test"],
            Bcc = ["d@example.test"],
            WebhookUrl = "https://hooks.example.test/dls",
            WebhookSecret = "whsec-Very-Secret-0042",
        });

        Assert.Equal("smtp.example.test", shown.SmtpServer);
        Assert.Equal(587, shown.SmtpPort);
        Assert.Equal(SmtpSecurity.StartTls, shown.SmtpSecurity);
        Assert.Equal("dls-mailer", shown.SmtpUserName);
        Assert.True(shown.SmtpPasswordSet);
        Assert.Equal(["a@example.test", "b@example.test", "c@example.test"], shown.To);
        Assert.Empty(shown.Cc);
        Assert.Equal(["d@example.test"], shown.Bcc);
        Assert.True(shown.WebhookSecretSet);
        Assert.True(shown.EmailEnabled);
        Assert.True(shown.WebhookEnabled);

        var loaded = Service().Load();
        Assert.Equal("Sup3r-Secret-Mail-Pw", loaded.SmtpPassword);
        Assert.Equal("whsec-Very-Secret-0042", loaded.WebhookSecret);

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in Directory.GetFiles(_temp.Folder, "dls.db*").Where(f => !f.EndsWith(".key", StringComparison.Ordinal)))
        {
            var bytes = File.ReadAllBytes(file);
            Assert.DoesNotContain("Sup3r-Secret-Mail-Pw", Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
            Assert.DoesNotContain("whsec-Very-Secret-0042", Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
        }

        var audit = Audit.AuditLog.Read(_store, null).Last();
        Assert.Equal("Set-DlsAlertSetting", audit.Action);
        Assert.DoesNotContain("Sup3r", audit.Details, StringComparison.Ordinal);
        Assert.DoesNotContain("Very-Secret", audit.Details, StringComparison.Ordinal);
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void The_secrets_key_file_is_owner_only()
    {
        Service().Set(new AlertSettingsChange { WebhookSecret = "s" });
        var key = _store.Path + ".secrets.key";
        Assert.True(File.Exists(key));
        Assert.Equal(32, new FileInfo(key).Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        }
    }

    [Fact]
    public void An_empty_value_clears_a_setting()
    {
        Service().Set(new AlertSettingsChange { SmtpServer = "smtp.example.test", SmtpPort = 2525, Credential = ("u", "p"), To = ["a@example.test"], WebhookUrl = "http://127.0.0.1:9/x", WebhookSecret = "s" });
        var cleared = Service().Set(new AlertSettingsChange { SmtpServer = "", SmtpPort = 0, Credential = ("", ""), To = [], WebhookUrl = "", WebhookSecret = "" });
        Assert.Equal(string.Empty, cleared.SmtpServer);
        Assert.Equal(AlertSettingsService.DefaultSmtpPort, cleared.SmtpPort);
        Assert.Equal(string.Empty, cleared.SmtpUserName);
        Assert.False(cleared.SmtpPasswordSet);
        Assert.Empty(cleared.To);
        Assert.Equal(string.Empty, cleared.WebhookUrl);
        Assert.False(cleared.WebhookSecretSet);
    }

    [Theory]
    [InlineData("AlertAddressInvalid")]
    [InlineData("AlertWebhookUrlInvalid")]
    [InlineData("AlertSmtpPortInvalid")]
    [InlineData("AlertSmtpServerInvalid")]
    public void Bad_input_is_refused_and_changes_nothing(string errorId)
    {
        Service().Set(new AlertSettingsChange { SmtpServer = "smtp.example.test", To = ["a@example.test"] });
        var before = Service().Get();
        var change = new AlertSettingsChange { From = "ok@example.test" } with
        {
            To = errorId == "AlertAddressInvalid" ? ["good@example.test; not an address"] : null,
            WebhookUrl = errorId == "AlertWebhookUrlInvalid" ? "ftp://example.test/x" : null,
            SmtpPort = errorId == "AlertSmtpPortInvalid" ? 70000 : null,
            SmtpServer = errorId == "AlertSmtpServerInvalid" ? "bad host name!" : null,
        };
        var error = Assert.Throws<DlsException>(() => Service().Set(change));
        Assert.Equal(errorId, error.ErrorId);
        Assert.Equal(DlsErrorKind.InvalidArgument, error.Kind);
        Assert.Equivalent(before, Service().Get());
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void A_secret_under_a_replaced_key_is_reported_not_garbled()
    {
        Service().Set(new AlertSettingsChange { WebhookSecret = "s" });
        File.Delete(_store.Path + ".secrets.key");
        File.WriteAllBytes(_store.Path + ".secrets.key", new byte[32]);
        Assert.Equal("AlertSecretUnreadable", Assert.Throws<DlsException>(() => Service().Load()).ErrorId);
    }
}
