using System.Management.Automation;
using Dls.Core.Crypto;
using Dls.Core.Licensing;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Add, "DlsTrustedIssuer", SupportsShouldProcess = true)]
[OutputType(typeof(TrustedIssuer))]
public sealed class AddDlsTrustedIssuerCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string PublicKey { get; set; } = string.Empty;

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        var keyId = EcKeys.KeyId(EcKeys.ParsePublicKey(PublicKey));
        if (!ShouldProcess(Store.Path, $"Trust license files signed by issuer key {keyId} ('{Name}')"))
        {
            return;
        }

        var issuer = new TrustedIssuerService(Store, Time).Add(Name, PublicKey);
        if (PassThru)
        {
            WriteObject(issuer);
        }
    }
}
