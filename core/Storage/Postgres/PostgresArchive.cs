using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Dls.Core.Storage.Postgres;

/// <summary>
/// What a <c>pg_dump --format=custom</c> archive holds, read without restoring it: the tables its table of contents
/// lists, and the rows of a table (pg_restore writes them as COPY text, which is parsed here). A restore checks a
/// backup this way before it changes anything.
/// </summary>
internal sealed partial class PostgresArchive
{
    /// <summary>How every custom-format archive begins.</summary>
    public static ReadOnlySpan<byte> Magic => "PGDMP"u8;

    private readonly PostgresTools _tools;

    private PostgresArchive(string path, PostgresTools tools, IReadOnlySet<string> tables)
    {
        Path = path;
        _tools = tools;
        Tables = tables;
    }

    public string Path { get; }

    /// <summary>The names of the tables the archive creates (without their schema).</summary>
    public IReadOnlySet<string> Tables { get; }

    /// <summary>Whether the file at <paramref name="path"/> begins as a pg_dump custom archive.</summary>
    public static bool LooksLikeOne(string path) => Begins(path, Magic);

    /// <summary>Whether the file at <paramref name="path"/> begins with <paramref name="magic"/>.</summary>
    public static bool Begins(string path, ReadOnlySpan<byte> magic)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Span<byte> start = stackalloc byte[magic.Length];
        return file.ReadAtLeast(start, start.Length, throwOnEndOfStream: false) == start.Length && start.SequenceEqual(magic);
    }

    /// <summary>The archive at <paramref name="path"/>; null with pg_restore's words when pg_restore cannot read it.</summary>
    public static (PostgresArchive? Archive, string Problem) Open(string path, PostgresTools tools)
    {
        var (contents, problem) = tools.List(path);
        if (contents is null)
        {
            return (null, problem);
        }

        var tables = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in contents.Split('\n'))
        {
            // "215; 1259 16385 TABLE public server postgres": id; catalog oid; type; schema; name; owner.
            var entry = TableEntry().Match(line);
            if (entry.Success)
            {
                tables.Add(entry.Groups["name"].Value);
            }
        }

        return (new PostgresArchive(path, tools, tables), string.Empty);
    }

    /// <summary>The rows of <paramref name="table"/>, each a map of column name to value (null for SQL NULL).</summary>
    public List<Dictionary<string, string?>> Rows(string table)
    {
        var rows = new List<Dictionary<string, string?>>();
        string[]? columns = null;
        foreach (var line in _tools.Data(Path, table).Split('\n'))
        {
            if (columns is null)
            {
                var copy = CopyHeader().Match(line);
                if (copy.Success && string.Equals(Unquote(copy.Groups["table"].Value.Split('.')[^1]), table, StringComparison.Ordinal))
                {
                    columns = copy.Groups["columns"].Value.Split(',').Select(column => Unquote(column.Trim())).ToArray();
                }

                continue;
            }

            if (line == "\\.")
            {
                break;
            }

            var values = line.Split('\t');
            var row = new Dictionary<string, string?>(StringComparer.Ordinal);
            for (var i = 0; i < columns.Length && i < values.Length; i++)
            {
                row[columns[i]] = values[i] == "\\N" ? null : Unescape(values[i]);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>A bytea value as COPY text gives it (<c>\x0a1b…</c>); null when it is not in that form.</summary>
    public static byte[]? Bytes(string? value) =>
        value is not null && value.StartsWith("\\x", StringComparison.Ordinal) ? Convert.FromHexString(value.AsSpan(2)) : null;

    private static string Unquote(string name) =>
        name.Length >= 2 && name[0] == '"' && name[^1] == '"' ? name[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal) : name;

    /// <summary>Undoes COPY's text escapes: <c>\\</c>, <c>\t</c>, <c>\n</c> and the like, octal and <c>\x</c> bytes.</summary>
    private static string Unescape(string value)
    {
        if (!value.Contains('\\', StringComparison.Ordinal))
        {
            return value;
        }

        // Byte by byte over the UTF-8 text: a backslash is never part of a multi-byte character.
        var text = Encoding.UTF8.GetBytes(value);
        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != (byte)'\\' || i + 1 == text.Length)
            {
                bytes.Add(text[i]);
                continue;
            }

            var c = (char)text[++i];
            switch (c)
            {
                case 'b': bytes.Add(8); break;
                case 'f': bytes.Add(12); break;
                case 'n': bytes.Add(10); break;
                case 'r': bytes.Add(13); break;
                case 't': bytes.Add(9); break;
                case 'v': bytes.Add(11); break;
                case 'x' when i + 1 < text.Length && Uri.IsHexDigit((char)text[i + 1]):
                    var hex = i + 2 < text.Length && Uri.IsHexDigit((char)text[i + 2]) ? 2 : 1;
                    bytes.Add(byte.Parse(Encoding.ASCII.GetString(text, i + 1, hex), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += hex;
                    break;
                case >= '0' and <= '7':
                    var digits = 1;
                    while (digits < 3 && i + digits < text.Length && text[i + digits] is >= (byte)'0' and <= (byte)'7')
                    {
                        digits++;
                    }

                    bytes.Add((byte)Convert.ToInt32(Encoding.ASCII.GetString(text, i, digits), 8));
                    i += digits - 1;
                    break;
                default:
                    bytes.Add((byte)c);
                    break;
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    [GeneratedRegex(@"^\d+;\s+\d+\s+\d+\s+TABLE\s+(?<schema>\S+)\s+(?<name>\S+)\s")]
    private static partial Regex TableEntry();

    [GeneratedRegex(@"^COPY\s+(?<table>\S+)\s+\((?<columns>[^)]*)\)\s+FROM\s+stdin;")]
    private static partial Regex CopyHeader();
}
