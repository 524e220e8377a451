using System.Management.Automation;
using Dls.Core.Errors;

namespace Dls.Module;

/// <summary>Selection by names with wildcards, the way Get-* cmdlets do it: an exact name that matches nothing is an error, a pattern is not.</summary>
internal static class Filters
{
    public static IEnumerable<T> Select<T>(IReadOnlyList<T> all, string[]? names, Func<T, string> key, Func<string, DlsException> notFound, Action<DlsException> report)
    {
        if (names is null || names.Length == 0)
        {
            foreach (var item in all)
            {
                yield return item;
            }

            yield break;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var pattern = WildcardPattern.ContainsWildcardCharacters(name) ? new WildcardPattern(name, WildcardOptions.IgnoreCase) : null;
            var found = false;
            foreach (var item in all.Where(i => pattern?.IsMatch(key(i)) ?? key(i) == name))
            {
                found = true;
                if (seen.Add(key(item)))
                {
                    yield return item;
                }
            }

            if (!found && pattern is null)
            {
                report(notFound(name));
            }
        }
    }

    public static bool Matches(string[]? patterns, string value) =>
        patterns is null || patterns.Length == 0 || patterns.Any(p => new WildcardPattern(p, WildcardOptions.IgnoreCase).IsMatch(value));
}
