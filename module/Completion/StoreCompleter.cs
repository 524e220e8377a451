using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using Dls.Core.Storage;

namespace Dls.Module.Completion;

/// <summary>
/// Tab completion from the store named by -StorePath on the command line (else the default store). Completion only
/// looks: it opens the store read-only, never creates, migrates or locks it, waits at most a moment for another
/// process's lock, and never fails loudly: a missing, older, busy or unreadable store completes nothing.
/// </summary>
public abstract class StoreCompleter : IArgumentCompleter
{
    /// <summary>How long completion waits for a store another process is writing; a key press must not hang.</summary>
    private static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(1);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        try
        {
            var path = fakeBoundParameters?["StorePath"] as string;
            if (!string.IsNullOrEmpty(path) && !Path.IsPathRooted(path) && !Dls.Core.Storage.Postgres.PostgresUri.IsUri(path))
            {
                var location = Runspace.DefaultRunspace?.SessionStateProxy?.Path?.CurrentFileSystemLocation?.ProviderPath;
                path = location is null ? path : Path.Combine(location, path);
            }

            var store = DlsStore.TryOpenReadOnly(StorePaths.Resolve(path), BusyTimeout);
            if (store is null)
            {
                return [];
            }

            var prefix = wordToComplete.Trim('\'', '"');
            var pattern = new WildcardPattern(prefix + "*", WildcardOptions.IgnoreCase);
            return Candidates(store)
                .Where(c => pattern.IsMatch(c.Value))
                .Select(c => new CompletionResult(Quote(c.Value), c.Value, CompletionResultType.ParameterValue, c.Tooltip))
                .ToList();
        }
#pragma warning disable CA1031 // completion must never throw at the user
        catch (Exception)
#pragma warning restore CA1031
        {
            return [];
        }
    }

    protected abstract IEnumerable<(string Value, string Tooltip)> Candidates(DlsStore store);

    private static string Quote(string value) =>
        value.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '$' or '`' or ';' or '(' or ')' or '{' or '}' or ',' or '&' or '|')
            ? "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'"
            : value;
}

public sealed class HandshakeCodeCompleter : StoreCompleter
{
    protected override IEnumerable<(string, string)> Candidates(DlsStore store) =>
        new Core.Licensing.HandshakeCodeService(store, TimeProvider.System).List()
            .Select(c => (c.Code, $"{c.Code}: {c.ItemIds.Count} items{(c.IsDefault ? ", default" : "")}{(c.Enabled ? "" : ", disabled")}"));
}

public sealed class LicenseItemCompleter : StoreCompleter
{
    protected override IEnumerable<(string, string)> Candidates(DlsStore store) =>
        new Core.Licensing.LicenseService(store, TimeProvider.System).Items()
            .Select(i => (i.ItemId, $"{i.ItemId}: {i.Product} {i.Mode} ×{i.Quantity}, until {i.ExpirationDate:yyyy-MM-dd}"));
}

public sealed class LicenseIdCompleter : StoreCompleter
{
    protected override IEnumerable<(string, string)> Candidates(DlsStore store) =>
        new Core.Licensing.LicenseService(store, TimeProvider.System).List().Select(l => (l.LicenseId, $"{l.LicenseId}: {l.Alias}"));
}

public sealed class TrustedIssuerCompleter : StoreCompleter
{
    protected override IEnumerable<(string, string)> Candidates(DlsStore store) =>
        new Core.Licensing.TrustedIssuerService(store, TimeProvider.System).List().Select(i => (i.KeyId, $"{i.KeyId}: {i.Name}"));
}
