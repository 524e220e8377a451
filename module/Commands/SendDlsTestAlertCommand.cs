using System.Management.Automation;
using Dls.Core.Alerts;
using Dls.Core.Errors;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommunications.Send, "DlsTestAlert", SupportsShouldProcess = true)]
[OutputType(typeof(AlertRecord))]
public sealed class SendDlsTestAlertCommand : DlsCmdlet
{
    protected override void Process()
    {
        var settings = new AlertSettingsService(Store, Time).Get();
        var channels = string.Join(" and ", new[] { settings.EmailEnabled ? "e-mail to " + string.Join(";", settings.To.Concat(settings.Cc).Concat(settings.Bcc)) : null, settings.WebhookEnabled ? "webhook " + settings.WebhookUrl : null }.Where(c => c is not null));
        if (!ShouldProcess(channels.Length == 0 ? Store.Path : channels, "Send a test notification"))
        {
            return;
        }

        var manager = new AlertManager(Store, Time);
        var result = manager.SendTestAsync(CancellationToken).GetAwaiter().GetResult();
        foreach (var record in manager.ListNotification(result.NotificationId!.Value))
        {
            WriteObject(record);
        }

        foreach (var failed in result.Deliveries.Where(d => !d.Delivered))
        {
            WriteDlsError(new DlsException(ErrorIds.AlertDeliveryFailed, DlsErrorKind.ResourceUnavailable, $"The test notification could not be sent by {failed.Channel}: {failed.Error}", failed.Channel.ToString()));
        }
    }
}
