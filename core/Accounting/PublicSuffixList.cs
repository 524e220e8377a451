using System.Globalization;

namespace Dls.Core.Accounting;

/// <summary>
/// The Public Suffix List (https://publicsuffix.org/list/) and its algorithm: which part of a host name is a public
/// suffix (<c>com</c>, <c>co.uk</c>, <c>s3.amazonaws.com</c>) and which is the registrable domain (the suffix and one
/// more label). Normal, wildcard (<c>*.ck</c>) and exception (<c>!www.ck</c>) rules, the ICANN and PRIVATE sections, the
/// prevailing rule (an exception wins, else the rule with the most labels) and the implicit <c>*</c> rule for unlisted
/// top-level domains. The list ships in this assembly (<c>public_suffix_list.dat</c>, MPL-2.0, refreshed by
/// tools/Update-PublicSuffixList.ps1; docs/public-suffix-list.md); it is parsed once into a tree of labels read from
/// the right, so a lookup costs one dictionary probe per label of the host.
/// </summary>
public sealed class PublicSuffixList
{
    private const string ResourceName = "Dls.Core.public_suffix_list.dat";

    private static readonly Lazy<PublicSuffixList> Embedded = new(() =>
    {
        using var stream = typeof(PublicSuffixList).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The resource {ResourceName} is missing from {typeof(PublicSuffixList).Assembly.GetName().Name}.");
        using var reader = new StreamReader(stream);
        return Parse(reader);
    });

    private readonly Node _root = new();

    private PublicSuffixList()
    {
    }

    /// <summary>The list carried in this assembly, parsed on first use.</summary>
    public static PublicSuffixList Default => Embedded.Value;

    /// <summary>How many rules the list holds (each section's rules, exceptions included).</summary>
    public int RuleCount { get; private set; }

    /// <summary>Reads a list in the publicsuffix.org format: one rule a line, <c>//</c> comments, section markers.</summary>
    public static PublicSuffixList Parse(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var list = new PublicSuffixList();
        var idn = new IdnMapping();
        var isPrivate = false;
        while (reader.ReadLine() is { } line)
        {
            var text = line.Trim();
            if (text.StartsWith("//", StringComparison.Ordinal))
            {
                if (text.Contains("===BEGIN PRIVATE DOMAINS===", StringComparison.Ordinal))
                {
                    isPrivate = true;
                }
                else if (text.Contains("===BEGIN ICANN DOMAINS===", StringComparison.Ordinal))
                {
                    isPrivate = false;
                }

                continue;
            }

            // A rule is the line up to its first white space.
            var end = text.IndexOfAny([' ', '\t']);
            var rule = end < 0 ? text : text[..end];
            if (rule.Length == 0)
            {
                continue;
            }

            var exception = rule[0] == '!';
            if (exception)
            {
                rule = rule[1..];
            }

            list.Add(ToAscii(idn, rule), exception, isPrivate);
        }

        return list;
    }

    /// <summary>
    /// The public suffix of <paramref name="host"/> (a lower-case ASCII name as <see cref="RegistrableDomain.Normalize"/>
    /// makes it, no trailing dot): the listed suffix, or the last label under the implicit <c>*</c> rule. Null for a
    /// name with an empty label.
    /// </summary>
    /// <param name="includePrivate">false to use the ICANN section only (<c>s3.amazonaws.com</c> is then not a suffix).</param>
    public string? PublicSuffixOf(string host, bool includePrivate = true) =>
        Labels(host) is { } labels ? string.Join('.', labels[^SuffixLabels(labels, includePrivate)..]) : null;

    /// <summary>
    /// The registrable domain of <paramref name="host"/> (normalized as for <see cref="PublicSuffixOf"/>): its public
    /// suffix and one more label. Null when the host is itself a public suffix, or has an empty label.
    /// </summary>
    public string? RegistrableDomainOf(string host, bool includePrivate = true)
    {
        if (Labels(host) is not { } labels)
        {
            return null;
        }

        var count = SuffixLabels(labels, includePrivate) + 1;
        return count > labels.Length ? null : string.Join('.', labels[^count..]);
    }

    private static string[]? Labels(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var labels = host.Split('.');
        return labels.Any(l => l.Length == 0) ? null : labels;
    }

    /// <summary>The number of labels of the public suffix: the prevailing rule's, or 1 under the implicit "*" rule.</summary>
    private int SuffixLabels(string[] labels, bool includePrivate)
    {
        var longest = 1;
        var exception = 0;
        Match(_root, labels, labels.Length - 1, 1, includePrivate, ref longest, ref exception);

        // An exception rule prevails; its suffix is the rule without its leftmost label.
        return exception > 0 ? exception - 1 : longest;
    }

    /// <summary>Walks the tree from the rightmost label, following both the label's own branch and a wildcard.</summary>
    private static void Match(Node node, string[] labels, int index, int depth, bool includePrivate, ref int longest, ref int exception)
    {
        if (index < 0 || node.Children is null)
        {
            return;
        }

        if (node.Children.TryGetValue(labels[index], out var exact))
        {
            Visit(exact, labels, index, depth, includePrivate, ref longest, ref exception);
        }

        if (node.Children.TryGetValue("*", out var wildcard))
        {
            Visit(wildcard, labels, index, depth, includePrivate, ref longest, ref exception);
        }
    }

    private static void Visit(Node node, string[] labels, int index, int depth, bool includePrivate, ref int longest, ref int exception)
    {
        if (includePrivate || !node.IsPrivate)
        {
            if (node.IsException)
            {
                exception = Math.Max(exception, depth);
            }
            else if (node.IsRule)
            {
                longest = Math.Max(longest, depth);
            }
        }

        Match(node, labels, index - 1, depth + 1, includePrivate, ref longest, ref exception);
    }

    private static string ToAscii(IdnMapping idn, string rule)
    {
        var lower = rule.ToLowerInvariant();
        if (lower.All(char.IsAscii))
        {
            return lower;
        }

        // Labels one by one: "*" is not a valid IDN label.
        return string.Join('.', lower.Split('.').Select(label => label == "*" || label.All(char.IsAscii) ? label : idn.GetAscii(label)));
    }

    private void Add(string rule, bool exception, bool isPrivate)
    {
        var node = _root;
        var labels = rule.Split('.');
        for (var i = labels.Length - 1; i >= 0; i--)
        {
            node.Children ??= new Dictionary<string, Node>(StringComparer.Ordinal);
            if (!node.Children.TryGetValue(labels[i], out var child))
            {
                node.Children[labels[i]] = child = new Node();
            }

            node = child;
        }

        if (exception)
        {
            node.IsException = true;
        }
        else
        {
            node.IsRule = true;
        }

        node.IsPrivate = isPrivate;
        RuleCount++;
    }

    private sealed class Node
    {
        public Dictionary<string, Node>? Children;
        public bool IsRule;
        public bool IsException;
        public bool IsPrivate;
    }
}
