using System.Management.Automation;
using Dls.Core.Licensing;
using Dls.Module.Completion;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Remove, "DlsHandshakeCode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(HandshakeCode))]
public sealed class RemoveDlsHandshakeCodeCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(HandshakeCodeCompleter))]
    [ValidateNotNullOrEmpty]
    public string Code { get; set; } = string.Empty;

    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        var service = new HandshakeCodeService(Store, Time);
        var current = service.Get(Code);
        var action = "Remove the handshake code; applications configured with it stop being authorized"
            + (current.IsDefault ? "; the organization is left without a default code" : string.Empty);
        if (!ShouldProcess(Code, action, Force))
        {
            return;
        }

        var removed = service.Remove(Code);
        if (removed.IsDefault)
        {
            WriteWarning($"{Code} was the default code: organization-only requests are refused until another code is made default (Set-DlsHandshakeCode -Default).");
        }

        if (PassThru)
        {
            WriteObject(removed);
        }
    }
}
