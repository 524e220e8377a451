using System.Management.Automation;
using Dls.Core.Licensing;
using Dls.Module.Completion;

namespace Dls.Module.Commands;

[Cmdlet(VerbsCommon.Get, "DlsLicenseItem")]
[OutputType(typeof(LicenseItemInfo))]
public sealed class GetDlsLicenseItemCommand : DlsCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(LicenseItemCompleter))]
    [SupportsWildcards]
    public string[]? ItemId { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(LicenseIdCompleter))]
    [ValidateNotNullOrEmpty]
    public string? LicenseId { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(HandshakeCodeCompleter))]
    [Alias("Code")]
    [ValidateNotNullOrEmpty]
    public string? HandshakeCode { get; set; }

    protected override void Process()
    {
        var items = new LicenseService(Store, Time).Items(licenseId: LicenseId, code: HandshakeCode);
        var notFound = (string id) => new Core.Errors.DlsException(Core.Errors.ErrorIds.LicenseItemNotFound, Core.Errors.DlsErrorKind.NotFound, $"There is no license item '{id}' here.", id);
        WriteObject(Filters.Select(items, ItemId, i => i.ItemId, notFound, WriteDlsError), enumerateCollection: true);
    }
}
