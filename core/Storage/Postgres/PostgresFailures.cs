using Dls.Core.Errors;
using Npgsql;

namespace Dls.Core.Storage.Postgres;

/// <summary>
/// PostgreSQL's failures as the same <see cref="DlsException"/>s SQLite's become (<see cref="StoreFailures"/>), by
/// SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html); a server that cannot be reached at all
/// is StoreUnavailable.
/// </summary>
internal static class PostgresFailures
{
    public static DlsException Translate(NpgsqlException error, string uri) => StateOf(error) switch
    {
        "3D000" => new DlsException(
            ErrorIds.StoreNotFound,
            DlsErrorKind.NotFound,
            $"The PostgreSQL database of '{uri}' does not exist. Create it (createdb, or CREATE DATABASE) and run Initialize-DlsServer -StorePath '{uri}'.",
            uri,
            error),
        "28P01" or "28000" => new DlsException(
            ErrorIds.StoreUnavailable,
            DlsErrorKind.PermissionDenied,
            $"PostgreSQL refused the login of '{uri}' ({error.Message.TrimEnd('.')}). Give the password in PGPASSWORD or a pgpass file (never on the command line).",
            uri,
            error),
        "55P03" or "40P01" or "57014" => new DlsException(
            ErrorIds.StoreBusy,
            DlsErrorKind.ResourceUnavailable,
            $"The DLS store '{uri}' is locked by another writer and stayed locked for {DlsStore.BusyTimeout.TotalSeconds:0} s. Try again when the other work has finished.",
            uri,
            error),
        "25006" or "42501" => new DlsException(
            ErrorIds.StoreReadOnly,
            DlsErrorKind.PermissionDenied,
            $"The DLS store '{uri}' cannot be written: {error.Message.TrimEnd('.')}. Connect to the primary server, with a role that may write its tables.",
            uri,
            error),
        "53100" => new DlsException(
            ErrorIds.StoreFull,
            DlsErrorKind.LimitsExceeded,
            $"The disk of the PostgreSQL server holding '{uri}' is full. Free space there; nothing of the failed change was written.",
            uri,
            error),
        "XX001" or "XX002" => new DlsException(
            ErrorIds.StoreCorrupt,
            DlsErrorKind.InvalidData,
            $"The PostgreSQL database of '{uri}' is damaged ({error.Message.TrimEnd('.')}). Restore it from a backup.",
            uri,
            error),
        _ => new DlsException(
            ErrorIds.StoreUnavailable,
            DlsErrorKind.ResourceUnavailable,
            $"The DLS store '{uri}' failed: {error.Message}",
            uri,
            error),
    };

    /// <summary>
    /// The server's SQLSTATE; Npgsql's own refusal to log in without a password (the server asked for one and none was
    /// given) counts as a refused login.
    /// </summary>
    private static string? StateOf(NpgsqlException error) =>
        error is PostgresException server ? server.SqlState
        : error.Message.Contains("password", StringComparison.OrdinalIgnoreCase) ? "28P01"
        : null;
}
