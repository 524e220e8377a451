using System.Management.Automation;
using Dls.Core.Licensing;
using Dls.Module.Completion;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Remove, "DlsLicense", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(LicenseInfo))]
public sealed class RemoveDlsLicenseCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(LicenseIdCompleter))]
    [ValidateNotNullOrEmpty]
    public string LicenseId { get; set; } = string.Empty;

    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        var service = new LicenseService(Store, Time);
        var (license, losses) = service.PlanRemoval(LicenseId);
        var action = $"Remove the license and its items {string.Join(", ", license.Items)}"
            + (losses.Count == 0 ? "; no handshake code holds them" : "; " + string.Join("; ", losses.Select(l => $"handshake code {l.Code} loses {string.Join(", ", l.ItemIds)}")));
        if (!ShouldProcess($"{license.LicenseId} ({license.Alias})", action, Force))
        {
            return;
        }

        var (removed, lost) = service.Remove(LicenseId);
        foreach (var loss in lost)
        {
            WriteWarning($"Handshake code {loss.Code} lost items {string.Join(", ", loss.ItemIds)}.");
        }

        if (PassThru)
        {
            WriteObject(removed);
        }
    }
}
