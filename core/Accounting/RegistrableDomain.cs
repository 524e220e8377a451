using System.Globalization;

namespace Dls.Core.Accounting;

/// <summary>
/// Folds a host name to the domain a per-domain item counts (SPEC §3, §7): its registrable domain under the Public
/// Suffix List (<see cref="PublicSuffixList"/>, both sections), so <c>a.example.com</c> and <c>b.example.com</c> are one
/// domain, <c>a.pref.tokyo.jp</c> folds to <c>pref.tokyo.jp</c>, and every tenant of a multi-tenant suffix
/// (<c>alice.s3.amazonaws.com</c>, <c>acme.force.com</c>) counts on its own. IP addresses, single-label hosts
/// (<c>localhost</c>) and hosts that are themselves a public suffix count as themselves; docs/license-modes.md.
/// </summary>
public static class RegistrableDomain
{
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

    /// <summary>
    /// The registrable domain of <paramref name="host"/> (normalized first); the normalized host itself when it is an IP
    /// address or a public suffix; null when nothing is left or a label is empty.
    /// </summary>
    public static string? Of(string? host)
    {
        var name = Normalize(host);
        if (name is null || name.StartsWith('[') || System.Net.IPAddress.TryParse(name, out _))
        {
            return name;
        }

        if (name.Split('.').Any(label => label.Length == 0))
        {
            return null;
        }

        return PublicSuffixList.Default.RegistrableDomainOf(name) ?? name;
    }
}
