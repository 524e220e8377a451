using Dls.Core.Errors;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage;

/// <summary>
/// The one place where the database engine's failures become <see cref="DlsException"/>s. Front ends never see an
/// engine exception: a busy, read-only, full or damaged store reaches an administrator as a stable ErrorId with a
/// sentence saying what to do, and the listener maps the same ids to its answers.
/// </summary>
public static class StoreFailures
{
    // SQLite primary result codes (https://sqlite.org/rescode.html); extended codes carry them in the low byte.
    private const int Perm = 3;
    private const int Busy = 5;
    private const int Locked = 6;
    private const int ReadOnly = 8;
    private const int IoErr = 10;
    private const int Corrupt = 11;
    private const int Full = 13;
    private const int CantOpen = 14;
    private const int NotADatabase = 26;

    /// <summary>True for the ids that say the store itself cannot be used, whatever the input: no further input can succeed.</summary>
    public static bool IsStoreWide(DlsException error) => error.ErrorId is
        ErrorIds.StoreNotFound or ErrorIds.StoreUnavailable or ErrorIds.StoreTooNew or ErrorIds.ServerNotInitialized or
        ErrorIds.StoreBusy or ErrorIds.StoreReadOnly or ErrorIds.StoreCorrupt or ErrorIds.StoreNotDls or ErrorIds.StoreFull;

    /// <summary>The <see cref="DlsException"/> an engine failure on the store at <paramref name="path"/> stands for.</summary>
    public static DlsException Translate(SqliteException error, string path) => (error.SqliteErrorCode & 0xFF) switch
    {
        Busy or Locked => new DlsException(
            ErrorIds.StoreBusy,
            DlsErrorKind.ResourceUnavailable,
            $"The DLS store '{path}' is locked by another process and stayed locked for {DlsStore.BusyTimeout.TotalSeconds:0} s. " +
            "Try again when the other work (a backup, a restore, another tool holding the file) has finished.",
            path,
            error),
        ReadOnly or Perm => new DlsException(
            ErrorIds.StoreReadOnly,
            DlsErrorKind.PermissionDenied,
            $"The DLS store '{path}' cannot be written: the file, its folder or the disk is read-only for this user. " +
            "Give this account write access to the store file and its folder (SQLite also writes '-wal' and '-shm' files beside it).",
            path,
            error),
        Corrupt or NotADatabase => new DlsException(
            ErrorIds.StoreCorrupt,
            DlsErrorKind.InvalidData,
            $"The DLS store '{path}' is damaged or is not a database ({error.Message.TrimEnd('.')}). Restore it from a backup with Restore-DlsStore.",
            path,
            error),
        Full => new DlsException(
            ErrorIds.StoreFull,
            DlsErrorKind.LimitsExceeded,
            $"The disk holding the DLS store '{path}' is full. Free space there; nothing of the failed change was written.",
            path,
            error),
        CantOpen or IoErr => new DlsException(
            ErrorIds.StoreUnavailable,
            DlsErrorKind.ResourceUnavailable,
            $"The DLS store '{path}' could not be opened or read: {error.Message}",
            path,
            error),
        _ => new DlsException(
            ErrorIds.StoreUnavailable,
            DlsErrorKind.ResourceUnavailable,
            $"The DLS store '{path}' failed: {error.Message}",
            path,
            error),
    };
}
