using System.Management.Automation;
using Dls.Core.Errors;
using Dls.Core.Listeners;
using Dls.Module.Hosting;

namespace Dls.Module.Commands;

[Cmdlet(VerbsLifecycle.Stop, "DlsListener", SupportsShouldProcess = true)]
[OutputType(typeof(ListenerInfo))]
public sealed class StopDlsListenerCommand : DlsCmdlet
{
    /// <summary>The listener to stop; without it every listener of the store stops.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Url { get; set; }

    [Parameter]
    [ValidateRange(1, 600)]
    public int TimeoutSeconds { get; set; } = 15;

    protected override void Process()
    {
        var url = Url is null ? null : ListenerRegistry.NormalizeUrl(Url);
        var registry = new ListenerRegistry(Store, Time);
        var records = registry.List().Where(r => url is null || r.Url == url).ToList();
        if (url is not null && records.Count == 0)
        {
            throw new DlsException(ErrorIds.ListenerNotFound, DlsErrorKind.NotFound, $"No listener of store '{Store.Path}' is recorded at {url}.", url);
        }

        foreach (var record in records)
        {
            if (!ShouldProcess($"{record.Url} (process {record.ProcessId})", "Stop the DLS listener"))
            {
                continue;
            }

            if (!record.IsOnThisMachine && record.IsAlive(Time.GetUtcNow()))
            {
                // Its process id means nothing here: never signal a process of this machine for it.
                WriteDlsError(new DlsException(
                    ErrorIds.ListenerStopFailed,
                    DlsErrorKind.InvalidOperation,
                    $"The listener at {record.Url} runs on {record.Host}, not on this machine: stop it there.",
                    record.Url));
                continue;
            }

            // One on another machine that no longer beats is gone: only its record is left to remove.
            using (var process = record.IsOnThisMachine ? ListenerProcess.FindAlive(record) : null)
            {
                if (process is not null && !ListenerProcess.Stop(process, TimeSpan.FromSeconds(TimeoutSeconds)))
                {
                    WriteDlsError(new DlsException(
                        ErrorIds.ListenerStopFailed,
                        DlsErrorKind.InvalidOperation,
                        $"The listener at {record.Url} (process {record.ProcessId}) did not stop.",
                        record.Url));
                    continue;
                }
            }

            // A graceful stop removes the record itself; a killed or crashed listener leaves it behind.
            registry.Unregister(record.Url, record.ProcessId);
            WriteObject(ListenerInfo.Of(record, ListenerStatus.Stopped, null, Store.Path, Time.GetUtcNow()));
        }
    }
}
