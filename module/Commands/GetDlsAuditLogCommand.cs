using System.Management.Automation;
using Dls.Core.Audit;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Get, "DlsAuditLog")]
[OutputType(typeof(AuditEntry))]
public sealed class GetDlsAuditLogCommand : DlsCmdlet
{
    /// <summary>Only entries at or after this time (local or UTC).</summary>
    [Parameter(Position = 0)]
    public DateTime? Since { get; set; }

    protected override void Process()
    {
        DateTimeOffset? since = Since is null ? null : new DateTimeOffset(Since.Value.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(Since.Value, DateTimeKind.Local) : Since.Value);
        foreach (var entry in AuditLog.Read(Store, since))
        {
            WriteObject(entry);
        }
    }
}
