using System.Management.Automation;
using Dls.Module.Completion;
using Dls.Core.Accounting;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Get, "DlsDevice")]
[OutputType(typeof(DeviceInfo))]
public sealed class GetDlsDeviceCommand : DlsCmdlet
{
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Code")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(HandshakeCodeCompleter))]
    public string? HandshakeCode { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LicenseItemCompleter))]
    public string? ItemId { get; set; }

    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? ClientUuid { get; set; }

    /// <summary>Only devices that hold a seat now.</summary>
    [Parameter]
    public SwitchParameter Active { get; set; }

    protected override void Process()
    {
        foreach (var device in new DeviceService(Store, Time).List(HandshakeCode, ItemId, ClientUuid, Active))
        {
            WriteObject(device);
        }
    }
}
