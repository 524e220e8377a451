using System.Management.Automation;
using Dls.Module.Completion;
using System.Text;
using Dls.Core.Usage;

namespace Dls.Module.Commands;

[Cmdlet(VerbsData.Export, "DlsUsageReport", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class ExportDlsUsageReportCommand : DlsCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    [Parameter]
    public DateTime? From { get; set; }

    [Parameter]
    public DateTime? To { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Code")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(HandshakeCodeCompleter))]
    public string? HandshakeCode { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        var target = GetUnresolvedProviderPathFromPSPath(Path);
        if (!ShouldProcess(target, "Write usage report"))
        {
            return;
        }

        var progress = new ProgressRecord(1, "Export-DlsUsageReport", "Starting");
        var html = new UsageReportBuilder(Store, Time).Build(
            GetDlsUsageCommand.ToInstant(From),
            GetDlsUsageCommand.ToInstant(To),
            HandshakeCode,
            (percent, status) =>
            {
                progress.StatusDescription = status;
                progress.PercentComplete = percent;
                WriteProgress(progress);
            },
            CancellationToken);
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);

        var folder = System.IO.Path.GetDirectoryName(target);
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        File.WriteAllText(target, html, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        if (PassThru)
        {
            WriteObject(new FileInfo(target));
        }
    }
}
