using System.Management.Automation;
using System.Security;
using Dls.Core.Licensing;
using Dls.Module.Completion;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.New, "DlsHandshakeCode", SupportsShouldProcess = true)]
[OutputType(typeof(HandshakeCode))]
public sealed class NewDlsHandshakeCodeCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    [Parameter(Position = 1)]
    [ArgumentCompleter(typeof(LicenseItemCompleter))]
    [ValidateNotNull]
    public string[]? ItemId { get; set; }

    [Parameter]
    public SwitchParameter Default { get; set; }

    [Parameter]
    public SecureString? SessionPassword { get; set; }

    [Parameter]
    [ValidateNotNull]
    public string[]? AllowedDomain { get; set; }

    [Parameter]
    [ValidateNotNull]
    public string[]? AllowedAppId { get; set; }

    [Parameter]
    [ValidateNotNull]
    public string[]? AllowedProcessName { get; set; }

    [Parameter]
    [ValidateNotNull]
    public string? Description { get; set; }

    protected override void Process()
    {
        HandshakeCodeService.ValidateName(Name);
        var what = $"Create handshake code '{Name}'" + (ItemId is { Length: > 0 } ? $" with items {string.Join(", ", ItemId)}" : " without items")
            + (Default ? " as the organization's default" : string.Empty) + (SessionPassword is null ? string.Empty : " with a session password");
        if (!ShouldProcess(Store.Path, what))
        {
            return;
        }

        WriteObject(new HandshakeCodeService(Store, Time).Create(
            Name, ItemId, Default, SecureStrings.ToPlain(SessionPassword), AllowedDomain, AllowedAppId, AllowedProcessName, Description));
    }
}
