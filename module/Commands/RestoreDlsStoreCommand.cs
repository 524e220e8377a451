using System.Management.Automation;
using Dls.Core.Errors;
using Dls.Core.Listeners;
using Dls.Core.Storage;
using Dls.Module.Hosting;

namespace Dls.Module.Commands;

[Cmdlet(VerbsData.Restore, "DlsStore", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(Dls.Core.Server.ServerInfo))]
public sealed class RestoreDlsStoreCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    /// <summary>Restores without asking for confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Process()
    {
        var source = GetUnresolvedProviderPathFromPSPath(Path);
        var running = new ListenerRegistry(Store, Time).List().Where(r => ListenerProcess.FindAlive(r) is not null).ToList();
        if (running.Count > 0)
        {
            throw new DlsException(
                ErrorIds.ListenerRunning,
                DlsErrorKind.InvalidOperation,
                $"Stop the listeners of this store first ({string.Join(", ", running.Select(r => r.Url))}): a restore under a running listener would lose what it acknowledges.",
                Store.Path);
        }

        if (ShouldProcess(Store.Path, $"Replace the store's content with the backup '{source}'", Force))
        {
            new StoreBackup(Store, Time).Restore(source);
            WriteObject(new Dls.Core.Server.ServerService(Store, Time).Get());
        }
    }
}
