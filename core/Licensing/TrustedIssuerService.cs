using Dls.Core.Audit;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Licensing;

/// <summary>An issuer whose license files this server accepts.</summary>
public sealed record TrustedIssuer(string KeyId, string Name, string PublicKey, DateTime AddedAt);

/// <summary>
/// The server's trusted issuer keys (SPEC §2). Licenses already imported stay when their issuer is removed, still owned
/// by its key id: no other issuer can replace or revoke them, and the same key added again can (docs/licensing.md).
/// </summary>
public sealed class TrustedIssuerService(DlsStore store, TimeProvider time)
{
    public const int MaxNameLength = 128;

    /// <summary>
    /// Trusts a P-256 public key (PEM or base64 DER). Adding a key that is already trusted under the same name
    /// changes nothing; under another name it is refused (<c>IssuerAlreadyTrusted</c>).
    /// </summary>
    public TrustedIssuer Add(string name, string publicKey)
    {
        ValidateName(name);
        var der = EcKeys.ParsePublicKey(publicKey);
        var keyId = EcKeys.KeyId(der);
        return store.Write((connection, transaction) =>
        {
            var existing = Find(connection, transaction, keyId);
            if (existing is not null)
            {
                return existing.Name == name ? existing : throw new DlsException(
                    ErrorIds.IssuerAlreadyTrusted,
                    DlsErrorKind.AlreadyExists,
                    $"The issuer key {keyId} is already trusted as '{existing.Name}'.",
                    keyId);
            }

            var now = time.GetUtcNow();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO trusted_issuer (key_id, name, public_key, added_at) VALUES ($id, $name, $key, $now);";
            command.Parameters.AddWithValue("$id", keyId);
            command.Parameters.AddWithValue("$name", name);
            command.Parameters.AddWithValue("$key", der);
            command.Parameters.AddWithValue("$now", Timestamps.Format(now));
            command.ExecuteNonQuery();
            AuditLog.Write(connection, transaction, now, "Issuer.Add", keyId, $"name={name}");
            return Find(connection, transaction, keyId)!;
        });
    }

    public IReadOnlyList<TrustedIssuer> List() => store.Read(connection => Query(connection, null, null));

    public TrustedIssuer? Find(string keyId) => store.Read(connection => Find(connection, null, keyId));

    /// <summary>Stops trusting a key; <c>IssuerNotFound</c> when it is not trusted.</summary>
    public TrustedIssuer Remove(string keyId) => store.Write((connection, transaction) =>
    {
        var existing = Find(connection, transaction, keyId) ?? throw NotFound(keyId);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM trusted_issuer WHERE key_id = $id;";
        command.Parameters.AddWithValue("$id", keyId);
        command.ExecuteNonQuery();
        AuditLog.Write(connection, transaction, time.GetUtcNow(), "Issuer.Remove", keyId, $"name={existing.Name}");
        return existing;
    });

    /// <summary>The public key DER of a trusted key id, or null.</summary>
    public static byte[]? PublicKeyOf(SqliteConnection connection, SqliteTransaction? transaction, string keyId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT public_key FROM trusted_issuer WHERE key_id = $id;";
        command.Parameters.AddWithValue("$id", keyId);
        return command.ExecuteScalar() as byte[];
    }

    public static DlsException NotFound(string keyId) =>
        new("IssuerNotFound", DlsErrorKind.NotFound, $"No trusted issuer has the key id '{keyId}'.", keyId);

    private static void ValidateName(string name)
    {
        if (name.Trim().Length == 0 || name.Length > MaxNameLength || name.Any(char.IsControl))
        {
            throw new DlsException(ErrorIds.IssuerNameInvalid, DlsErrorKind.InvalidArgument, $"The issuer name must be 1 to {MaxNameLength} characters without control characters.", name);
        }
    }

    private static TrustedIssuer? Find(SqliteConnection connection, SqliteTransaction? transaction, string keyId) =>
        Query(connection, transaction, keyId).FirstOrDefault();

    private static List<TrustedIssuer> Query(SqliteConnection connection, SqliteTransaction? transaction, string? keyId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT key_id, name, public_key, added_at FROM trusted_issuer WHERE $id IS NULL OR key_id = $id ORDER BY added_at, key_id;";
        command.Parameters.AddWithValue("$id", (object?)keyId ?? DBNull.Value);
        using var reader = command.ExecuteReader();
        var issuers = new List<TrustedIssuer>();
        while (reader.Read())
        {
            issuers.Add(new TrustedIssuer(reader.GetString(0), reader.GetString(1), EcKeys.PublicKeyPem((byte[])reader.GetValue(2)), Timestamps.Parse(reader.GetString(3)).UtcDateTime));
        }

        return issuers;
    }
}
