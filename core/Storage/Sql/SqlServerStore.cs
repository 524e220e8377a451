using Dls.Core.Audit;
using Dls.Core.Listeners;
using System.Data.Common;

namespace Dls.Core.Storage.Sql;

/// <summary>The server aggregate on both engines (tables server, server_setting, listener, audit_log).</summary>
internal sealed class SqlServerStore : IServerStore
{
    public StoredServer? Identity(UnitOfWork work)
    {
        var command = SqlUnitOfWork.Of(work).Command(
            "SELECT uuid, organization_id, main_server_url, standby_server_url, role, public_key, created_at FROM server WHERE id = 1;");
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new StoredServer(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                (byte[])reader.GetValue(5), Timestamps.Parse(reader.GetString(6)))
            : null;
    }

    public void WriteIdentity(UnitOfWork work, StoredServer server, byte[] sealedPrivateKey, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO server (id, uuid, organization_id, main_server_url, standby_server_url, role, private_key, public_key, created_at, updated_at)
            VALUES (1, $uuid, $org, $main, $standby, $role, $private, $public, $created, $now)
            ON CONFLICT (id) DO UPDATE SET uuid = excluded.uuid, organization_id = excluded.organization_id, main_server_url = excluded.main_server_url,
                standby_server_url = excluded.standby_server_url, role = excluded.role, private_key = excluded.private_key,
                public_key = excluded.public_key, created_at = excluded.created_at, updated_at = excluded.updated_at;
            """);
        command.Parameters.AddWithValue("$uuid", server.Uuid);
        command.Parameters.AddWithValue("$org", server.OrganizationId);
        command.Parameters.AddWithValue("$main", server.MainServerUrl);
        command.Parameters.AddWithValue("$standby", server.StandbyServerUrl);
        command.Parameters.AddWithValue("$role", server.Role);
        command.Parameters.AddWithValue("$private", sealedPrivateKey);
        command.Parameters.AddWithValue("$public", server.PublicKey);
        command.Parameters.AddWithValue("$created", Timestamps.Format(server.CreatedAt));
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.ExecuteNonQuery();
    }

    public void UpdateIdentity(UnitOfWork work, string? organizationId, string? mainServerUrl, string? standbyServerUrl, string? role, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            UPDATE server SET organization_id = coalesce($org, organization_id), main_server_url = coalesce($main, main_server_url),
                standby_server_url = coalesce($standby, standby_server_url), role = coalesce($role, role), updated_at = $now
            WHERE id = 1;
            """);
        command.Parameters.AddWithValue("$org", (object?)organizationId ?? DBNull.Value);
        command.Parameters.AddWithValue("$main", (object?)mainServerUrl ?? DBNull.Value);
        command.Parameters.AddWithValue("$standby", (object?)standbyServerUrl ?? DBNull.Value);
        command.Parameters.AddWithValue("$role", (object?)role ?? DBNull.Value);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.ExecuteNonQuery();
    }

    public byte[]? SealedPrivateKey(UnitOfWork work) =>
        SqlUnitOfWork.Of(work).Command("SELECT private_key FROM server WHERE id = 1;").ExecuteScalar() as byte[];

    public bool HoldsLicenses(UnitOfWork work)
    {
        // The license table arrives with the licensing migration; a store without it holds no license.
        var sqlite = SqlUnitOfWork.Of(work);
        if (Convert.ToInt64(sqlite.Command(sqlite.Dialect.TableExists("license")).ExecuteScalar()) == 0)
        {
            return false;
        }

        return Convert.ToInt64(sqlite.Command("SELECT EXISTS (SELECT 1 FROM license);").ExecuteScalar()) == 1;
    }

    public IReadOnlyDictionary<string, string> Settings(UnitOfWork work)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        using var reader = SqlUnitOfWork.Of(work).Command("SELECT name, value FROM server_setting;").ExecuteReader();
        while (reader.Read())
        {
            values[reader.GetString(0)] = reader.GetString(1);
        }

        return values;
    }

    public void SetSettings(UnitOfWork work, IEnumerable<KeyValuePair<string, string>> settings)
    {
        var command = SqlUnitOfWork.Of(work).Command("INSERT INTO server_setting (name, value) VALUES ($name, $value) ON CONFLICT (name) DO UPDATE SET value = excluded.value;");
        var name = command.Parameters.AddUnset("$name");
        var value = command.Parameters.AddUnset("$value");
        foreach (var setting in settings)
        {
            name.Value = setting.Key;
            value.Value = setting.Value;
            command.ExecuteNonQuery();
        }
    }

    public void RegisterListener(
        UnitOfWork work, string url, int processId, DateTimeOffset? processStartedAt, DateTimeOffset now, string version, string role, string host, bool serving) =>
        InsertListener(work, """
            ON CONFLICT (host, url) DO UPDATE SET process_id = excluded.process_id, process_started_at = excluded.process_started_at,
                started_at = excluded.started_at, version = excluded.version, role = excluded.role,
                heartbeat_at = excluded.heartbeat_at, serving = excluded.serving
            """, url, processId, processStartedAt, now, version, role, host, serving);

    public void RegisterListenerIfFree(
        UnitOfWork work, string url, int processId, DateTimeOffset? processStartedAt, DateTimeOffset now, string version, string role, string host, bool serving) =>
        InsertListener(work, "ON CONFLICT (host, url) DO NOTHING", url, processId, processStartedAt, now, version, role, host, serving);

    public bool Heartbeat(UnitOfWork work, string url, int processId, string host, DateTimeOffset now, bool serving)
    {
        var command = SqlUnitOfWork.Of(work).Command(
            "UPDATE listener SET heartbeat_at = $now, serving = $serving WHERE url = $url AND process_id = $pid AND host = $host;");
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.Parameters.AddWithValue("$serving", serving ? 1 : 0);
        command.Parameters.AddWithValue("$url", url);
        command.Parameters.AddWithValue("$pid", processId);
        command.Parameters.AddWithValue("$host", host);
        return command.ExecuteNonQuery() > 0;
    }

    public void UnregisterListener(UnitOfWork work, string url, int processId, string host)
    {
        var command = SqlUnitOfWork.Of(work).Command("DELETE FROM listener WHERE host = $host AND url = $url AND process_id = $pid;");
        command.Parameters.AddWithValue("$host", host);
        command.Parameters.AddWithValue("$url", url);
        command.Parameters.AddWithValue("$pid", processId);
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<ListenerRecord> Listeners(UnitOfWork work)
    {
        using var reader = SqlUnitOfWork.Of(work).Command(
            "SELECT url, process_id, process_started_at, started_at, version, role, host, heartbeat_at, serving FROM listener ORDER BY url, host;").ExecuteReader();
        var records = new List<ListenerRecord>();
        while (reader.Read())
        {
            records.Add(new ListenerRecord(
                reader.GetString(0),
                reader.GetInt32(1),
                reader.IsDBNull(2) ? null : Timestamps.Parse(reader.GetString(2)).UtcDateTime,
                Timestamps.Parse(reader.GetString(3)).UtcDateTime,
                reader.GetString(4),
                Enum.TryParse<Server.ServerRole>(reader.GetString(5), out var role) ? role : Server.ServerRole.Main,
                reader.GetString(6),
                reader.IsDBNull(7) ? null : Timestamps.Parse(reader.GetString(7)).UtcDateTime,
                reader.GetInt64(8) != 0));
        }

        return records;
    }

    public bool ClaimTask(UnitOfWork work, string name, string holder, DateTimeOffset now, DateTimeOffset ranBefore)
    {
        // One statement: a claim that finds the task run too recently changes no row, whoever else claims at the same time.
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO task_lease (name, holder, ran_at) VALUES ($name, $holder, $now)
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, ran_at = excluded.ran_at WHERE task_lease.ran_at <= $before;
            """);
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$holder", holder);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.Parameters.AddWithValue("$before", Timestamps.Format(ranBefore));
        return command.ExecuteNonQuery() > 0;
    }

    public void AppendAudit(UnitOfWork work, DateTimeOffset time, string user, string action, string target, string details)
    {
        var command = SqlUnitOfWork.Of(work).Command("INSERT INTO audit_log (time, \"user\", action, target, details) VALUES ($time, $user, $action, $target, $details);");
        command.Parameters.AddWithValue("$time", Timestamps.Format(time));
        command.Parameters.AddWithValue("$user", user);
        command.Parameters.AddWithValue("$action", action);
        command.Parameters.AddWithValue("$target", target);
        command.Parameters.AddWithValue("$details", details);
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<AuditEntry> Audit(UnitOfWork work, DateTimeOffset since)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT time, \"user\", action, target, details FROM audit_log WHERE time >= $since ORDER BY id;");
        command.Parameters.AddWithValue("$since", Timestamps.Format(since));
        using var reader = command.ExecuteReader();
        var entries = new List<AuditEntry>();
        while (reader.Read())
        {
            entries.Add(new AuditEntry(Timestamps.Parse(reader.GetString(0)).UtcDateTime, reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)));
        }

        return entries;
    }

    private static void InsertListener(
        UnitOfWork work, string conflict, string url, int processId, DateTimeOffset? processStartedAt, DateTimeOffset now, string version,
        string role, string host, bool serving)
    {
        var command = SqlUnitOfWork.Of(work).Command($"""
            INSERT INTO listener (url, process_id, process_started_at, started_at, version, role, host, heartbeat_at, serving)
            VALUES ($url, $pid, $processStartedAt, $now, $version, $role, $host, $now, $serving) {conflict};
            """);
        command.Parameters.AddWithValue("$url", url);
        command.Parameters.AddWithValue("$pid", processId);
        command.Parameters.AddWithValue("$processStartedAt", processStartedAt is null ? DBNull.Value : Timestamps.Format(processStartedAt.Value));
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.Parameters.AddWithValue("$version", version);
        command.Parameters.AddWithValue("$role", role);
        command.Parameters.AddWithValue("$host", host);
        command.Parameters.AddWithValue("$serving", serving ? 1 : 0);
        command.ExecuteNonQuery();
    }
}
