using Dls.Core.Storage;
using Dls.Core.Storage.Sql;
using System.Data.Common;

namespace Dls.Core.Audit;

/// <summary>One entry of the administrator's audit trail: who changed what, when.</summary>
public sealed record AuditEntry(DateTime Time, string User, string Action, string Target, string Details);

/// <summary>
/// Writes audit entries inside the caller's transaction, so a change and its record commit together,
/// and reads them back for Get-DlsAuditLog.
/// </summary>
public static class AuditLog
{
    /// <summary>Appends an entry in the caller's unit of work, so the change and its record commit together.</summary>
    public static void Write(UnitOfWork work, DateTimeOffset time, string action, string target, string details = "") =>
        work.Stores.Server.AppendAudit(work, time, CurrentUser(), action, target, details);

    /// <remarks>For code not yet moved onto units of work.</remarks>
    public static void Write(DbConnection connection, DbTransaction transaction, DateTimeOffset time, string action, string target, string details = "")
    {
        using var work = SqlUnitOfWork.Borrow(connection, transaction);
        Write(work, time, action, target, details);
    }

    /// <summary>The entries from <paramref name="since"/> on (all when null), oldest first.</summary>
    public static IReadOnlyList<AuditEntry> Read(DlsStore store, DateTimeOffset? since) =>
        store.Query(work => work.Stores.Server.Audit(work, since ?? DateTimeOffset.MinValue));

    private static string CurrentUser()
    {
        var domain = Environment.UserDomainName;
        var user = Environment.UserName;
        return OperatingSystem.IsWindows() && !string.IsNullOrEmpty(domain) ? $"{domain}\\{user}" : user;
    }
}
