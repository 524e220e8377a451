using System.Management.Automation;
using Dls.Module.Completion;
using Dls.Core.Usage;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Get, "DlsUsage")]
[OutputType(typeof(UsageRow))]
public sealed class GetDlsUsageCommand : DlsCmdlet
{
    /// <summary>Only usage that came through this code (binds from Get-DlsHandshakeCode's Code).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Code")]
    [ValidateNotNull]
    [ArgumentCompleter(typeof(HandshakeCodeCompleter))]
    public string? HandshakeCode { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    [ArgumentCompleter(typeof(LicenseItemCompleter))]
    public string? ItemId { get; set; }

    /// <summary>Inclusive start; a local or unspecified time is taken as local time.</summary>
    [Parameter]
    public DateTime? From { get; set; }

    /// <summary>Exclusive end.</summary>
    [Parameter]
    public DateTime? To { get; set; }

    [Parameter]
    public UsageInterval Interval { get; set; } = UsageInterval.Day;

    [Parameter]
    public UsageGrouping By { get; set; } = UsageGrouping.Item;

    protected override void Process()
    {
        var rows = new UsageQuery(Store, Time).Get(ToInstant(From), ToInstant(To), Interval, By, HandshakeCode, ItemId, CancellationToken);
        foreach (var row in rows)
        {
            // The view for the grouping shows its own columns; the object is the same record for every grouping.
            var output = PSObject.AsPSObject(row);
            output.TypeNames.Insert(0, $"{typeof(UsageRow).FullName}#By{By}");
            WriteObject(output);
        }
    }

    /// <summary>PowerShell's [datetime] '2026-11-01' is Unspecified: users mean their local time. UTC stays UTC.</summary>
    internal static DateTimeOffset? ToInstant(DateTime? time) => time switch
    {
        null => null,
        { Kind: DateTimeKind.Utc } utc => new DateTimeOffset(utc, TimeSpan.Zero),
        { } local => new DateTimeOffset(DateTime.SpecifyKind(local, DateTimeKind.Local)),
    };
}
