using System.Management.Automation;
using Dls.Core.Listeners;
using Dls.Module.Hosting;

namespace Dls.Module.Commands;

/// <summary>
/// Every listener recorded on the store (SPEC §7), main and standby, on this machine or another: its role, machine,
/// heartbeat and whether it serves. A listener on this machine is looked at directly (process and /healthz); one on
/// another machine by its heartbeat.
/// </summary>
[Cmdlet(VerbsCommon.Get, "DlsListener")]
[OutputType(typeof(ListenerInfo))]
public sealed class GetDlsListenerCommand : DlsCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Url { get; set; }

    protected override void Process()
    {
        var url = Url is null ? null : ListenerRegistry.NormalizeUrl(Url);
        foreach (var record in new ListenerRegistry(Store, Time).List().Where(r => url is null || r.Url == url))
        {
            WriteObject(Describe(record, Store.Path, Time.GetUtcNow(), CancellationToken));
        }
    }

    internal static ListenerInfo Describe(ListenerRecord record, string storePath, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!record.IsOnThisMachine)
        {
            return ListenerInfo.Of(record, record.IsAlive(now) ? ListenerStatus.Running : ListenerStatus.NotResponding, null, storePath, now);
        }

        using var process = ListenerProcess.FindAlive(record);
        if (process is null)
        {
            return ListenerInfo.Of(record, ListenerStatus.Exited, null, storePath, now);
        }

        // An HTTPS listener must present the certificate Start-DlsListener recorded for it.
        using var certificate = ListenerCertificate.ReadRecorded(storePath, record.Url);
        var uuid = ListenerProcess.ProbeAsync(record.Url, certificate, cancellationToken).GetAwaiter().GetResult();
        return ListenerInfo.Of(record, uuid is null ? ListenerStatus.NotResponding : ListenerStatus.Running, uuid, storePath, now);
    }
}
