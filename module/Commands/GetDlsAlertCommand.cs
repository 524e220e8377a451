using System.Management.Automation;
using Dls.Core.Alerts;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Get, "DlsAlert")]
[OutputType(typeof(AlertRecord))]
public sealed class GetDlsAlertCommand : DlsCmdlet
{
    /// <summary>Local or UTC; only notifications at or after it.</summary>
    [Parameter(Position = 0)]
    public DateTime? Since { get; set; }

    [Parameter]
    public SwitchParameter Undelivered { get; set; }

    protected override void Process()
    {
        DateTimeOffset? since = Since is { } s ? new DateTimeOffset(s.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(s, DateTimeKind.Local) : s) : null;
        foreach (var record in new AlertManager(Store, Time).List(since))
        {
            if (!Undelivered || !record.Delivered)
            {
                WriteObject(record);
            }
        }
    }
}
