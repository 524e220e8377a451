using System.Management.Automation;
using Dls.Module.Completion;
using Dls.Core.Accounting;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Remove, "DlsDevice", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(DeviceInfo))]
public sealed class RemoveDlsDeviceCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string ClientUuid { get; set; } = string.Empty;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LicenseItemCompleter))]
    public string? ItemId { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        var target = ItemId is null ? $"{ClientUuid} (every item)" : $"{ClientUuid} on item {ItemId}";
        if (!ShouldProcess(target, "Free the seat", Force))
        {
            return;
        }

        var removed = new DeviceService(Store, Time).Remove(ClientUuid, ItemId);
        if (PassThru)
        {
            WriteObject(removed, enumerateCollection: true);
        }
    }
}
