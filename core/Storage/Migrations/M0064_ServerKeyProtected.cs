using System.Security.Cryptography;
using Dls.Core.Alerts;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage.Migrations;

/// <summary>
/// Seals the server's signing key at rest: <c>server.private_key</c> held PKCS#8 in plain, so any copy of the store
/// file (a backup, a file sent for support) could sign authorizations as this server. From this version it holds
/// the key sealed by the store's <see cref="SecretProtector"/>, under the owner-only key file beside the store that
/// already protects the alert secrets. New stores are written sealed by Initialize-DlsServer; this step seals the
/// key of an existing store once, when a DLS of this version first opens it.
/// </summary>
internal sealed class M0064_ServerKeyProtected : Migration
{
    public override int Version => 64;

    public override string Description => "server signing key sealed with the store's secrets key (dls.db.secrets.key)";

    public override void Apply(SqliteConnection connection, SqliteTransaction transaction)
    {
        byte[]? stored;
        using (var read = connection.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = "SELECT private_key FROM server WHERE id = 1;";
            stored = read.ExecuteScalar() as byte[];
        }

        if (stored is null || SecretProtector.IsProtected(stored))
        {
            return; // no identity yet, or already sealed (a store initialized by this version before the step ran)
        }

        // The path the store was opened with (DlsStore.Path), not SQLite's own name for the file, which follows
        // symbolic links: the key file must be where SecretProtector looks for it, beside the path users give.
        var storePath = new SqliteConnectionStringBuilder(connection.ConnectionString).DataSource;
        var sealedKey = new SecretProtector(storePath).ProtectSigningKey(stored);
        CryptographicOperations.ZeroMemory(stored);

        // secure_delete zeroes the space the plain key leaves behind in the page, so once the WAL is checkpointed
        // the file no longer holds it. It is a per-connection setting of a pooled connection: put it back.
        var secureDelete = Pragma(connection, transaction, "PRAGMA secure_delete;");
        Pragma(connection, transaction, "PRAGMA secure_delete = 1;");
        try
        {
            using var update = connection.CreateCommand();
            update.Transaction = transaction;
            update.CommandText = "UPDATE server SET private_key = $sealed WHERE id = 1;";
            update.Parameters.AddWithValue("$sealed", sealedKey);
            update.ExecuteNonQuery();
        }
        finally
        {
            Pragma(connection, transaction, $"PRAGMA secure_delete = {secureDelete};");
        }
    }

    private static long Pragma(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L);
    }
}
