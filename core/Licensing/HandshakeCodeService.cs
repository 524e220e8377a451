using Dls.Core.Audit;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Storage;
using Dls.Core.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Licensing;

/// <summary>What Set-DlsHandshakeCode changes; null leaves a setting as it is.</summary>
public sealed record HandshakeCodeChanges
{
    /// <summary>Replaces the items, in this order.</summary>
    public IReadOnlyList<string>? ItemIds { get; init; }

    /// <summary>Adds items by expiry (<see cref="CodeOrder.Merge"/>).</summary>
    public IReadOnlyList<string>? AddItemIds { get; init; }

    public IReadOnlyList<string>? RemoveItemIds { get; init; }

    public bool? Enabled { get; init; }

    /// <summary>true makes the code its organization's default; false on the default leaves the organization without one.</summary>
    public bool? IsDefault { get; init; }

    /// <summary>A new session password in clear (hashed at once); the empty string removes it.</summary>
    public string? SessionPassword { get; init; }

    public IReadOnlyList<string>? AllowedDomains { get; init; }

    public IReadOnlyList<string>? AllowedAppIds { get; init; }

    public IReadOnlyList<string>? AllowedProcessNames { get; init; }

    public string? Description { get; init; }
}

/// <summary>The result of Get-DlsLicenseKey.</summary>
/// <param name="Key">The <c>DLS2…</c> string.</param>
/// <param name="PasswordOmitted">The code has a session password that the key does not carry.</param>
public sealed record LicenseKeyResult(string Key, bool PasswordOmitted, bool CodeDisabled);

/// <summary>
/// Handshake codes (SPEC §2): <c>{organizationId}-{name}</c>, ordered items, the organization's default, validation
/// values, session password (hash only), enabled flag, description. Every change is audited and moves the
/// code's handshakeUpdateTime.
/// </summary>
public sealed class HandshakeCodeService(DlsStore store, TimeProvider time)
{
    public const int MaxNameLength = 64;
    public const int MaxAllowedValues = 100;
    public const int MaxAllowedValueLength = 253;
    public const int MaxDescriptionLength = 1024;

    public IReadOnlyList<HandshakeCode> List() => store.Read(connection => LicenseCatalog.AllCodes(connection, null));

    public HandshakeCode Get(string code) => store.Read(connection => LicenseCatalog.FindCode(connection, null, code)) ?? throw NotFound(code);

    /// <summary>
    /// Creates a code for the server's organization. It is the default when <paramref name="makeDefault"/> or when
    /// the organization has no code yet. <paramref name="itemIds"/> are kept in the given order.
    /// </summary>
    public HandshakeCode Create(
        string name,
        IReadOnlyList<string>? itemIds = null,
        bool makeDefault = false,
        string? sessionPassword = null,
        IReadOnlyList<string>? allowedDomains = null,
        IReadOnlyList<string>? allowedAppIds = null,
        IReadOnlyList<string>? allowedProcessNames = null,
        string? description = null)
    {
        ValidateName(name);
        var domains = AllowedDomains(allowedDomains ?? []);
        var appIds = AllowedValues(allowedAppIds ?? [], "AllowedAppId");
        var processNames = AllowedValues(allowedProcessNames ?? [], "AllowedProcessName");
        ValidateDescription(description ?? string.Empty);
        var hash = string.IsNullOrEmpty(sessionPassword) ? null : SessionPasswords.Hash(sessionPassword);
        return store.Write((connection, transaction) =>
        {
            var organizationId = OrganizationOf(connection, transaction);
            var code = Compose(organizationId, name);
            var items = ResolveItems(connection, transaction, itemIds ?? []);
            var now = time.GetUtcNow();
            var isDefault = makeDefault || !OrganizationHasCodes(connection, transaction, organizationId);
            Insert(connection, transaction, code, organizationId, name, isDefault, now);
            Update(connection, transaction, code, "description", description ?? string.Empty);
            Update(connection, transaction, code, "password_hash", hash);
            Update(connection, transaction, code, "allowed_domains", LicenseCatalog.WriteList(domains));
            Update(connection, transaction, code, "allowed_app_ids", LicenseCatalog.WriteList(appIds));
            Update(connection, transaction, code, "allowed_process_names", LicenseCatalog.WriteList(processNames));
            WriteItems(connection, transaction, code, items.Select(i => i.ItemId).ToList(), now);
            AuditLog.Write(connection, transaction, now, "HandshakeCode.New", code,
                $"items={string.Join(",", items.Select(i => i.ItemId))}; default={isDefault}; sessionPassword={(hash is null ? "none" : "set")}");
            return LicenseCatalog.FindCode(connection, transaction, code)!;
        });
    }

    /// <summary>Applies <paramref name="changes"/>; a change that leaves every value as it was writes nothing.</summary>
    public HandshakeCode Set(string code, HandshakeCodeChanges changes)
    {
        var domains = changes.AllowedDomains is null ? null : AllowedDomains(changes.AllowedDomains);
        var appIds = changes.AllowedAppIds is null ? null : AllowedValues(changes.AllowedAppIds, "AllowedAppId");
        var processNames = changes.AllowedProcessNames is null ? null : AllowedValues(changes.AllowedProcessNames, "AllowedProcessName");
        if (changes.Description is not null)
        {
            ValidateDescription(changes.Description);
        }

        // Hashing is slow on purpose: done before the write lock is taken.
        var hash = string.IsNullOrEmpty(changes.SessionPassword) ? null : SessionPasswords.Hash(changes.SessionPassword);
        return store.Write((connection, transaction) =>
        {
            var current = LicenseCatalog.FindCode(connection, transaction, code) ?? throw NotFound(code);
            var done = new List<string>();
            var now = time.GetUtcNow();

            var items = LicenseCatalog.ItemsOfCode(connection, transaction, code).ToList();
            if (changes.ItemIds is not null)
            {
                items = ResolveItems(connection, transaction, changes.ItemIds).ToList();
            }

            if (changes.AddItemIds is not null)
            {
                items = CodeOrder.Merge(items, ResolveItems(connection, transaction, changes.AddItemIds)).ToList();
            }

            foreach (var removed in changes.RemoveItemIds ?? [])
            {
                if (items.RemoveAll(i => i.ItemId == removed) == 0)
                {
                    throw new DlsException(ErrorIds.ItemNotInCode, DlsErrorKind.InvalidArgument, $"The item '{removed}' is not in the handshake code '{code}'.", removed);
                }
            }

            var itemIds = items.Select(i => i.ItemId).ToList();
            if (!itemIds.SequenceEqual(current.ItemIds))
            {
                WriteItems(connection, transaction, code, itemIds, now);
                done.Add($"items={string.Join(",", itemIds)}");
            }

            if (changes.Enabled is { } enabled && enabled != current.Enabled)
            {
                Update(connection, transaction, code, "enabled", enabled ? 1 : 0);
                done.Add($"enabled={enabled}");
            }

            if (changes.IsDefault is { } makeDefault && makeDefault != current.IsDefault)
            {
                if (makeDefault)
                {
                    using var clear = connection.CreateCommand();
                    clear.Transaction = transaction;
                    clear.CommandText = "UPDATE handshake_code SET is_default = 0, updated_at = $now WHERE organization_id = $org AND is_default = 1;";
                    clear.Parameters.AddWithValue("$org", current.OrganizationId);
                    clear.Parameters.AddWithValue("$now", Timestamps.Format(now));
                    clear.ExecuteNonQuery();
                }

                Update(connection, transaction, code, "is_default", makeDefault ? 1 : 0);
                done.Add($"default={makeDefault}");
            }

            if (changes.SessionPassword is not null && (hash is not null || current.HasSessionPassword))
            {
                Update(connection, transaction, code, "password_hash", hash);
                done.Add($"sessionPassword={(hash is null ? "removed" : "changed")}");
            }

            SetList(connection, transaction, code, "allowed_domains", "allowedDomains", current.AllowedDomains, domains, done);
            SetList(connection, transaction, code, "allowed_app_ids", "allowedAppIds", current.AllowedAppIds, appIds, done);
            SetList(connection, transaction, code, "allowed_process_names", "allowedProcessNames", current.AllowedProcessNames, processNames, done);
            if (changes.Description is not null && changes.Description != current.Description)
            {
                Update(connection, transaction, code, "description", changes.Description);
                done.Add("description");
            }

            if (done.Count > 0)
            {
                Touch(connection, transaction, code, now);
                AuditLog.Write(connection, transaction, now, "HandshakeCode.Set", code, string.Join("; ", done));
            }

            return LicenseCatalog.FindCode(connection, transaction, code)!;
        });
    }

    /// <summary>Removes a code (its statistics stay). Removing the default leaves the organization without one.</summary>
    public HandshakeCode Remove(string code) => store.Write((connection, transaction) =>
    {
        var current = LicenseCatalog.FindCode(connection, transaction, code) ?? throw NotFound(code);
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM handshake_code WHERE code = $code;";
        command.Parameters.AddWithValue("$code", code);
        command.ExecuteNonQuery();
        AuditLog.Write(connection, transaction, time.GetUtcNow(), "HandshakeCode.Remove", code, $"default={current.IsDefault}");
        return current;
    });

    /// <summary>
    /// The license key of SPEC §2. A given <paramref name="sessionPassword"/> is checked against the stored hash
    /// (<c>SessionPasswordMismatch</c>) and embedded; without one the key carries none.
    /// </summary>
    public LicenseKeyResult LicenseKey(string code, string? sessionPassword)
    {
        var (found, server) = store.Read(connection =>
            (LicenseCatalog.FindCode(connection, null, code), Server.ServerService.Read(connection, null, store.Path)));
        if (found is null)
        {
            throw NotFound(code);
        }

        if (sessionPassword is not null)
        {
            if (found.PasswordHash is null)
            {
                throw new DlsException(ErrorIds.SessionPasswordNotSet, DlsErrorKind.InvalidOperation, $"The handshake code '{code}' has no session password; omit -SessionPassword or set one with Set-DlsHandshakeCode.", code);
            }

            if (!SessionPasswords.Verify(found.PasswordHash, sessionPassword))
            {
                throw new DlsException(ErrorIds.SessionPasswordMismatch, DlsErrorKind.SecurityError, $"The session password does not match the one set on '{code}'.", code);
            }
        }

        var content = new LicenseKeyContent(found.Code, found.OrganizationId, server.MainServerUrl, server.StandbyServerUrl, sessionPassword, Convert.ToBase64String(server.PublicKeyDer()));
        return new LicenseKeyResult(Licensing.LicenseKey.Encode(content), found.HasSessionPassword && sessionPassword is null, !found.Enabled);
    }

    public static string Compose(string organizationId, string name) => $"{organizationId}-{name}";

    public static void ValidateName(string name)
    {
        if (name.Length is 0 or > MaxNameLength || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
        {
            throw new DlsException(ErrorIds.HandshakeCodeNameInvalid, DlsErrorKind.InvalidArgument, $"The handshake code name '{name}' is not valid: use 1 to {MaxNameLength} letters, digits, '_', '.' or '-'.", name);
        }
    }

    public static DlsException NotFound(string code) =>
        new("HandshakeCodeNotFound", DlsErrorKind.NotFound, $"There is no handshake code '{code}'.", code);

    /// <summary>The organization codes belong to; <c>OrganizationNotSet</c> until the server has one.</summary>
    internal static string OrganizationOf(SqliteConnection connection, SqliteTransaction? transaction)
    {
        var organizationId = Server.ServerService.Read(connection, transaction, connection.DataSource).OrganizationId;
        return organizationId.Length > 0 ? organizationId : throw new DlsException(
            ErrorIds.OrganizationNotSet,
            DlsErrorKind.InvalidOperation,
            "The server has no organization id yet: set it with Set-DlsServer -OrganizationId, or import a license (which brings it).");
    }

    internal static bool OrganizationHasCodes(SqliteConnection connection, SqliteTransaction? transaction, string organizationId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT EXISTS (SELECT 1 FROM handshake_code WHERE organization_id = $org);";
        command.Parameters.AddWithValue("$org", organizationId);
        return Convert.ToInt64(command.ExecuteScalar()) == 1;
    }

    internal static void Insert(SqliteConnection connection, SqliteTransaction transaction, string code, string organizationId, string name, bool isDefault, DateTimeOffset now)
    {
        if (LicenseCatalog.FindCode(connection, transaction, code) is not null)
        {
            throw new DlsException(ErrorIds.HandshakeCodeExists, DlsErrorKind.AlreadyExists, $"The handshake code '{code}' exists already.", code);
        }

        if (isDefault)
        {
            using var clear = connection.CreateCommand();
            clear.Transaction = transaction;
            clear.CommandText = "UPDATE handshake_code SET is_default = 0, updated_at = $now WHERE organization_id = $org AND is_default = 1;";
            clear.Parameters.AddWithValue("$org", organizationId);
            clear.Parameters.AddWithValue("$now", Timestamps.Format(now));
            clear.ExecuteNonQuery();
        }

        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO handshake_code (code, organization_id, name, is_default, enabled, created_at, updated_at)
            VALUES ($code, $org, $name, $default, 1, $now, $now);
            """;
        command.Parameters.AddWithValue("$code", code);
        command.Parameters.AddWithValue("$org", organizationId);
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$default", isDefault ? 1 : 0);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.ExecuteNonQuery();
    }

    /// <summary>Rewrites a code's item list in the given order and moves its handshakeUpdateTime.</summary>
    internal static void WriteItems(SqliteConnection connection, SqliteTransaction transaction, string code, IReadOnlyList<string> itemIds, DateTimeOffset now)
    {
        using (var delete = connection.CreateCommand())
        {
            delete.Transaction = transaction;
            delete.CommandText = "DELETE FROM handshake_code_item WHERE code = $code;";
            delete.Parameters.AddWithValue("$code", code);
            delete.ExecuteNonQuery();
        }

        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO handshake_code_item (code, item_id, position) VALUES ($code, $item, $position);";
        var item = insert.Parameters.Add("$item", SqliteType.Text);
        var position = insert.Parameters.Add("$position", SqliteType.Integer);
        insert.Parameters.AddWithValue("$code", code);
        for (var i = 0; i < itemIds.Count; i++)
        {
            item.Value = itemIds[i];
            position.Value = i;
            insert.ExecuteNonQuery();
        }

        Touch(connection, transaction, code, now);
    }

    internal static void Touch(SqliteConnection connection, SqliteTransaction transaction, string code, DateTimeOffset now)
    {
        using var work = SqliteUnitOfWork.Borrow(SqliteStores.All, connection, transaction, connection.DataSource);
        work.Stores.Codes.Touch(work, code, now);
    }

    private static IReadOnlyList<LicenseItem> ResolveItems(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<string> itemIds)
    {
        var items = new List<LicenseItem>();
        foreach (var id in itemIds)
        {
            var item = LicenseCatalog.FindItem(connection, transaction, id) ?? throw new DlsException(
                ErrorIds.LicenseItemNotFound, DlsErrorKind.NotFound, $"There is no license item '{id}'. Get-DlsLicenseItem lists the imported items.", id);
            if (items.Any(i => i.ItemId == id))
            {
                throw new DlsException(ErrorIds.ItemIdRepeated, DlsErrorKind.InvalidArgument, $"The item '{id}' is listed twice.", id);
            }

            items.Add(item);
        }

        return items;
    }

    private static void Update(SqliteConnection connection, SqliteTransaction transaction, string code, string column, object? value)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        // The column name comes from this class only, never from input.
        command.CommandText = $"UPDATE handshake_code SET {column} = $value WHERE code = $code;";
        command.Parameters.AddWithValue("$code", code);
        command.Parameters.AddWithValue("$value", value ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    private static void SetList(SqliteConnection connection, SqliteTransaction transaction, string code, string column, string label, IReadOnlyList<string> current, IReadOnlyList<string>? next, List<string> done)
    {
        if (next is not null && !next.SequenceEqual(current))
        {
            Update(connection, transaction, code, column, LicenseCatalog.WriteList(next));
            done.Add($"{label}={string.Join(",", next)}");
        }
    }

    /// <summary>Host names (lowercased), optionally with a leading <c>*.</c> for every subdomain.</summary>
    private static IReadOnlyList<string> AllowedDomains(IReadOnlyList<string> values)
    {
        var domains = AllowedValues(values.Select(v => v.Trim().ToLowerInvariant()).ToList(), "AllowedDomain");
        foreach (var domain in domains)
        {
            var host = domain.StartsWith("*.", StringComparison.Ordinal) ? domain[2..] : domain;
            if (host.Length == 0 || Uri.CheckHostName(host) != UriHostNameType.Dns)
            {
                throw new DlsException(ErrorIds.AllowedValueInvalid, DlsErrorKind.InvalidArgument, $"AllowedDomain '{domain}' is not a host name (such as example.com or *.example.com).", domain);
            }
        }

        return domains;
    }

    private static IReadOnlyList<string> AllowedValues(IReadOnlyList<string> values, string field)
    {
        if (values.Count > MaxAllowedValues)
        {
            throw new DlsException(ErrorIds.AllowedValueInvalid, DlsErrorKind.LimitsExceeded, $"{field} takes at most {MaxAllowedValues} values.", field);
        }

        var result = new List<string>();
        foreach (var value in values)
        {
            if (value.Length is 0 or > MaxAllowedValueLength || value.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            {
                throw new DlsException(ErrorIds.AllowedValueInvalid, DlsErrorKind.InvalidArgument, $"{field} '{value}' must be 1 to {MaxAllowedValueLength} characters without spaces or control characters.", value);
            }

            if (!result.Contains(value))
            {
                result.Add(value);
            }
        }

        return result;
    }

    private static void ValidateDescription(string description)
    {
        if (description.Length > MaxDescriptionLength || description.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
        {
            throw new DlsException(ErrorIds.DescriptionInvalid, DlsErrorKind.InvalidArgument, $"The description must be at most {MaxDescriptionLength} characters without control characters.");
        }
    }
}
