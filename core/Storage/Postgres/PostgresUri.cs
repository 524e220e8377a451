using System.Globalization;
using Dls.Core.Errors;
using Npgsql;

namespace Dls.Core.Storage.Postgres;

/// <summary>
/// A store named by a <c>postgresql://user@host:port/database</c> URI (SPEC §1). Several hosts may be given
/// (<c>host1,host2:5433</c>), and the query may set <c>sslmode</c>, <c>target_session_attrs</c> and
/// <c>application_name</c>. The password never comes from the URI (a command line ends up in shell histories and
/// process lists): Npgsql reads it from <c>PGPASSWORD</c> or the pgpass file (<c>PGPASSFILE</c>, else ~/.pgpass).
/// </summary>
public static class PostgresUri
{
    // libpq's values of target_session_attrs, as Npgsql takes them.
    private static readonly string[] SessionAttributes = ["any", "read-write", "read-only", "primary", "standby", "prefer-primary", "prefer-standby"];

    /// <summary>Whether <paramref name="path"/> names a PostgreSQL store rather than a SQLite file.</summary>
    public static bool IsUri(string? path) =>
        path is not null &&
        (path.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase));

    /// <summary>The Npgsql connection string for <paramref name="uri"/>; InvalidStoreUri when it cannot be one.</summary>
    public static string ConnectionString(string uri, TimeSpan lockTimeout)
    {
        var rest = uri[(uri.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var query = string.Empty;
        var q = rest.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }

        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var authority = slash < 0 ? rest : rest[..slash];
        var database = slash < 0 ? string.Empty : Uri.UnescapeDataString(rest[(slash + 1)..]);
        var at = authority.LastIndexOf('@');
        var user = at < 0 ? string.Empty : Uri.UnescapeDataString(authority[..at]);
        var hosts = at < 0 ? authority : authority[(at + 1)..];
        if (user.Contains(':', StringComparison.Ordinal))
        {
            throw Invalid(uri, "it holds a password; give it in PGPASSWORD or a pgpass file instead, never on the command line");
        }

        if (hosts.Length == 0 || database.Length == 0 || database.Contains('/', StringComparison.Ordinal))
        {
            throw Invalid(uri, "it must name a host and a database: postgresql://user@host:port/database");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = hosts,
            Database = database,
            // No automatic server-side preparation: with it on, Npgsql 8 skipped an insert of a reused command in the
            // licensing tests (a third license item never written, no error). Measured without it (docs/benchmarks.md).
            MaxAutoPrepare = 0,
            // A writer waits for the store's write lock as long as SQLite's busy timeout, then gives up (StoreBusy). A session
            // that sits in a transaction doing nothing for 10 s (its process hung or stopped while it held the write lock)
            // is ended by the server, so that the lock it held cannot keep a standby or the other listeners waiting.
            Options = $"-c lock_timeout={(int)lockTimeout.TotalMilliseconds} -c idle_in_transaction_session_timeout=10000",
            ApplicationName = "DLS",
        };
        if (user.Length > 0)
        {
            builder.Username = user;
        }

        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var name = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]).ToLowerInvariant();
            var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(pair[(eq + 1)..]);
            switch (name)
            {
                case "sslmode" when Enum.TryParse<SslMode>(value.Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true, out var mode):
                    builder.SslMode = mode;
                    break;
                case "target_session_attrs" when SessionAttributes.Contains(value.ToLowerInvariant()):
                    builder.TargetSessionAttributes = value.ToLowerInvariant();
                    break;
                case "application_name":
                    builder.ApplicationName = value;
                    break;
                case "password":
                    throw Invalid(uri, "it holds a password; give it in PGPASSWORD or a pgpass file instead, never on the command line");
                default:
                    throw Invalid(uri, string.Create(CultureInfo.InvariantCulture, $"'{name}={value}' is not understood (sslmode, target_session_attrs and application_name are)"));
            }
        }

        return builder.ConnectionString;
    }

    private static DlsException Invalid(string uri, string why) => new(
        ErrorIds.InvalidStoreUri,
        DlsErrorKind.InvalidArgument,
        $"The store URI '{Redacted(uri)}' cannot be used: {why}.",
        Redacted(uri));

    /// <summary>The URI without a password, should someone have put one in.</summary>
    public static string Redacted(string uri)
    {
        var start = uri.IndexOf("://", StringComparison.Ordinal) + 3;
        var at = uri.IndexOf('@', start);
        var colon = at < 0 ? -1 : uri.IndexOf(':', start, at - start);
        return colon < 0 ? uri : uri[..colon] + ":***" + uri[at..];
    }
}
