using System.Management.Automation;
using Dls.Core.Storage;

namespace Dls.Module.Commands;

[Cmdlet(VerbsData.Backup, "DlsStore", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class BackupDlsStoreCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Process()
    {
        var target = GetUnresolvedProviderPathFromPSPath(Path);
        if (ShouldProcess(target, $"Back up the DLS store '{Store.Path}'"))
        {
            WriteObject(new StoreBackup(Store, Time).Backup(target, Force));
        }
    }
}
