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
        var target = ResolvedStorePath;

        // A new machine has no store yet: the restore creates it. Over an existing one, refuse while a listener
        // serves it. A store too damaged to list its listeners is what a restore is for: the restore itself still
        // refuses a store that another process holds open. A PostgreSQL store is checked whenever its database
        // answers (a database without a store yet is the new machine's case); pg_restore also gives up on tables
        // another session holds.
        if (Dls.Core.Storage.Postgres.PostgresUri.IsUri(target) || File.Exists(target))
        {
            RefuseRunningListeners(target);
        }

        if (ShouldProcess(target, $"Replace the store's content with the backup '{source}'", Force))
        {
            var restored = StoreRestore.Restore(source, target, Time);
            WriteObject(new Dls.Core.Server.ServerService(restored, Time).Get());
        }
    }

    private void RefuseRunningListeners(string target)
    {
        List<ListenerRecord> running;
        try
        {
            // Listeners on other machines (a PostgreSQL store) count by their heartbeat.
            var now = Time.GetUtcNow();
            running = new ListenerRegistry(Store, Time).List()
                .Where(r => r.IsOnThisMachine ? ListenerProcess.FindAlive(r) is not null : r.IsAlive(now))
                .ToList();
        }
        catch (DlsException error) when (error.ErrorId is ErrorIds.StoreCorrupt or ErrorIds.StoreNotDls or ErrorIds.StoreTooNew or ErrorIds.StoreNotFound)
        {
            // StoreNotFound: a PostgreSQL database that holds no store yet, as a new machine has no file.
            return;
        }

        if (running.Count > 0)
        {
            throw new DlsException(
                ErrorIds.ListenerRunning,
                DlsErrorKind.InvalidOperation,
                $"Stop the listeners of this store first ({string.Join(", ", running.Select(r => r.Url))}): a restore under a running listener would lose what it acknowledges.",
                target);
        }
    }
}
