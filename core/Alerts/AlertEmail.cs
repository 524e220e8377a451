using System.Globalization;
using System.Net;
using System.Text;
using MimeKit;

namespace Dls.Core.Alerts;

/// <summary>
/// The e-mail a notification becomes: a subject with the worst level, a plain-text part that reads well in
/// any client and an HTML part with the same table of conditions.
/// </summary>
public static class AlertEmail
{
    private static readonly string[] Columns = ["Level", "Condition", "Item", "Code", "Value", "What happens next"];

    public static string Subject(AlertMessage message) => message.Subject;

    public static string PlainText(AlertMessage message, long notificationId)
    {
        var text = new StringBuilder();
        text.AppendLine(Intro(message)).AppendLine();
        foreach (var finding in message.Conditions)
        {
            text.Append("* ").Append(finding.Severity.ToString().ToUpperInvariant()).Append(": ")
                .Append(ConditionName(finding.Condition)).Append(" reached ").AppendLine(finding.Level);
            Line(text, "Item", Item(finding));
            Line(text, "Code", Codes(finding));
            Line(text, "Value", finding.ValueText);
            Line(text, "Next", finding.NextStep);
            text.AppendLine();
        }

        text.AppendLine(Footer(message, notificationId));
        return text.ToString();
    }

    public static string Html(AlertMessage message, long notificationId)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>").Append(E(message.Subject)).Append("</title></head>")
            .Append("<body style=\"font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#222\">")
            .Append("<p>").Append(E(Intro(message))).Append("</p>")
            .Append("<table style=\"border-collapse:collapse\" cellpadding=\"6\"><thead><tr>");
        foreach (var column in Columns)
        {
            html.Append("<th style=\"text-align:left;border-bottom:2px solid #999\">").Append(column).Append("</th>");
        }

        html.Append("</tr></thead><tbody>");
        foreach (var f in message.Conditions)
        {
            var color = f.Severity switch { AlertSeverity.Critical => "#b00020", AlertSeverity.Warning => "#a15c00", _ => "#1a5fb4" };
            html.Append("<tr style=\"border-bottom:1px solid #ddd\">")
                .Append("<td style=\"color:").Append(color).Append(";font-weight:bold;white-space:nowrap\">").Append(E(f.Level)).Append("<br><small>").Append(f.Severity).Append("</small></td>")
                .Append("<td>").Append(E(ConditionName(f.Condition))).Append("</td>")
                .Append("<td>").Append(E(Item(f))).Append("</td>")
                .Append("<td>").Append(E(Codes(f))).Append("</td>")
                .Append("<td>").Append(E(f.ValueText)).Append("</td>")
                .Append("<td>").Append(E(f.NextStep)).Append("</td></tr>");
        }

        html.Append("</tbody></table><p style=\"color:#666;font-size:12px\">").Append(E(Footer(message, notificationId)).Replace("\n", "<br>", StringComparison.Ordinal))
            .Append("</p></body></html>");
        return html.ToString();
    }

    internal static MimeMessage Build(AlertMessage message, long notificationId, AlertSettings settings)
    {
        var mail = new MimeMessage();
        mail.From.Add(MailboxAddress.Parse(settings.From));
        mail.To.AddRange(settings.To.Select(MailboxAddress.Parse));
        mail.Cc.AddRange(settings.Cc.Select(MailboxAddress.Parse));
        mail.Bcc.AddRange(settings.Bcc.Select(MailboxAddress.Parse));
        mail.Subject = Subject(message);
        mail.Date = message.Time;
        mail.Headers.Add("X-Dls-Notification", notificationId.ToString(CultureInfo.InvariantCulture));
        mail.Headers.Add("X-Dls-Severity", message.Severity.ToString());
        mail.Body = new BodyBuilder
        {
            TextBody = PlainText(message, notificationId),
            HtmlBody = Html(message, notificationId),
        }.ToMessageBody();
        return mail;
    }

    internal static string ConditionName(AlertCondition condition) => condition switch
    {
        AlertCondition.DeviceQuota => "Devices in use",
        AlertCondition.CountQuota => "Scans/pages counted",
        AlertCondition.ConcurrentTolerance => "Concurrent tolerance used",
        AlertCondition.FailedAuthorizations => "Failed authorizations",
        AlertCondition.Expiry => "Expiry",
        _ => "Test",
    };

    private static string Intro(AlertMessage message) =>
        message.Kind == AlertMessage.TestKind
            ? $"This is a test notification from the DLS server {message.ServerUuid}: the alert channels work."
            : message.Conditions.Count == 1
                ? $"One license condition on the DLS server {message.ServerUuid} reached a new level:"
                : $"{message.Conditions.Count} license conditions on the DLS server {message.ServerUuid} reached a new level:";

    private static string Footer(AlertMessage message, long notificationId) =>
        $"Checked at {message.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC"
        + (message.OrganizationId.Length > 0 ? $", organization {message.OrganizationId}" : string.Empty)
        + $", notification {notificationId}.\nEach level is notified once; it is notified again after the value falls below it and reaches it again.\n"
        + "Get-DlsLicenseItem and Get-DlsAlert show the details.";

    private static string Item(AlertFinding f) =>
        f.ItemId.Length == 0 ? "-" : f.Product.Length == 0 ? f.ItemId : $"{f.ItemId} ({f.Product})";

    private static string Codes(AlertFinding f) => f.HandshakeCodes.Count == 0 ? (f.Condition == AlertCondition.FailedAuthorizations ? f.Target : "-") : string.Join(", ", f.HandshakeCodes);

    private static void Line(StringBuilder text, string label, string value) => text.Append("    ").Append(label.PadRight(6)).Append(": ").AppendLine(value);
}
