using System.Management.Automation;
using System.Net;
using System.Security;
using Dls.Core.Alerts;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Set, "DlsAlertSetting", SupportsShouldProcess = true)]
[OutputType(typeof(AlertSettingInfo))]
public sealed class SetDlsAlertSettingCommand : DlsCmdlet
{
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string? SmtpServer { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, 65535)]
    public int? SmtpPort { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public SmtpSecurity? SmtpSecurity { get; set; }

    [Parameter]
    [Credential]
    [AllowNull]
    public PSCredential? Credential { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string? From { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowEmptyCollection]
    [AllowEmptyString]
    public string[]? To { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowEmptyCollection]
    [AllowEmptyString]
    public string[]? Cc { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowEmptyCollection]
    [AllowEmptyString]
    public string[]? Bcc { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string? WebhookUrl { get; set; }

    [Parameter]
    [AllowNull]
    public SecureString? WebhookSecret { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        var bound = MyInvocation.BoundParameters;
        var change = new AlertSettingsChange
        {
            SmtpServer = SmtpServer,
            SmtpPort = SmtpPort,
            SmtpSecurity = SmtpSecurity,
            Credential = bound.ContainsKey(nameof(Credential))
                ? Credential is null || Credential == PSCredential.Empty || string.IsNullOrEmpty(Credential.UserName)
                    ? (string.Empty, string.Empty)
                    : (Credential.UserName, Credential.GetNetworkCredential().Password)
                : null,
            From = From,
            To = bound.ContainsKey(nameof(To)) ? To ?? [] : null,
            Cc = bound.ContainsKey(nameof(Cc)) ? Cc ?? [] : null,
            Bcc = bound.ContainsKey(nameof(Bcc)) ? Bcc ?? [] : null,
            WebhookUrl = WebhookUrl,
            WebhookSecret = bound.ContainsKey(nameof(WebhookSecret))
                ? WebhookSecret is null ? string.Empty : new NetworkCredential(string.Empty, WebhookSecret).Password
                : null,
        };

        var service = new AlertSettingsService(Store, Time);
        if (change.IsEmpty)
        {
            WriteVerbose("Nothing to change.");
            if (PassThru)
            {
                WriteObject(service.Get());
            }

            return;
        }

        if (!ShouldProcess(Store.Path, "Set alert settings: " + Describe(change)))
        {
            return;
        }

        var settings = service.Set(change);
        if (settings.WebhookEnabled && !settings.WebhookSecretSet)
        {
            WriteWarning("The webhook has no secret: its requests go out without an X-Dls-Signature header. Set one with -WebhookSecret.");
        }

        if (settings.SmtpServer.Length > 0 && !settings.EmailEnabled)
        {
            WriteWarning("E-mail is not complete yet: it needs an SMTP server, -From and at least one of -To, -Cc, -Bcc.");
        }

        if (PassThru)
        {
            WriteObject(settings);
        }
    }

    private static string Describe(AlertSettingsChange c)
    {
        var parts = new List<string>();
        void Add(string name, object? value)
        {
            if (value is not null)
            {
                parts.Add(value is string { Length: 0 } ? $"{name} cleared" : $"{name} = '{value}'");
            }
        }

        Add("SmtpServer", c.SmtpServer);
        Add("SmtpPort", c.SmtpPort);
        Add("SmtpSecurity", c.SmtpSecurity);
        Add("Credential", c.Credential?.UserName is { } user ? (user.Length == 0 ? string.Empty : user + " (password protected)") : null);
        Add("From", c.From);
        Add("To", c.To is null ? null : string.Join(";", AlertSettingsService.SplitAddresses(c.To)));
        Add("Cc", c.Cc is null ? null : string.Join(";", AlertSettingsService.SplitAddresses(c.Cc)));
        Add("Bcc", c.Bcc is null ? null : string.Join(";", AlertSettingsService.SplitAddresses(c.Bcc)));
        Add("WebhookUrl", c.WebhookUrl);
        Add("WebhookSecret", c.WebhookSecret is null ? null : c.WebhookSecret.Length == 0 ? string.Empty : "(protected)");
        return string.Join(", ", parts);
    }
}
