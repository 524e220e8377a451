using System.Management.Automation;
using Dls.Core.Licensing;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.New, "DlsIssuerKey", SupportsShouldProcess = true)]
[OutputType(typeof(IssuerKeyInfo))]
public sealed class NewDlsIssuerKeyCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Process()
    {
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        if (!ShouldProcess(path, "Create an ECDSA P-256 issuer key (private key file readable by its owner only)"))
        {
            return;
        }

        WriteObject(IssuerKeyFile.Create(path, Force));
    }
}
