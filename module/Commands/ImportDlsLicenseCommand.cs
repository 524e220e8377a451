using System.Management.Automation;
using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Storage;
using Dls.Module.Completion;

namespace Dls.Module.Commands;

[Cmdlet(VerbsData.Import, "DlsLicense", SupportsShouldProcess = true, DefaultParameterSetName = "NoCode")]
[OutputType(typeof(LicenseInfo))]
public sealed class ImportDlsLicenseCommand : DlsCmdlet
{
    private string? _codeCreatedHere;

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = "NewCode")]
    [ValidateNotNullOrEmpty]
    public string? NewHandshakeCode { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = "Code")]
    [ArgumentCompleter(typeof(HandshakeCodeCompleter))]
    [ValidateNotNullOrEmpty]
    public string? HandshakeCode { get; set; }

    protected override void Process()
    {
        foreach (var pattern in Path)
        {
            IEnumerable<string> files;
            try
            {
                files = GetResolvedProviderPathFromPSPath(pattern, out _);
            }
            catch (ItemNotFoundException ex)
            {
                WriteDlsError(new DlsException(ErrorIds.LicenseFileNotFound, DlsErrorKind.NotFound, $"There is no license file '{pattern}'.", pattern, ex));
                continue;
            }

            foreach (var file in files)
            {
                try
                {
                    ImportOne(file);
                }
                catch (DlsException error) when (!StoreFailures.IsStoreWide(error))
                {
                    // One bad file does not stop the others.
                    WriteDlsError(error);
                }
            }
        }
    }

    private void ImportOne(string file)
    {
        byte[] bytes;
        try
        {
            using var stream = File.OpenRead(file);
            // Read at most one byte past the limit: enough for the format to refuse a file that is too large.
            bytes = new byte[Math.Min(stream.Length, LicenseFile.MaxFileBytes + 1)];
            stream.ReadExactly(bytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DlsException(ErrorIds.LicenseFileUnreadable, DlsErrorKind.ResourceUnavailable, $"The license file '{file}' could not be read: {ex.Message}", file, ex);
        }

        var newCode = _codeCreatedHere is null ? NewHandshakeCode : null;
        var existingCode = _codeCreatedHere ?? HandshakeCode;
        var importer = new LicenseImporter(Store, Time);
        var plan = importer.Preview(bytes, newCode, existingCode, file);
        if (plan.ChangesNothing)
        {
            WriteVerbose($"{file}: this server holds license '{plan.Document.LicenseId}' from this file already; nothing changes.");
            WriteObject(new LicenseService(Store, Time).Get(plan.Document.LicenseId));
            return;
        }

        var description = plan.Describe();
        if (!ShouldProcess(description, description + Environment.NewLine + "Continue?", $"Import {file}"))
        {
            return;
        }

        var (applied, license) = importer.Import(bytes, newCode, existingCode, file);
        if (applied.Code is { Create: true } created)
        {
            _codeCreatedHere = created.Code;
        }

        WriteVerbose(applied.Describe());
        WriteObject(license);
    }
}
