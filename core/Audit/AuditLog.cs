using Microsoft.Data.Sqlite;

namespace Dls.Core.Audit;

/// <summary>One entry of the administrator's audit trail: who changed what, when.</summary>
public sealed record AuditEntry(DateTime Time, string User, string Action, string Target, string Details);

/// <summary>
/// Writes audit entries inside the caller's transaction, so a change and its record commit together,
/// and reads them back for Get-DlsAuditLog.
/// </summary>
public static class AuditLog
{
    public static void Write(SqliteConnection connection, SqliteTransaction transaction, DateTimeOffset time, string action, string target, string details = "")
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO audit_log (time, user, action, target, details) VALUES ($time, $user, $action, $target, $details);";
        command.Parameters.AddWithValue("$time", Timestamps.Format(time));
        command.Parameters.AddWithValue("$user", CurrentUser());
        command.Parameters.AddWithValue("$action", action);
        command.Parameters.AddWithValue("$target", target);
        command.Parameters.AddWithValue("$details", details);
        command.ExecuteNonQuery();
    }

    /// <summary>The entries at or after <paramref name="since"/>, oldest first, read from <paramref name="store"/>.</summary>
    public static IReadOnlyList<AuditEntry> Read(Storage.DlsStore store, DateTimeOffset? since) => store.Read(connection => Read(connection, since));

    public static IReadOnlyList<AuditEntry> Read(SqliteConnection connection, DateTimeOffset? since)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT time, user, action, target, details FROM audit_log WHERE time >= $since ORDER BY id;";
        command.Parameters.AddWithValue("$since", Timestamps.Format(since ?? DateTimeOffset.MinValue));
        using var reader = command.ExecuteReader();
        var entries = new List<AuditEntry>();
        while (reader.Read())
        {
            entries.Add(new AuditEntry(Timestamps.Parse(reader.GetString(0)).UtcDateTime, reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)));
        }

        return entries;
    }

    private static string CurrentUser()
    {
        var domain = Environment.UserDomainName;
        var user = Environment.UserName;
        return OperatingSystem.IsWindows() && !string.IsNullOrEmpty(domain) ? $"{domain}\\{user}" : user;
    }
}
