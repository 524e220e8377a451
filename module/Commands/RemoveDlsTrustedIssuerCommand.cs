using System.Management.Automation;
using Dls.Core.Licensing;
using Dls.Module.Completion;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Remove, "DlsTrustedIssuer", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "KeyId")]
[OutputType(typeof(TrustedIssuer))]
public sealed class RemoveDlsTrustedIssuerCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = "KeyId")]
    [ArgumentCompleter(typeof(TrustedIssuerCompleter))]
    [ValidateNotNullOrEmpty]
    public string KeyId { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ParameterSetName = "Name")]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        var service = new TrustedIssuerService(Store, Time);
        var targets = ParameterSetName == "Name"
            ? service.List().Where(i => i.Name == Name).ToList()
            : [service.Find(KeyId) ?? throw TrustedIssuerService.NotFound(KeyId)];
        if (targets.Count == 0)
        {
            throw new Core.Errors.DlsException(Core.Errors.ErrorIds.IssuerNotFound, Core.Errors.DlsErrorKind.NotFound, $"No trusted issuer is named '{Name}'.", Name);
        }

        foreach (var issuer in targets)
        {
            if (ShouldProcess($"{issuer.KeyId} ('{issuer.Name}')", "Stop trusting license files signed by this issuer (imported licenses stay)", Force))
            {
                var removed = service.Remove(issuer.KeyId);
                if (PassThru)
                {
                    WriteObject(removed);
                }
            }
        }
    }
}
