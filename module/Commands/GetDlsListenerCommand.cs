using System.Management.Automation;
using Dls.Core.Listeners;
using Dls.Module.Hosting;

namespace Dls.Module.Commands;

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
            WriteObject(Describe(record, Store.Path, CancellationToken));
        }
    }

    internal static ListenerInfo Describe(ListenerRecord record, string storePath, CancellationToken cancellationToken)
    {
        using var process = ListenerProcess.FindAlive(record);
        if (process is null)
        {
            return new ListenerInfo(record.Url, record.ProcessId, ListenerStatus.Exited, null, record.StartedAt, storePath);
        }

        // An HTTPS listener must present the certificate Start-DlsListener recorded for it.
        using var certificate = ListenerCertificate.ReadRecorded(storePath, record.Url);
        var uuid = ListenerProcess.ProbeAsync(record.Url, certificate, cancellationToken).GetAwaiter().GetResult();
        return new ListenerInfo(record.Url, record.ProcessId, uuid is null ? ListenerStatus.NotResponding : ListenerStatus.Running, uuid, record.StartedAt, storePath);
    }
}
