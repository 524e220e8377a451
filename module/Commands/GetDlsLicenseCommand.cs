using System.Management.Automation;
using Dls.Core.Licensing;
using Dls.Module.Completion;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Get, "DlsLicense")]
[OutputType(typeof(LicenseInfo))]
public sealed class GetDlsLicenseCommand : DlsCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(LicenseIdCompleter))]
    [SupportsWildcards]
    public string[]? LicenseId { get; set; }

    protected override void Process()
    {
        var all = new LicenseService(Store, Time).List();
        WriteObject(Filters.Select(all, LicenseId, l => l.LicenseId, LicenseService.NotFound, WriteDlsError), enumerateCollection: true);
    }
}
