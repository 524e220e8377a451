using System.Security.Cryptography;
using Dls.Core.Alerts;
using Dls.Core.Audit;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Storage;

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

        store.Write(work =>
        {
            var exists = work.Stores.Server.Identity(work) is not null;
            if (exists && !force)
            {
                return;
            }

            if (exists && work.Stores.Server.HoldsLicenses(work))
            {
                throw new DlsException(
                    ErrorIds.ServerHasLicenses,
                    DlsErrorKind.InvalidOperation,
                    "This server holds licenses bound to its UUID; it cannot be given a new identity. Remove the licenses first or use another store.",
                    store.Path);
            }

            using var key = EcKeys.Create();
            var privateKey = ProtectedPrivateKey(key);
            var now = time.GetUtcNow();
            var uuid = Guid.NewGuid().ToString("D");
            var server = new StoredServer(uuid, organizationId ?? string.Empty, DefaultMainServerUrl, string.Empty, nameof(ServerRole.Main), key.ExportSubjectPublicKeyInfo(), now);
            work.Stores.Server.WriteIdentity(work, server, privateKey, now);
            AuditLog.Write(work, now, exists ? "Server.Reinitialize" : "Server.Initialize", uuid, $"organizationId={organizationId}");
        });

        return Get();
    }

    public ServerInfo Get() =>
        store.Query(work => TryRead(work, store.Path)) ?? throw NotInitialized();

    /// <summary>Changes the given settings; <c>null</c> leaves a setting as it is, an empty URL clears the standby.</summary>
    public ServerInfo Set(string? organizationId, string? mainServerUrl, string? standbyServerUrl, ServerRole? role)
    {
        if (organizationId is not null)
        {
            Validation.OrganizationId(organizationId);
        }

        var main = mainServerUrl is null ? null : Validation.ServerUrl(mainServerUrl, "MainServerUrl", allowEmpty: false);
        var standby = standbyServerUrl is null ? null : Validation.ServerUrl(standbyServerUrl, "StandbyServerUrl", allowEmpty: true);
        store.Write(work =>
        {
            var current = TryRead(work, store.Path) ?? throw NotInitialized();
            work.Stores.Server.UpdateIdentity(work, organizationId, main, standby, role?.ToString(), time.GetUtcNow());
            var changes = new List<string>();
            if (organizationId is not null && organizationId != current.OrganizationId) changes.Add($"organizationId={organizationId}");
            if (main is not null && main != current.MainServerUrl) changes.Add($"mainServerUrl={main}");
            if (standby is not null && standby != current.StandbyServerUrl) changes.Add($"standbyServerUrl={standby}");
            if (role is not null && role != current.Role) changes.Add($"role={role}");
            AuditLog.Write(work, time.GetUtcNow(), "Server.Set", current.Uuid, string.Join(", ", changes));
        });

        return Get();
    }

    /// <summary>
    /// The server's signing key, for authorization tokens. The caller disposes it. <c>SigningKeySecretsKeyMissing</c>
    /// or <c>SigningKeyUnreadable</c> when the store's secrets key file is missing or is not this store's.
    /// </summary>
    public ECDsa LoadSigningKey()
    {
        var stored = store.Query(work => work.Stores.Server.SealedPrivateKey(work)) ?? throw NotInitialized();

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

    /// <summary>The server identity read inside the caller's unit of work; <c>ServerNotInitialized</c> when there is none.</summary>
    public static ServerInfo Read(UnitOfWork work, string storePath) =>
        TryRead(work, storePath) ?? throw NotInitialized(storePath);

    private DlsException NotInitialized() => NotInitialized(store.Path);

    private static DlsException NotInitialized(string storePath) => new(
        ErrorIds.ServerNotInitialized,
        DlsErrorKind.InvalidOperation,
        $"The store '{storePath}' has no server identity. Run Initialize-DlsServer -StorePath '{storePath}'.",
        storePath);

    private static ServerInfo? TryRead(UnitOfWork work, string storePath)
    {
        if (work.Stores.Server.Identity(work) is not { } stored)
        {
            return null;
        }

        return new ServerInfo(
            stored.Uuid,
            stored.OrganizationId,
            storePath,
            DlsVersion.Current,
            Enum.Parse<ServerRole>(stored.Role),
            stored.MainServerUrl,
            stored.StandbyServerUrl,
            EcKeys.PublicKeyPem(stored.PublicKey),
            stored.CreatedAt.UtcDateTime)
        {
            UsageRetentionDays = Usage.UsageRetention.ReadRetentionDays(work),
            Protection = ProtectionSettings.Read(work),
        };
    }
}
