using System.Security.Cryptography;
using System.Text;
using Dls.Core.Errors;
using Dls.Core.Storage;

namespace Dls.Core.Alerts;

/// <summary>
/// Protects the secrets kept in the store — the server's signing key, the SMTP password, the webhook secret —
/// with AES-256-GCM under a random key held in a file next to the store (<c>dls.db.secrets.key</c>), readable by
/// its owner only. The store alone — a copy, a backup, a file shared for support — does not reveal them; the
/// listener, running as the same user, can still decrypt them to sign and send mail unattended (which rules out
/// a passphrase). DPAPI would do the same job on Windows only; one scheme everywhere keeps stores portable
/// between the cmdlets and the listener. The secret's name is the associated data, so a value copied into
/// another setting (or into the server row) does not decrypt.
/// </summary>
public sealed class SecretProtector(string storePath)
{
    /// <summary>The associated data of the signing key (server.private_key).</summary>
    public const string SigningKeyName = "server.private_key";

    private const string Prefix = "v1:";
    private const int KeyBytes = 32;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    // Binary form for BLOB columns: the same prefix in ASCII, then nonce, tag and ciphertext. A PKCS#8 key starts
    // with a DER SEQUENCE (0x30), never with 'v', so a protected value cannot be mistaken for a plain one.
    private static ReadOnlySpan<byte> BinaryPrefix => "v1:"u8;

    public string KeyPath { get; } = StoreBackup.SecretsKeyPath(storePath);

    public string Protect(string name, string secret) =>
        Prefix + Convert.ToBase64String(Seal(LoadKey(create: true, ErrorIds.AlertSecretKeyInvalid)!, name, Encoding.UTF8.GetBytes(secret)));

    public string Unprotect(string name, string stored)
    {
        var key = LoadKey(create: false, ErrorIds.AlertSecretKeyInvalid) ?? throw new DlsException(
            ErrorIds.AlertSecretKeyMissing,
            DlsErrorKind.SecurityError,
            $"The key that protects the alert secrets ('{KeyPath}') is missing: set the SMTP credential and the webhook secret again with Set-DlsAlertSetting.",
            KeyPath);
        try
        {
            if (!stored.StartsWith(Prefix, StringComparison.Ordinal))
            {
                throw new FormatException("unknown format");
            }

            return Encoding.UTF8.GetString(Open(key, name, Convert.FromBase64String(stored[Prefix.Length..])));
        }
        catch (Exception error) when (IsUnreadable(error))
        {
            throw new DlsException(
                ErrorIds.AlertSecretUnreadable,
                DlsErrorKind.SecurityError,
                $"The stored {name} cannot be decrypted with '{KeyPath}' (the key file was replaced?): set it again with Set-DlsAlertSetting.",
                name,
                error);
        }
    }

    /// <summary>Whether a BLOB holds a protected value (as opposed to a key stored in plain by DLS before schema 64).</summary>
    public static bool IsProtected(ReadOnlySpan<byte> stored) => stored.StartsWith(BinaryPrefix);

    /// <summary>The server's PKCS#8 signing key sealed for <c>server.private_key</c>; creates the key file when there is none.</summary>
    public byte[] ProtectSigningKey(ReadOnlySpan<byte> pkcs8)
    {
        var sealedKey = Seal(LoadKey(create: true, ErrorIds.SigningKeySecretsKeyInvalid)!, SigningKeyName, pkcs8);
        var stored = new byte[BinaryPrefix.Length + sealedKey.Length];
        BinaryPrefix.CopyTo(stored);
        sealedKey.CopyTo(stored.AsSpan(BinaryPrefix.Length));
        return stored;
    }

    /// <summary>The PKCS#8 signing key from <c>server.private_key</c>; the caller clears it after use.</summary>
    public byte[] UnprotectSigningKey(ReadOnlySpan<byte> stored)
    {
        // Without the key file the store cannot sign: say which file, and that it travels beside every backup.
        var key = LoadKey(create: false, ErrorIds.SigningKeySecretsKeyInvalid) ?? throw new DlsException(
            ErrorIds.SigningKeySecretsKeyMissing,
            DlsErrorKind.SecurityError,
            $"The server's signing key is encrypted with the key file '{KeyPath}', which is missing, so this store cannot sign authorizations. "
            + "Copy back this store's key file: from the machine the store came from, or the '.secrets.key' file that Backup-DlsStore wrote beside the backup.",
            KeyPath);
        try
        {
            if (!IsProtected(stored))
            {
                throw new FormatException("unknown format");
            }

            return Open(key, SigningKeyName, stored[BinaryPrefix.Length..]);
        }
        catch (Exception error) when (IsUnreadable(error))
        {
            throw new DlsException(
                ErrorIds.SigningKeyUnreadable,
                DlsErrorKind.SecurityError,
                $"The server's signing key cannot be decrypted with '{KeyPath}': the key file belongs to another store or was replaced. "
                + "Put back this store's own '.secrets.key' file (Backup-DlsStore writes it beside each backup).",
                KeyPath,
                error);
        }
    }

    private static bool IsUnreadable(Exception error) =>
        error is CryptographicException or FormatException or ArgumentException or OverflowException;

    private static byte[] Seal(byte[] key, string name, ReadOnlySpan<byte> plain)
    {
        var output = new byte[NonceBytes + TagBytes + plain.Length];
        var nonce = output.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagBytes);
        aes.Encrypt(nonce, plain, output.AsSpan(NonceBytes + TagBytes), output.AsSpan(NonceBytes, TagBytes), Encoding.UTF8.GetBytes(name));
        return output;
    }

    private static byte[] Open(byte[] key, string name, ReadOnlySpan<byte> data)
    {
        if (data.Length < NonceBytes + TagBytes)
        {
            throw new FormatException("too short");
        }

        var plain = new byte[data.Length - NonceBytes - TagBytes];
        using var aes = new AesGcm(key, TagBytes);
        aes.Decrypt(data[..NonceBytes], data[(NonceBytes + TagBytes)..], data.Slice(NonceBytes, TagBytes), plain, Encoding.UTF8.GetBytes(name));
        return plain;
    }

    private byte[]? LoadKey(bool create, string invalidErrorId)
    {
        if (File.Exists(KeyPath))
        {
            var key = File.ReadAllBytes(KeyPath);
            if (key.Length != KeyBytes)
            {
                throw new DlsException(invalidErrorId, DlsErrorKind.SecurityError, $"The key file '{KeyPath}' is not a DLS secrets key.", KeyPath);
            }

            return key;
        }

        if (!create)
        {
            return null;
        }

        // Written whole under a temporary name, then moved into place without overwriting: a reader never sees a
        // half-written key, and when two processes race the first one's key wins and both use it.
        var fresh = RandomNumberGenerator.GetBytes(KeyBytes);
        var temporary = $"{KeyPath}.{Guid.NewGuid():N}.tmp";
        // A SQLite store's folder exists; a PostgreSQL store's key goes to the default store folder, which may not yet.
        Directory.CreateDirectory(Path.GetDirectoryName(KeyPath)!);
        try
        {
            using (var stream = OwnerOnlyFile.CreateNew(temporary))
            {
                stream.Write(fresh);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, KeyPath, overwrite: false);
            return fresh;
        }
        catch (IOException) when (File.Exists(KeyPath))
        {
            return LoadKey(create: false, invalidErrorId);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
