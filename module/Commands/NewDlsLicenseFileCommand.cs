using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Text;
using Dls.Core.Errors;
using Dls.Core.Licensing;

namespace Dls.Module.Commands;

/// <summary>The vendor side: builds and signs a dls-license/1 file for one server UUID.</summary>
[Cmdlet(VerbsCommon.New, "DlsLicenseFile", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class NewDlsLicenseFileCommand : DlsCmdlet
{
    private static readonly string[] ItemKeys =
        ["ItemId", "Product", "Version", "Deployment", "Edition", "Mode", "Quantity", "StartDate", "ExpirationDate", "Modules", "Revokes"];

    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string IssuerKeyPath { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Uuid")]
    [ValidateNotNullOrEmpty]
    public string ServerUuid { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string OrganizationId { get; set; } = string.Empty;

    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string LicenseId { get; set; } = string.Empty;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Alias { get; set; }

    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public Hashtable[] Item { get; set; } = [];

    [Parameter]
    public DateTime? IssuedAt { get; set; }

    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Process()
    {
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        var issuedAt = IssuedAt is { } given
            ? new DateTimeOffset(given.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(given, DateTimeKind.Local) : given).ToUniversalTime()
            : Time.GetUtcNow();
        issuedAt = new DateTimeOffset(issuedAt.Ticks - issuedAt.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var items = Item.Select((table, index) => ToItem(table, index, DateOnly.FromDateTime(issuedAt.UtcDateTime))).ToList();
        var document = new LicenseDocument(LicenseId, Alias ?? LicenseDocument.DefaultAlias(LicenseId, issuedAt), OrganizationId, ServerUuid.ToLowerInvariant(), issuedAt, items);
        if (File.Exists(path) && !Force)
        {
            throw new DlsException(ErrorIds.LicenseFileExists, DlsErrorKind.AlreadyExists, $"The file '{path}' exists. Use -Force to overwrite it.", path);
        }

        if (!ShouldProcess(path, $"Write license {LicenseId} for server {document.ServerUuid} with items {string.Join(", ", items.Select(i => i.ItemId))}"))
        {
            return;
        }

        string text;
        using (var key = IssuerKeyFile.Load(GetUnresolvedProviderPathFromPSPath(IssuerKeyPath)))
        {
            text = LicenseFile.Write(document, key);
        }

        File.WriteAllText(path, text, new UTF8Encoding(false));
        WriteObject(new FileInfo(path));
    }

    private static LicenseItemSpec ToItem(Hashtable table, int index, DateOnly issueDate)
    {
        var values = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in table)
        {
            var name = entry.Key?.ToString() ?? string.Empty;
            if (!ItemKeys.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                throw Invalid(index, $"unknown key '{name}'; the keys are {string.Join(", ", ItemKeys)}.");
            }

            values[name] = entry.Value is PSObject wrapped ? wrapped.BaseObject : entry.Value;
        }

        string Text(string key, bool required, string fallback = "")
        {
            if (values.TryGetValue(key, out var value) && value is not null)
            {
                return Convert.ToString(value, CultureInfo.InvariantCulture) ?? fallback;
            }

            return required ? throw Invalid(index, $"'{key}' is missing.") : fallback;
        }

        T Enumerated<T>(string key)
            where T : struct, Enum =>
            Enum.TryParse<T>(Text(key, true), ignoreCase: true, out var value) && Enum.IsDefined(value)
                ? value
                : throw Invalid(index, $"'{key}' must be one of {string.Join(", ", Enum.GetNames<T>())}.");

        DateOnly Date(string key, DateOnly? fallback)
        {
            if (!values.TryGetValue(key, out var value) || value is null)
            {
                return fallback ?? throw Invalid(index, $"'{key}' is missing.");
            }

            if (value is DateTime dateTime)
            {
                return DateOnly.FromDateTime(dateTime);
            }

            var text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;
            return DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
                ? date
                : throw Invalid(index, $"'{key}' is not a date (a [datetime] or yyyy-MM-dd).");
        }

        long quantity;
        try
        {
            quantity = LanguagePrimitives.ConvertTo<long>(values.TryGetValue("Quantity", out var q) ? q : throw Invalid(index, "'Quantity' is missing."));
        }
        catch (PSInvalidCastException ex)
        {
            throw Invalid(index, $"'Quantity' is not a whole number ({ex.Message}).");
        }

        var modules = values.TryGetValue("Modules", out var m) && m is not null
            ? LanguagePrimitives.ConvertTo<string[]>(m)
            : [];
        var revokes = Text("Revokes", false);
        return new LicenseItemSpec(
            Text("ItemId", true),
            Text("Product", true),
            Text("Version", true),
            Enumerated<Deployment>("Deployment"),
            Text("Edition", false),
            Enumerated<LicenseMode>("Mode"),
            quantity,
            Date("StartDate", issueDate),
            Date("ExpirationDate", null),
            modules,
            revokes.Length == 0 ? null : revokes);
    }

    private static DlsException Invalid(int index, string message) =>
        new(ErrorIds.LicenseItemInvalid, DlsErrorKind.InvalidArgument, $"-Item[{index}]: {message}", index);
}
