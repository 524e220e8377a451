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

    /// <summary>Days raw usage records and per-device, slice and hour rows are kept (day and month roll-ups are kept for ever).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(1, 36500)]
    public int? UsageRetentionDays { get; set; }

    /// <summary>The largest count one report record (one device, one slice) may carry; larger records are refused (400).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(1L, ProtectionSettings.MaxCountLimit)]
    public long? MaxCountPerSlice { get; set; }

    /// <summary>New seats per minute per source address (0 = no limit).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, ProtectionSettings.MaxPerMinute)]
    public int? NewSeatsPerMinute { get; set; }

    /// <summary>New seats per minute per handshake code (0 = no limit).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, ProtectionSettings.MaxPerMinute)]
    public int? NewSeatsPerMinutePerCode { get; set; }

    /// <summary>Failed password checks and refused requests per minute per source address (0 = no limit).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, ProtectionSettings.MaxPerMinute)]
    public int? FailedAuthorizationsPerMinute { get; set; }

    /// <summary>Failed password checks and refused requests per minute per handshake code (0 = no limit).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, ProtectionSettings.MaxPerMinute)]
    public int? FailedAuthorizationsPerMinutePerCode { get; set; }

    /// <summary>Whether the listener's home page shows the organization and license items to other machines.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public bool? PublicHomePage { get; set; }

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
        if (MaxCountPerSlice is not null) changes.Add($"MaxCountPerSlice = {MaxCountPerSlice}");
        if (NewSeatsPerMinute is not null) changes.Add($"NewSeatsPerMinute = {NewSeatsPerMinute}");
        if (NewSeatsPerMinutePerCode is not null) changes.Add($"NewSeatsPerMinutePerCode = {NewSeatsPerMinutePerCode}");
        if (FailedAuthorizationsPerMinute is not null) changes.Add($"FailedAuthorizationsPerMinute = {FailedAuthorizationsPerMinute}");
        if (FailedAuthorizationsPerMinutePerCode is not null) changes.Add($"FailedAuthorizationsPerMinutePerCode = {FailedAuthorizationsPerMinutePerCode}");
        if (PublicHomePage is not null) changes.Add($"PublicHomePage = {PublicHomePage}");
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

        if (MaxCountPerSlice is not null || NewSeatsPerMinute is not null || NewSeatsPerMinutePerCode is not null
            || FailedAuthorizationsPerMinute is not null || FailedAuthorizationsPerMinutePerCode is not null || PublicHomePage is not null)
        {
            ProtectionSettings.Set(Store, Time.GetUtcNow(), MaxCountPerSlice, NewSeatsPerMinute, NewSeatsPerMinutePerCode,
                FailedAuthorizationsPerMinute, FailedAuthorizationsPerMinutePerCode, PublicHomePage);
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
