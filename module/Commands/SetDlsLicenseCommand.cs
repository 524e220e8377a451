using System.Management.Automation;
using Dls.Core.Licensing;
using Dls.Module.Completion;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Set, "DlsLicense", SupportsShouldProcess = true)]
[OutputType(typeof(LicenseInfo))]
public sealed class SetDlsLicenseCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(LicenseIdCompleter))]
    [ValidateNotNullOrEmpty]
    public string LicenseId { get; set; } = string.Empty;

    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Alias { get; set; } = string.Empty;

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        var service = new LicenseService(Store, Time);
        var current = service.Get(LicenseId);
        if (!ShouldProcess(LicenseId, $"Set the alias from '{current.Alias}' to '{Alias}'"))
        {
            return;
        }

        var license = service.SetAlias(LicenseId, Alias);
        if (PassThru)
        {
            WriteObject(license);
        }
    }
}
