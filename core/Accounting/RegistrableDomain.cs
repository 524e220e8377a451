using System.Globalization;

namespace Dls.Core.Accounting;

/// <summary>
/// Folds a host name to the domain a per-domain item counts (SPEC §3): <c>a.example.com</c> and
/// <c>b.example.com</c> are one domain, while on a multi-tenant suffix such as <c>force.com</c> each tenant counts.
/// No public-suffix package is available to this project, so the rule is written down here and in
/// docs/license-modes.md: the last two labels; three when the last two form a known second-level public suffix
/// (<c>co.uk</c>, <c>com.au</c>, ...); one more than a listed multi-tenant suffix.
/// IP addresses and single-label hosts (<c>localhost</c>) count as themselves.
/// </summary>
public static class RegistrableDomain
{
    /// <summary>Hosting suffixes under which every tenant is a separate customer.</summary>
    public static readonly IReadOnlySet<string> MultiTenantSuffixes = new HashSet<string>(StringComparer.Ordinal)
    {
        "force.com", "salesforce.com", "my.salesforce.com", "herokuapp.com", "github.io", "gitlab.io",
        "azurewebsites.net", "cloudapp.net", "azurestaticapps.net", "cloudfront.net", "amazonaws.com",
        "appspot.com", "blogspot.com", "web.app", "firebaseapp.com", "netlify.app", "vercel.app", "pages.dev",
        "workers.dev", "onrender.com", "fly.dev", "glitch.me", "repl.co", "ngrok.io", "ngrok-free.app",
        "wordpress.com", "shopify.com", "myshopify.com", "wixsite.com", "squarespace.com", "sharepoint.com",
    };

    /// <summary>Second-level labels that are public registries under a country code (co.uk, com.au, ...).</summary>
    private static readonly HashSet<string> GenericSecondLevels = new(StringComparer.Ordinal)
    {
        "co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "mil", "ltd", "plc", "nic", "sch", "nom",
    };

    /// <summary>Lowercases, strips a scheme, port, path and trailing dot, and converts IDNs to ASCII; null when nothing is left.</summary>
    public static string? Normalize(string? host)
    {
        if (string.IsNullOrWhiteSpace(host))
        {
            return null;
        }

        var text = host.Trim();
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            text = text[(scheme + 3)..];
        }

        var end = text.IndexOfAny(['/', '?', '#']);
        if (end >= 0)
        {
            text = text[..end];
        }

        var at = text.LastIndexOf('@');
        if (at >= 0)
        {
            text = text[(at + 1)..];
        }

        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']');
            return close > 0 ? text[..(close + 1)].ToLowerInvariant() : null;
        }

        var colon = text.LastIndexOf(':');
        if (colon >= 0)
        {
            text = text[..colon];
        }

        text = text.TrimEnd('.');
        if (text.Length == 0)
        {
            return null;
        }

        try
        {
            return new IdnMapping().GetAscii(text).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return text.ToLowerInvariant();
        }
    }

    /// <summary>The registrable domain of <paramref name="host"/> (normalized first).</summary>
    public static string? Of(string? host)
    {
        var name = Normalize(host);
        if (name is null || name.StartsWith('[') || System.Net.IPAddress.TryParse(name, out _))
        {
            return name;
        }

        var labels = name.Split('.');
        if (labels.Length <= 2)
        {
            return name;
        }

        // Multi-tenant suffixes: the tenant label plus the suffix. Longest listed suffix first.
        for (var take = labels.Length - 1; take >= 2; take--)
        {
            var suffix = string.Join('.', labels[^take..]);
            if (MultiTenantSuffixes.Contains(suffix))
            {
                return string.Join('.', labels[^(take + 1)..]);
            }
        }

        var keep = labels[^1].Length == 2 && GenericSecondLevels.Contains(labels[^2]) ? 3 : 2;
        return string.Join('.', labels[^Math.Min(keep, labels.Length)..]);
    }
}
