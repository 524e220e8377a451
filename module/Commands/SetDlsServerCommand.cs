using System.Management.Automation;
using Dls.Core.Server;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Set, "DlsServer", SupportsShouldProcess = true)]
[OutputType(typeof(ServerInfo))]
public sealed class SetDlsServerCommand : DlsCmdlet
{
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? OrganizationId { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? MainServerUrl { get; set; }

    /// <summary>An empty string clears the standby URL.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string? StandbyServerUrl { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public ServerRole? Role { get; set; }

    /// <summary>Days raw usage records are kept (roll-ups are kept for ever).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(1, 36500)]
    public int? UsageRetentionDays { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        var service = new ServerService(Store, Time);
        var changes = new List<string>();
        if (OrganizationId is not null) changes.Add($"OrganizationId = {OrganizationId}");
        if (MainServerUrl is not null) changes.Add($"MainServerUrl = {MainServerUrl}");
        if (StandbyServerUrl is not null) changes.Add($"StandbyServerUrl = '{StandbyServerUrl}'");
        if (Role is not null) changes.Add($"Role = {Role}");
        if (UsageRetentionDays is not null) changes.Add($"UsageRetentionDays = {UsageRetentionDays}");
        if (changes.Count == 0)
        {
            WriteVerbose("Nothing to change.");
            if (PassThru)
            {
                WriteObject(service.Get());
            }

            return;
        }

        if (!ShouldProcess(Store.Path, "Set " + string.Join(", ", changes)))
        {
            return;
        }

        if (UsageRetentionDays is { } days)
        {
            new Dls.Core.Usage.UsageRetention(Store).SetRetentionDays(days, Time.GetUtcNow());
        }

        var server = OrganizationId is null && MainServerUrl is null && StandbyServerUrl is null && Role is null
            ? service.Get()
            : service.Set(OrganizationId, MainServerUrl, StandbyServerUrl, Role);
        if (PassThru)
        {
            WriteObject(server);
        }
    }
}
