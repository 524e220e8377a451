using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Dls.Core.Errors;

namespace Dls.Core.Alerts;

/// <summary>
/// Protects the alert secrets (SMTP password, webhook secret) kept in the store: AES-256-GCM under a random key
/// held in a file next to the store (<c>dls.db.secrets.key</c>), readable by its owner only. The store alone —
/// a copy, a backup, a file shared for support — does not reveal them; the listener, running as the same user,
/// can still decrypt them to send mail unattended (which rules out a passphrase). DPAPI would do the same job
/// on Windows only; one scheme everywhere keeps stores portable between the cmdlets and the listener.
/// The setting's name is the associated data, so a value copied into another setting does not decrypt.
/// </summary>
public sealed class SecretProtector(string storePath)
{
    private const string Prefix = "v1:";
    private const int KeyBytes = 32;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    public string KeyPath { get; } = Storage.StoreBackup.SecretsKeyPath(storePath);

    public string Protect(string name, string secret)
    {
        var key = LoadKey(create: true)!;
        var plain = Encoding.UTF8.GetBytes(secret);
        var output = new byte[NonceBytes + TagBytes + plain.Length];
        var nonce = output.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagBytes);
        aes.Encrypt(nonce, plain, output.AsSpan(NonceBytes + TagBytes), output.AsSpan(NonceBytes, TagBytes), Encoding.UTF8.GetBytes(name));
        return Prefix + Convert.ToBase64String(output);
    }

    public string Unprotect(string name, string stored)
    {
        var key = LoadKey(create: false) ?? throw new DlsException(
            "AlertSecretKeyMissing",
            DlsErrorKind.SecurityError,
            $"The key that protects the alert secrets ('{KeyPath}') is missing: set the SMTP credential and the webhook secret again with Set-DlsAlertSetting.",
            KeyPath);
        try
        {
            if (!stored.StartsWith(Prefix, StringComparison.Ordinal))
            {
                throw new FormatException("unknown format");
            }

            var data = Convert.FromBase64String(stored[Prefix.Length..]);
            var plain = new byte[data.Length - NonceBytes - TagBytes];
            using var aes = new AesGcm(key, TagBytes);
            aes.Decrypt(data.AsSpan(0, NonceBytes), data.AsSpan(NonceBytes + TagBytes), data.AsSpan(NonceBytes, TagBytes), plain, Encoding.UTF8.GetBytes(name));
            return Encoding.UTF8.GetString(plain);
        }
        catch (Exception error) when (error is CryptographicException or FormatException or ArgumentException or OverflowException)
        {
            throw new DlsException(
                "AlertSecretUnreadable",
                DlsErrorKind.SecurityError,
                $"The stored {name} cannot be decrypted with '{KeyPath}' (the key file was replaced?): set it again with Set-DlsAlertSetting.",
                name,
                error);
        }
    }

    private byte[]? LoadKey(bool create)
    {
        if (File.Exists(KeyPath))
        {
            var key = File.ReadAllBytes(KeyPath);
            if (key.Length != KeyBytes)
            {
                throw new DlsException("AlertSecretKeyInvalid", DlsErrorKind.SecurityError, $"The key file '{KeyPath}' is not a DLS secrets key.", KeyPath);
            }

            return key;
        }

        if (!create)
        {
            return null;
        }

        var fresh = RandomNumberGenerator.GetBytes(KeyBytes);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(KeyPath, options))
            {
                stream.Write(fresh);
                stream.Flush(flushToDisk: true);
            }

            if (OperatingSystem.IsWindows())
            {
                RestrictToOwner(KeyPath);
            }

            return fresh;
        }
        catch (IOException) when (File.Exists(KeyPath))
        {
            // Another process created it first: use theirs.
            return LoadKey(create: false);
        }
    }

    [System.Runtime.Versioning.SupportedOSPlatform("windows")]
    private static void RestrictToOwner(string path)
    {
        // Owner, SYSTEM and Administrators only; no inherited entries from %ProgramData% (readable by Users).
        var security = new System.Security.AccessControl.FileSecurity();
        security.SetAccessRuleProtection(isProtected: true, preserveInheritance: false);
        var full = System.Security.AccessControl.FileSystemRights.FullControl;
        var allow = System.Security.AccessControl.AccessControlType.Allow;
        using var identity = System.Security.Principal.WindowsIdentity.GetCurrent();
        security.AddAccessRule(new(identity.User!, full, allow));
        security.AddAccessRule(new(new System.Security.Principal.SecurityIdentifier(System.Security.Principal.WellKnownSidType.LocalSystemSid, null), full, allow));
        security.AddAccessRule(new(new System.Security.Principal.SecurityIdentifier(System.Security.Principal.WellKnownSidType.BuiltinAdministratorsSid, null), full, allow));
        new FileInfo(path).SetAccessControl(security);
    }
}
