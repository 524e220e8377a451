using System.Management.Automation;
using Dls.Core.Alerts;

namespace Dls.Module.Commands;

[Cmdlet(VerbsLifecycle.Invoke, "DlsAlertCheck", SupportsShouldProcess = true)]
[OutputType(typeof(AlertRecord))]
public sealed class InvokeDlsAlertCheckCommand : DlsCmdlet
{
    protected override void Process()
    {
        var manager = new AlertManager(Store, Time);
        // What a check would send, so -WhatIf and -Confirm can say it; the real check evaluates again.
        var (_, wouldFind) = manager.Evaluate(dryRun: true);
        var action = wouldFind.Count == 0
            ? "Check alert conditions (none would reach a new level now)"
            : $"Check alert conditions and notify {wouldFind.Count}: " + string.Join("; ", wouldFind.Select(f => $"{f.Condition} {f.Target} {f.Level}"));
        if (!ShouldProcess(Store.Path, action))
        {
            return;
        }

        var result = manager.CheckAsync(CancellationToken).GetAwaiter().GetResult();
        var retried = manager.ProcessOutboxAsync(CancellationToken).GetAwaiter().GetResult();
        if (retried.Count > 0)
        {
            WriteVerbose($"Retried {retried.Count} earlier deliveries: {retried.Count(r => r.Delivered)} delivered.");
        }

        if (result.NotificationId is not { } id)
        {
            WriteVerbose("No condition reached a new level: nothing was sent.");
            return;
        }

        foreach (var record in manager.ListNotification(id))
        {
            WriteObject(record);
        }

        foreach (var failed in result.Deliveries.Where(d => !d.Delivered))
        {
            WriteWarning($"{failed.Channel} delivery failed ({failed.Error}); it is retried {(failed.NextAttempt is { } next ? "from " + next.UtcDateTime.ToString("u", System.Globalization.CultureInfo.InvariantCulture) : "no more")}.");
        }
    }
}
