using System.Diagnostics;
using System.Globalization;
using System.Text;
using Dls.Core.Errors;
using Npgsql;

namespace Dls.Core.Storage.Postgres;

/// <summary>
/// PostgreSQL's own client tools (pg_dump, pg_restore), which Backup-DlsStore and Restore-DlsStore run on a PostgreSQL
/// store. They are found in <c>DLS_POSTGRES_BIN</c> when set, else on PATH, else in the newest
/// <c>/usr/lib/postgresql/*/bin</c> (Debian keeps them there). The store's server, port, user and database reach them
/// through PGHOST, PGPORT, PGUSER and PGDATABASE of the child process, never its command line; the password, as for
/// DLS itself, through the inherited PGPASSWORD or pgpass file. They never prompt: without a password they fail.
/// </summary>
internal sealed class PostgresTools
{
    /// <summary>Names the folder holding pg_dump and pg_restore when they are neither on PATH nor in /usr/lib/postgresql.</summary>
    public const string FolderVariable = "DLS_POSTGRES_BIN";

    private readonly string? _folder;

    /// <param name="folder">The folder to take the tools from; null to search as the class summary says.</param>
    public PostgresTools(string? folder = null)
    {
        _folder = folder;
    }

    /// <summary>Writes a <c>pg_dump --format=custom</c> archive of the store's database into <paramref name="file"/> (which exists; its mode is kept).</summary>
    public void Dump(string uri, string file) =>
        Checked("pg_dump", Run("pg_dump", ["--format=custom", "--no-password", "--file=" + file], uri), uri);

    /// <summary>The table of contents of a pg_dump archive (<c>pg_restore --list</c>); null with pg_restore's words when the file is not one.</summary>
    public (string? Contents, string Problem) List(string archive)
    {
        var result = Run("pg_restore", ["--list", archive], uri: null);
        return result.ExitCode == 0 ? (result.Output, string.Empty) : (null, Words(result));
    }

    /// <summary>The rows of one table of a pg_dump archive, as the COPY text pg_restore writes (<c>--data-only --table</c>).</summary>
    public string Data(string archive, string table)
    {
        var result = Run("pg_restore", ["--data-only", "--table=" + table, "--file=-", archive], uri: null);
        Checked("pg_restore", result, archive);
        return result.Output;
    }

    /// <summary>
    /// Replaces the objects of the store's database with those of <paramref name="archive"/> in one transaction: it
    /// commits whole or not at all. A lock held by another session longer than the store's busy timeout fails it
    /// (<see cref="ErrorIds.StoreBusy"/>) rather than waiting without end.
    /// </summary>
    public void Restore(string uri, string archive)
    {
        var database = new NpgsqlConnectionStringBuilder(PostgresUri.ConnectionString(uri, DlsStore.BusyTimeout)).Database!;
        // --no-owner and --no-privileges: the tables belong to the user restoring, whatever roles the source server had.
        var result = Run("pg_restore", ["--clean", "--if-exists", "--single-transaction", "--no-owner", "--no-privileges", "--no-password", "--dbname=" + database, archive], uri);
        if (result.ExitCode != 0 && result.Error.Contains("lock timeout", StringComparison.OrdinalIgnoreCase))
        {
            throw new DlsException(
                ErrorIds.StoreBusy,
                DlsErrorKind.ResourceUnavailable,
                $"The DLS store '{PostgresUri.Redacted(uri)}' is in use by another session (a listener, another PowerShell session) that held its tables for {DlsStore.BusyTimeout.TotalSeconds:0} s: stop it and restore again; nothing was changed.",
                PostgresUri.Redacted(uri));
        }

        Checked("pg_restore", result, uri);
    }

    /// <summary>The tool's full path; PostgresToolMissing when it is nowhere to be found.</summary>
    public string Find(string tool)
    {
        var exe = OperatingSystem.IsWindows() ? tool + ".exe" : tool;
        var configured = _folder ?? Environment.GetEnvironmentVariable(FolderVariable);
        string? found;
        string searched;
        if (!string.IsNullOrWhiteSpace(configured))
        {
            found = Path.Combine(configured, exe);
            searched = $"'{configured}'" + (_folder is null ? $" ({FolderVariable})" : string.Empty);
            found = File.Exists(found) ? found : null;
        }
        else
        {
            found = OnPath(exe) ?? InNewestDebianFolder(exe);
            searched = "PATH or /usr/lib/postgresql/*/bin";
        }

        return found ?? throw new DlsException(
            ErrorIds.PostgresToolMissing,
            DlsErrorKind.ResourceUnavailable,
            $"{tool} is not installed: it is not in {searched}. Backup-DlsStore and Restore-DlsStore run PostgreSQL's own {tool} on a PostgreSQL store: "
            + $"install PostgreSQL's client tools (for example apt-get install postgresql-client), or set {FolderVariable} to the folder that holds them.",
            tool);
    }

    private static void Checked(string tool, (int ExitCode, string Output, string Error) result, string target)
    {
        if (result.ExitCode != 0)
        {
            var shown = PostgresUri.IsUri(target) ? PostgresUri.Redacted(target) : target;
            throw new DlsException(
                ErrorIds.PostgresToolFailed,
                DlsErrorKind.InvalidOperation,
                string.Create(CultureInfo.InvariantCulture, $"{tool} failed for '{shown}' (exit code {result.ExitCode}): {Words(result)}"),
                shown);
        }
    }

    private static string Words((int ExitCode, string Output, string Error) result)
    {
        var words = result.Error.Trim();
        return words.Length == 0 ? "it wrote no message." : words;
    }

    /// <summary>Runs a tool to its end, its output and errors read as they come (a full pipe would stall it).</summary>
    private (int ExitCode, string Output, string Error) Run(string tool, string[] arguments, string? uri)
    {
        var start = new ProcessStartInfo(Find(tool))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (uri is not null)
        {
            Connect(start.Environment, uri);
        }

        using var process = Process.Start(start) ?? throw new DlsException(ErrorIds.PostgresToolFailed, DlsErrorKind.ResourceUnavailable, $"{tool} could not be started.", tool);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, output.GetAwaiter().GetResult(), error.GetAwaiter().GetResult());
    }

    /// <summary>The libpq environment that points a tool at the store of <paramref name="uri"/>, as DLS itself connects to it.</summary>
    internal static void Connect(IDictionary<string, string?> environment, string uri)
    {
        var builder = new NpgsqlConnectionStringBuilder(PostgresUri.ConnectionString(uri, DlsStore.BusyTimeout));
        var hosts = new List<string>();
        var ports = new List<string>();
        foreach (var entry in builder.Host!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var (host, port) = SplitHost(entry, builder.Port);
            hosts.Add(host);
            ports.Add(port.ToString(CultureInfo.InvariantCulture));
        }

        // A service named in the environment would take precedence over these variables in libpq.
        environment.Remove("PGSERVICE");
        environment["PGHOST"] = string.Join(',', hosts);
        environment["PGPORT"] = string.Join(',', ports);
        environment["PGDATABASE"] = builder.Database;
        environment["PGAPPNAME"] = builder.ApplicationName;
        environment["PGOPTIONS"] = builder.Options;
        if (!string.IsNullOrEmpty(builder.Username))
        {
            environment["PGUSER"] = builder.Username;
        }

        if (builder.SslMode != SslMode.Prefer)
        {
            environment["PGSSLMODE"] = Libpq(builder.SslMode.ToString());
        }

        if (!string.IsNullOrEmpty(builder.TargetSessionAttributes))
        {
            environment["PGTARGETSESSIONATTRS"] = Libpq(builder.TargetSessionAttributes);
        }
    }

    /// <summary>Npgsql's host entry (<c>host</c>, <c>host:port</c>, <c>[v6]:port</c>) as libpq's separate host and port.</summary>
    private static (string Host, int Port) SplitHost(string entry, int defaultPort)
    {
        if (entry.StartsWith('['))
        {
            var close = entry.IndexOf(']', StringComparison.Ordinal);
            var rest = entry[(close + 1)..];
            return (entry[1..close], rest.StartsWith(':') ? int.Parse(rest[1..], CultureInfo.InvariantCulture) : defaultPort);
        }

        var colon = entry.LastIndexOf(':');
        return colon > 0 && entry.IndexOf(':') == colon && int.TryParse(entry[(colon + 1)..], CultureInfo.InvariantCulture, out var port)
            ? (entry[..colon], port)
            : (entry, defaultPort);
    }

    /// <summary>Npgsql's enum spelling (<c>VerifyFull</c>, <c>ReadWrite</c>) in libpq's (<c>verify-full</c>, <c>read-write</c>).</summary>
    private static string Libpq(string name)
    {
        var spelled = new StringBuilder();
        foreach (var c in name)
        {
            if (char.IsUpper(c) && spelled.Length > 0)
            {
                spelled.Append('-');
            }

            spelled.Append(char.ToLowerInvariant(c));
        }

        return spelled.ToString().Replace("verify-c-a", "verify-ca", StringComparison.Ordinal);
    }

    private static string? OnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, exe))
            .FirstOrDefault(File.Exists);

    /// <summary>Debian keeps each major version's tools off PATH, in /usr/lib/postgresql/VERSION/bin: the highest version wins (pg_dump reads servers up to its own version).</summary>
    private static string? InNewestDebianFolder(string exe)
    {
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root))
        {
            return null;
        }

        return Directory.GetDirectories(root)
            .Select(version => (Version: decimal.TryParse(Path.GetFileName(version), CultureInfo.InvariantCulture, out var number) ? number : -1, Tool: Path.Combine(version, "bin", exe)))
            .Where(entry => entry.Version >= 0 && File.Exists(entry.Tool))
            .OrderByDescending(entry => entry.Version)
            .Select(entry => entry.Tool)
            .FirstOrDefault();
    }
}
