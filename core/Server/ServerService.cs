using System.Security.Cryptography;
using Dls.Core.Alerts;
using Dls.Core.Audit;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Server;

/// <summary>The server identity of SPEC §2: UUID, signing key, organization, URLs, role.</summary>
public sealed class ServerService(DlsStore store, TimeProvider time)
{
    public const string DefaultMainServerUrl = "http://127.0.0.1:48080/";

    /// <summary>
    /// Creates the identity of a new store, or returns the existing one unchanged. <paramref name="force"/>
    /// gives a store a new identity, but only while it holds no license (<c>ServerHasLicenses</c>).
    /// </summary>
    public ServerInfo Initialize(string? organizationId, bool force)
    {
        if (organizationId is not null)
        {
            Validation.OrganizationId(organizationId);
        }

        store.Write((connection, transaction) =>
        {
            var exists = TryRead(connection, transaction, store.Path) is not null;
            if (exists && !force)
            {
                return;
            }

            if (exists && CountLicenses(connection, transaction) > 0)
            {
                throw new DlsException(
                    ErrorIds.ServerHasLicenses,
                    DlsErrorKind.InvalidOperation,
                    "This server holds licenses bound to its UUID; it cannot be given a new identity. Remove the licenses first or use another store.",
                    store.Path);
            }

            using var key = EcKeys.Create();
            var privateKey = ProtectedPrivateKey(key);
            var now = Timestamps.Format(time.GetUtcNow());
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT OR REPLACE INTO server (id, uuid, organization_id, main_server_url, standby_server_url, role, private_key, public_key, created_at, updated_at)
                VALUES (1, $uuid, $org, $main, '', 'Main', $private, $public, $now, $now);
                """;
            var uuid = Guid.NewGuid().ToString("D");
            command.Parameters.AddWithValue("$uuid", uuid);
            command.Parameters.AddWithValue("$org", organizationId ?? string.Empty);
            command.Parameters.AddWithValue("$main", DefaultMainServerUrl);
            command.Parameters.AddWithValue("$private", privateKey);
            command.Parameters.AddWithValue("$public", key.ExportSubjectPublicKeyInfo());
            command.Parameters.AddWithValue("$now", now);
            command.ExecuteNonQuery();
            AuditLog.Write(connection, transaction, time.GetUtcNow(), exists ? "Server.Reinitialize" : "Server.Initialize", uuid, $"organizationId={organizationId}");
        });

        return Get();
    }

    public ServerInfo Get() =>
        store.Read(connection => TryRead(connection, null, store.Path)) ?? throw NotInitialized();

    /// <summary>Changes the given settings; <c>null</c> leaves a setting as it is, an empty URL clears the standby.</summary>
    public ServerInfo Set(string? organizationId, string? mainServerUrl, string? standbyServerUrl, ServerRole? role)
    {
        if (organizationId is not null)
        {
            Validation.OrganizationId(organizationId);
        }

        var main = mainServerUrl is null ? null : Validation.ServerUrl(mainServerUrl, "MainServerUrl", allowEmpty: false);
        var standby = standbyServerUrl is null ? null : Validation.ServerUrl(standbyServerUrl, "StandbyServerUrl", allowEmpty: true);
        store.Write((connection, transaction) =>
        {
            var current = TryRead(connection, transaction, store.Path) ?? throw NotInitialized();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                UPDATE server SET organization_id = coalesce($org, organization_id), main_server_url = coalesce($main, main_server_url),
                    standby_server_url = coalesce($standby, standby_server_url), role = coalesce($role, role), updated_at = $now
                WHERE id = 1;
                """;
            command.Parameters.AddWithValue("$org", (object?)organizationId ?? DBNull.Value);
            command.Parameters.AddWithValue("$main", (object?)main ?? DBNull.Value);
            command.Parameters.AddWithValue("$standby", (object?)standby ?? DBNull.Value);
            command.Parameters.AddWithValue("$role", role is null ? DBNull.Value : role.Value.ToString());
            command.Parameters.AddWithValue("$now", Timestamps.Format(time.GetUtcNow()));
            command.ExecuteNonQuery();
            var changes = new List<string>();
            if (organizationId is not null && organizationId != current.OrganizationId) changes.Add($"organizationId={organizationId}");
            if (main is not null && main != current.MainServerUrl) changes.Add($"mainServerUrl={main}");
            if (standby is not null && standby != current.StandbyServerUrl) changes.Add($"standbyServerUrl={standby}");
            if (role is not null && role != current.Role) changes.Add($"role={role}");
            AuditLog.Write(connection, transaction, time.GetUtcNow(), "Server.Set", current.Uuid, string.Join(", ", changes));
        });

        return Get();
    }

    /// <summary>
    /// The server's signing key, for authorization tokens. The caller disposes it. <c>SigningKeySecretsKeyMissing</c>
    /// or <c>SigningKeyUnreadable</c> when the store's secrets key file is missing or is not this store's.
    /// </summary>
    public ECDsa LoadSigningKey()
    {
        var stored = store.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT private_key FROM server WHERE id = 1;";
            return command.ExecuteScalar() as byte[];
        }) ?? throw NotInitialized();

        // Opening a store seals a plain key (migration 64, M0064_ServerKeyProtected), so one is not expected here;
        // should one appear, it still signs: refusing it would stop the listener and protect nothing.
        var pkcs8 = SecretProtector.IsProtected(stored) ? new SecretProtector(store.Path).UnprotectSigningKey(stored) : stored;
        try
        {
            var key = EcKeys.Create();
            key.ImportPkcs8PrivateKey(pkcs8, out _);
            return key;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>The key as <c>server.private_key</c> holds it: PKCS#8 sealed by the store's <see cref="SecretProtector"/>.</summary>
    private byte[] ProtectedPrivateKey(ECDsa key)
    {
        var pkcs8 = key.ExportPkcs8PrivateKey();
        try
        {
            return new SecretProtector(store.Path).ProtectSigningKey(pkcs8);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>The server identity read inside the caller's transaction; <c>ServerNotInitialized</c> when there is none.</summary>
    public static ServerInfo Read(SqliteConnection connection, SqliteTransaction? transaction, string storePath) =>
        TryRead(connection, transaction, storePath) ?? throw NotInitialized(storePath);

    private DlsException NotInitialized() => NotInitialized(store.Path);

    private static DlsException NotInitialized(string storePath) => new(
        ErrorIds.ServerNotInitialized,
        DlsErrorKind.InvalidOperation,
        $"The store '{storePath}' has no server identity. Run Initialize-DlsServer -StorePath '{storePath}'.",
        storePath);

    private static ServerInfo? TryRead(SqliteConnection connection, SqliteTransaction? transaction, string storePath)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT uuid, organization_id, main_server_url, standby_server_url, role, public_key, created_at FROM server WHERE id = 1;";
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        var publicKey = (byte[])reader.GetValue(5);
        return new ServerInfo(
            reader.GetString(0),
            reader.GetString(1),
            storePath,
            DlsVersion.Current,
            Enum.Parse<ServerRole>(reader.GetString(4)),
            reader.GetString(2),
            reader.GetString(3),
            EcKeys.PublicKeyPem(publicKey),
            Timestamps.Parse(reader.GetString(6)).UtcDateTime)
        {
            UsageRetentionDays = Usage.UsageRetention.ReadRetentionDays(connection, transaction),
            Protection = ProtectionSettings.Read(connection, transaction),
        };
    }

    private static long CountLicenses(SqliteConnection connection, SqliteTransaction transaction)
    {
        // The license table arrives with the licensing migration; a store without it holds no license.
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'license';";
        if (Convert.ToInt64(command.ExecuteScalar()) == 0)
        {
            return 0;
        }

        command.CommandText = "SELECT count(*) FROM license;";
        return Convert.ToInt64(command.ExecuteScalar());
    }
}
