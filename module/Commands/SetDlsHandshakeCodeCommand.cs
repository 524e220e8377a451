using System.Management.Automation;
using System.Security;
using Dls.Core.Licensing;
using Dls.Module.Completion;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Set, "DlsHandshakeCode", SupportsShouldProcess = true)]
[OutputType(typeof(HandshakeCode))]
public sealed class SetDlsHandshakeCodeCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(HandshakeCodeCompleter))]
    [ValidateNotNullOrEmpty]
    public string Code { get; set; } = string.Empty;

    [Parameter]
    [ArgumentCompleter(typeof(LicenseItemCompleter))]
    [AllowEmptyCollection]
    [ValidateNotNull]
    public string[]? ItemId { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(LicenseItemCompleter))]
    [ValidateNotNull]
    public string[]? AddItemId { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(LicenseItemCompleter))]
    [ValidateNotNull]
    public string[]? RemoveItemId { get; set; }

    [Parameter]
    public bool Enabled { get; set; }

    [Parameter]
    public SwitchParameter Default { get; set; }

    [Parameter]
    public SecureString? SessionPassword { get; set; }

    [Parameter]
    [AllowEmptyCollection]
    [ValidateNotNull]
    public string[]? AllowedDomain { get; set; }

    [Parameter]
    [AllowEmptyCollection]
    [ValidateNotNull]
    public string[]? AllowedAppId { get; set; }

    [Parameter]
    [AllowEmptyCollection]
    [ValidateNotNull]
    public string[]? AllowedProcessName { get; set; }

    [Parameter]
    [AllowEmptyString]
    [ValidateNotNull]
    public string? Description { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        var bound = MyInvocation.BoundParameters;
        var password = SecureStrings.ToPlain(SessionPassword);
        var changes = new HandshakeCodeChanges
        {
            ItemIds = ItemId,
            AddItemIds = AddItemId,
            RemoveItemIds = RemoveItemId,
            Enabled = bound.ContainsKey(nameof(Enabled)) ? Enabled : null,
            IsDefault = bound.ContainsKey(nameof(Default)) ? Default.IsPresent : null,
            SessionPassword = password,
            AllowedDomains = AllowedDomain,
            AllowedAppIds = AllowedAppId,
            AllowedProcessNames = AllowedProcessName,
            Description = Description,
        };

        var what = new List<string>();
        if (ItemId is not null) what.Add($"set items = {string.Join(", ", ItemId)}");
        if (AddItemId is not null) what.Add($"add items {string.Join(", ", AddItemId)}");
        if (RemoveItemId is not null) what.Add($"remove items {string.Join(", ", RemoveItemId)}");
        if (changes.Enabled is { } enabled) what.Add(enabled ? "enable" : "disable");
        if (changes.IsDefault is { } isDefault) what.Add(isDefault ? "make it the organization's default" : "stop it being the default");
        if (password is not null) what.Add(password.Length == 0 ? "remove the session password" : "set a new session password");
        if (AllowedDomain is not null) what.Add($"set allowed domains = {string.Join(", ", AllowedDomain)}");
        if (AllowedAppId is not null) what.Add($"set allowed app ids = {string.Join(", ", AllowedAppId)}");
        if (AllowedProcessName is not null) what.Add($"set allowed process names = {string.Join(", ", AllowedProcessName)}");
        if (Description is not null) what.Add("set the description");

        var service = new HandshakeCodeService(Store, Time);
        if (what.Count == 0)
        {
            WriteVerbose("Nothing to change.");
            if (PassThru)
            {
                WriteObject(service.Get(Code));
            }

            return;
        }

        if (!ShouldProcess(Code, "Change the handshake code: " + string.Join("; ", what)))
        {
            return;
        }

        var code = service.Set(Code, changes);
        if (PassThru)
        {
            WriteObject(code);
        }
    }
}
