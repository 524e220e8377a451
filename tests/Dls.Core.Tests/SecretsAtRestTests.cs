using System.Data.Common;
using System.Security.Cryptography;
using Dls.Core.Alerts;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Core.Storage.Migrations;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Tests;

/// <summary>
/// The server's signing key is sealed in the store by the same protector as the alert secrets, travels with
/// backups through the key file beside them, and backups are owner-only from their first byte.
/// </summary>
public sealed class SecretsAtRestTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Trait("Engine", "sqlite")]
    [Fact]
    public void A_new_store_holds_the_signing_key_sealed_and_its_file_never_contains_it()
    {
        var store = _temp.Initialized();
        var service = new ServerService(store, _temp.Clock);
        var secret = SecretParts(service);

        Assert.True(SecretProtector.IsProtected(StoredPrivateKey(store)));
        AssertFilesDoNotContain(secret, _temp.Path);
        Assert.True(File.Exists(_temp.Path + ".secrets.key"));
    }

    [Fact]
    public void Tokens_signed_with_the_sealed_key_verify_with_the_servers_public_key()
    {
        var store = _temp.Initialized();
        var service = new ServerService(store, _temp.Clock);

        var token = Sign(service);

        using var publicKey = PublicKey(service.Get());
        using var claims = AuthorizationTokens.Verify(publicKey, token);
        Assert.NotNull(claims);
        Assert.Equal("client-1", claims.RootElement.GetProperty("clientUuid").GetString());
        Assert.Equal(service.Get().Uuid, claims.RootElement.GetProperty("serverUuid").GetString());
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void Migration_64_seals_the_plain_key_of_an_older_store_without_changing_it_and_scrubs_the_plain_bytes()
    {
        var store = _temp.Initialized();
        var before = new ServerService(store, _temp.Clock).Get();
        byte[] plain;
        using (var key = new ServerService(store, _temp.Clock).LoadSigningKey())
        {
            plain = key.ExportPkcs8PrivateKey();
        }

        // The store as a DLS before schema 64 left it: the key in plain, migration 64 not applied.
        store.Write((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "UPDATE server SET private_key = @plain WHERE id = 1; DELETE FROM schema_migration WHERE version = 64;";
            command.Parameters.AddWithValue("@plain", plain);
            command.ExecuteNonQuery();
        });
        Assert.False(SecretProtector.IsProtected(StoredPrivateKey(store)));

        var migrated = DlsStore.Open(_temp.Path);
        var service = new ServerService(migrated, _temp.Clock);

        Assert.True(SecretProtector.IsProtected(StoredPrivateKey(migrated)));
        Assert.Equal(before, service.Get());
        using (var key = service.LoadSigningKey())
        {
            Assert.Equal(plain, key.ExportPkcs8PrivateKey());
        }

        using var publicKey = PublicKey(before);
        Assert.NotNull(AuthorizationTokens.Verify(publicKey, Sign(service)));
        AssertFilesDoNotContain(SecretParts(service), _temp.Path);
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void Migration_64_leaves_a_sealed_key_and_a_store_without_identity_alone()
    {
        var empty = _temp.Open();
        empty.Write((connection, transaction) => new M0064_ServerKeyProtected().Apply((Microsoft.Data.Sqlite.SqliteConnection)connection, (Microsoft.Data.Sqlite.SqliteTransaction)transaction));
        Assert.False(File.Exists(_temp.Path + ".secrets.key"));

        new ServerService(empty, _temp.Clock).Initialize("216998", force: false);
        var sealedKey = StoredPrivateKey(empty);
        empty.Write((connection, transaction) => new M0064_ServerKeyProtected().Apply((Microsoft.Data.Sqlite.SqliteConnection)connection, (Microsoft.Data.Sqlite.SqliteTransaction)transaction));
        Assert.Equal(sealedKey, StoredPrivateKey(empty));
    }

    [Fact]
    public void A_backup_restored_into_another_store_signs_with_the_same_key()
    {
        var source = _temp.Initialized();
        var original = new ServerService(source, _temp.Clock).Get();
        var backup = Path.Combine(_temp.Folder, "backups", "dls-backup.db");
        new StoreBackup(source, _temp.Clock).Backup(backup, overwrite: false);

        // Another machine: only the backup and the key file beside it.
        using var elsewhere = new TempStore();
        File.Copy(backup, Path.Combine(elsewhere.Folder, "copied.db"));
        File.Copy(backup + ".secrets.key", Path.Combine(elsewhere.Folder, "copied.db.secrets.key"));
        var target = elsewhere.Open();
        new StoreBackup(target, elsewhere.Clock).Restore(Path.Combine(elsewhere.Folder, "copied.db"));

        var restored = new ServerService(DlsStore.Open(elsewhere.Path), elsewhere.Clock);
        Assert.Equal(original.PublicKey, restored.Get().PublicKey);
        using var publicKey = PublicKey(original);
        Assert.NotNull(AuthorizationTokens.Verify(publicKey, Sign(restored)));
        AssertFilesDoNotContain(SecretParts(restored), elsewhere.Path);
        AssertFilesDoNotContain(SecretParts(restored), backup);
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void A_backup_without_its_key_file_is_refused_by_a_restore_elsewhere_and_the_store_is_unchanged()
    {
        var source = _temp.Initialized();
        var backup = Path.Combine(_temp.Folder, "dls-backup.db");
        new StoreBackup(source, _temp.Clock).Backup(backup, overwrite: false);
        File.Delete(backup + ".secrets.key");

        using var elsewhere = new TempStore();
        var target = elsewhere.Initialized("777");
        var before = new ServerService(target, elsewhere.Clock).Get();
        var keyBefore = File.ReadAllBytes(StoreBackup.SecretsKeyPath(elsewhere.Path));

        var error = Assert.Throws<DlsException>(() => new StoreBackup(target, elsewhere.Clock).Restore(backup));
        Assert.Equal("BackupSecretsKeyMissing", error.ErrorId);
        Assert.Contains(backup + ".secrets.key", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, new ServerService(target, elsewhere.Clock).Get());
        Assert.Equal(keyBefore, File.ReadAllBytes(StoreBackup.SecretsKeyPath(elsewhere.Path)));

        // The same backup restored into its own store needs no copy: the store's key file opens it.
        new StoreBackup(source, _temp.Clock).Restore(backup);
        using var publicKey = PublicKey(new ServerService(source, _temp.Clock).Get());
        Assert.NotNull(AuthorizationTokens.Verify(publicKey, Sign(new ServerService(DlsStore.Open(_temp.Path), _temp.Clock))));
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void Without_the_secrets_key_file_the_store_cannot_sign_and_says_which_file_is_missing()
    {
        var store = _temp.Initialized();
        File.Delete(_temp.Path + ".secrets.key");

        var error = Assert.Throws<DlsException>(() => new ServerService(store, _temp.Clock).LoadSigningKey());
        Assert.Equal("SigningKeySecretsKeyMissing", error.ErrorId);
        Assert.Equal(DlsErrorKind.SecurityError, error.Kind);
        Assert.Contains(_temp.Path + ".secrets.key", error.Message, StringComparison.Ordinal);

        // The listener's signer is where this surfaces: the same error, not a CryptographicException.
        var signer = Assert.Throws<DlsException>(() => new AuthorizationSigner(new ServerService(store, _temp.Clock)));
        Assert.Equal("SigningKeySecretsKeyMissing", signer.ErrorId);
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void Another_stores_secrets_key_file_is_refused_with_a_clear_error()
    {
        var store = _temp.Initialized();
        File.Delete(_temp.Path + ".secrets.key");
        File.WriteAllBytes(_temp.Path + ".secrets.key", RandomNumberGenerator.GetBytes(32));

        var error = Assert.Throws<DlsException>(() => new ServerService(store, _temp.Clock).LoadSigningKey());
        Assert.Equal("SigningKeyUnreadable", error.ErrorId);
        Assert.IsAssignableFrom<CryptographicException>(error.InnerException);
    }

    [Fact]
    public void The_alert_secrets_and_the_signing_key_share_one_key_file_but_do_not_decrypt_as_each_other()
    {
        var store = _temp.Initialized();
        var protector = new SecretProtector(_temp.Path);
        var sealedKey = StoredPrivateKey(store);

        // The same key file seals both; the name bound into each value keeps a value from passing for another.
        var asAlertSecret = "v1:" + Convert.ToBase64String(sealedKey.AsSpan(3));
        Assert.Equal("AlertSecretUnreadable", Assert.Throws<DlsException>(() => protector.Unprotect("webhook.secret", asAlertSecret)).ErrorId);
        var alertSecret = protector.Protect("webhook.secret", "s");
        var asSigningKey = "v1:"u8.ToArray().Concat(Convert.FromBase64String(alertSecret[3..])).ToArray();
        Assert.Equal("SigningKeyUnreadable", Assert.Throws<DlsException>(() => protector.UnprotectSigningKey(asSigningKey)).ErrorId);
    }

    [UnixFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_backup_is_owner_only_from_its_first_byte_and_so_is_the_key_file_beside_it()
    {
        var store = _temp.Initialized();
        var backupPath = Path.Combine(_temp.Folder, "backups", "dls-backup.db");
        var seen = new List<(string Path, UnixFileMode Mode, long Length)>();
        var backup = new StoreBackup(store, _temp.Clock)
        {
            PartialFileCreated = path => seen.Add((path, File.GetUnixFileMode(path), new FileInfo(path).Length)),
        };

        // Under the usual umask (0022) a file created without an explicit mode is 0644: readable by everyone.
        var written = backup.Backup(backupPath, overwrite: false);

        var partial = Assert.Single(seen);
        Assert.Equal(backupPath + ".partial", partial.Path);
        Assert.Equal(OwnerOnly, partial.Mode);
        Assert.Equal(0, partial.Length); // observed before SQLite (or pg_dump) wrote anything into it
        Assert.False(File.Exists(partial.Path));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(written.FullName));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(backupPath + ".secrets.key"));
        Assert.Equal(File.ReadAllBytes(StoreBackup.SecretsKeyPath(_temp.Path)), File.ReadAllBytes(backupPath + ".secrets.key"));
        Assert.False(File.Exists(backupPath + ".secrets.key.partial"));
    }

    [UnixFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Overwriting_a_readable_backup_leaves_an_owner_only_one()
    {
        var store = _temp.Initialized();
        var backupPath = Path.Combine(_temp.Folder, "dls-backup.db");
        File.WriteAllText(backupPath, "old");
        File.SetUnixFileMode(backupPath, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.WriteAllBytes(backupPath + ".secrets.key", new byte[32]);
        File.SetUnixFileMode(backupPath + ".secrets.key", OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        new StoreBackup(store, _temp.Clock).Backup(backupPath, overwrite: true);

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(backupPath));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(backupPath + ".secrets.key"));
        Assert.Equal(File.ReadAllBytes(StoreBackup.SecretsKeyPath(_temp.Path)), File.ReadAllBytes(backupPath + ".secrets.key"));
    }

    [UnixFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_restore_writes_the_key_file_owner_only()
    {
        var source = _temp.Initialized();
        var backupPath = Path.Combine(_temp.Folder, "dls-backup.db");
        new StoreBackup(source, _temp.Clock).Backup(backupPath, overwrite: false);

        using var elsewhere = new TempStore();
        new StoreBackup(elsewhere.Open(), elsewhere.Clock).Restore(backupPath);

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(StoreBackup.SecretsKeyPath(elsewhere.Path)));
        Assert.Equal(File.ReadAllBytes(backupPath + ".secrets.key"), File.ReadAllBytes(StoreBackup.SecretsKeyPath(elsewhere.Path)));
    }

    private static byte[] StoredPrivateKey(DlsStore store) => store.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT private_key FROM server WHERE id = 1;";
        return (byte[])command.ExecuteScalar()!;
    });

    /// <summary>What must never be found in a store file: the PKCS#8 encoding and the bare private scalar.</summary>
    private static byte[][] SecretParts(ServerService service)
    {
        using var key = service.LoadSigningKey();
        return [key.ExportPkcs8PrivateKey(), key.ExportECPrivateKey(), key.ExportParameters(includePrivateParameters: true).D!];
    }

    /// <summary>Closes every pooled connection (SQLite checkpoints the WAL into the file) and searches the files' bytes.</summary>
    private static void AssertFilesDoNotContain(byte[][] secrets, string databasePath)
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { databasePath, databasePath + "-wal", databasePath + "-journal" }.Where(File.Exists))
        {
            var bytes = File.ReadAllBytes(file);
            foreach (var secret in secrets)
            {
                Assert.True(bytes.AsSpan().IndexOf(secret) < 0, $"{file} holds {secret.Length} bytes of the private key in plain");
            }
        }
    }

    private static string Sign(ServerService service)
    {
        using var signer = new AuthorizationSigner(service);
        var now = new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
        return signer.Sign(new AuthGrant("216998-app", "DBR-1", LicenseMode.PerDeviceYearly, now.AddDays(365), now.AddDays(7), 180, now, now, null), "client-1");
    }

    private static ECDsa PublicKey(ServerInfo server)
    {
        var key = EcKeys.Create();
        key.ImportSubjectPublicKeyInfo(server.PublicKeyDer(), out _);
        return key;
    }
}
