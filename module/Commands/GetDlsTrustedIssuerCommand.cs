using System.Management.Automation;
using Dls.Core.Licensing;
using Dls.Module.Completion;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Get, "DlsTrustedIssuer")]
[OutputType(typeof(TrustedIssuer))]
public sealed class GetDlsTrustedIssuerCommand : DlsCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(TrustedIssuerCompleter))]
    [SupportsWildcards]
    public string[]? KeyId { get; set; }

    [Parameter]
    [SupportsWildcards]
    public string[]? Name { get; set; }

    protected override void Process()
    {
        var issuers = new TrustedIssuerService(Store, Time).List();
        foreach (var issuer in Filters.Select(issuers, KeyId, i => i.KeyId, id => TrustedIssuerService.NotFound(id), WriteDlsError))
        {
            if (Filters.Matches(Name, issuer.Name))
            {
                WriteObject(issuer);
            }
        }
    }
}
