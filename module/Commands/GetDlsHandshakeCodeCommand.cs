using System.Management.Automation;
using Dls.Core.Licensing;
using Dls.Module.Completion;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Get, "DlsHandshakeCode")]
[OutputType(typeof(HandshakeCode))]
public sealed class GetDlsHandshakeCodeCommand : DlsCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(HandshakeCodeCompleter))]
    [SupportsWildcards]
    public string[]? Code { get; set; }

    /// <summary>Only the organization's default code.</summary>
    [Parameter]
    public SwitchParameter Default { get; set; }

    protected override void Process()
    {
        var all = new HandshakeCodeService(Store, Time).List();
        foreach (var code in Filters.Select(all, Code, c => c.Code, HandshakeCodeService.NotFound, WriteDlsError))
        {
            if (!Default || code.IsDefault)
            {
                WriteObject(code);
            }
        }
    }
}
