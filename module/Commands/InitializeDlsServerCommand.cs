using System.Management.Automation;
using Dls.Core.Server;
using Dls.Core.Storage;

namespace Dls.Module.Commands;

[Cmdlet(VerbsData.Initialize, "DlsServer", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ServerInfo))]
public sealed class InitializeDlsServerCommand : DlsCmdlet
{
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? OrganizationId { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Process()
    {
        var path = ResolvedStorePath;
        if (File.Exists(path))
        {
            var existing = new ServerService(DlsStore.Open(path), Time);
            if (!Force)
            {
                // Existing server rows are returned unchanged; a file without one is still initialized below.
                var current = TryGet(existing);
                if (current is not null)
                {
                    WriteVerbose($"The store '{path}' already has server {current.Uuid}; it is returned unchanged.");
                    WriteObject(current);
                    return;
                }
            }
        }

        var action = Force ? "Give the DLS server a new identity (new UUID and key)" : "Create a DLS server identity";
        if (!ShouldProcess(path, action))
        {
            return;
        }

        var service = new ServerService(DlsStore.OpenOrCreate(path), Time);
        WriteObject(service.Initialize(OrganizationId, Force));
    }

    private static ServerInfo? TryGet(ServerService service)
    {
        try
        {
            return service.Get();
        }
        catch (Core.Errors.DlsException error) when (error.ErrorId == Core.Errors.ErrorIds.ServerNotInitialized)
        {
            return null;
        }
    }
}
