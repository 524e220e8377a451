using Dls.Core.Audit;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Storage;

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

    public IReadOnlyList<HandshakeCode> List() => store.Query(LicenseCatalog.AllCodes);

    public HandshakeCode Get(string code) => store.Query(work => LicenseCatalog.FindCode(work, code)) ?? throw NotFound(code);

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
        return store.Write(work =>
        {
            var organizationId = OrganizationOf(work, store.Path);
            var code = Compose(organizationId, name);
            var items = ResolveItems(work, itemIds ?? []);
            var now = time.GetUtcNow();
            var isDefault = makeDefault || !work.Stores.Codes.OrganizationHasCodes(work, organizationId);
            Insert(work, code, organizationId, name, isDefault, now);
            var codes = work.Stores.Codes;
            codes.SetSetting(work, code, CodeSetting.Description, description ?? string.Empty);
            codes.SetSetting(work, code, CodeSetting.PasswordHash, hash);
            codes.SetSetting(work, code, CodeSetting.AllowedDomains, LicenseCatalog.WriteList(domains));
            codes.SetSetting(work, code, CodeSetting.AllowedAppIds, LicenseCatalog.WriteList(appIds));
            codes.SetSetting(work, code, CodeSetting.AllowedProcessNames, LicenseCatalog.WriteList(processNames));
            WriteItems(work, code, items.Select(i => i.ItemId).ToList(), now);
            AuditLog.Write(work, now, "HandshakeCode.New", code,
                $"items={string.Join(",", items.Select(i => i.ItemId))}; default={isDefault}; sessionPassword={(hash is null ? "none" : "set")}");
            return LicenseCatalog.FindCode(work, code)!;
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
        return store.Write(work =>
        {
            var codes = work.Stores.Codes;
            var current = LicenseCatalog.FindCode(work, code) ?? throw NotFound(code);
            var done = new List<string>();
            var now = time.GetUtcNow();

            var items = LicenseCatalog.ItemsOfCode(work, code).ToList();
            if (changes.ItemIds is not null)
            {
                items = ResolveItems(work, changes.ItemIds).ToList();
            }

            if (changes.AddItemIds is not null)
            {
                items = CodeOrder.Merge(items, ResolveItems(work, changes.AddItemIds)).ToList();
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
                WriteItems(work, code, itemIds, now);
                done.Add($"items={string.Join(",", itemIds)}");
            }

            if (changes.Enabled is { } enabled && enabled != current.Enabled)
            {
                codes.SetSetting(work, code, CodeSetting.Enabled, enabled ? 1 : 0);
                done.Add($"enabled={enabled}");
            }

            if (changes.IsDefault is { } makeDefault && makeDefault != current.IsDefault)
            {
                if (makeDefault)
                {
                    codes.ClearDefault(work, current.OrganizationId, now);
                }

                codes.SetSetting(work, code, CodeSetting.IsDefault, makeDefault ? 1 : 0);
                done.Add($"default={makeDefault}");
            }

            if (changes.SessionPassword is not null && (hash is not null || current.HasSessionPassword))
            {
                codes.SetSetting(work, code, CodeSetting.PasswordHash, hash);
                done.Add($"sessionPassword={(hash is null ? "removed" : "changed")}");
            }

            SetList(work, code, CodeSetting.AllowedDomains, "allowedDomains", current.AllowedDomains, domains, done);
            SetList(work, code, CodeSetting.AllowedAppIds, "allowedAppIds", current.AllowedAppIds, appIds, done);
            SetList(work, code, CodeSetting.AllowedProcessNames, "allowedProcessNames", current.AllowedProcessNames, processNames, done);
            if (changes.Description is not null && changes.Description != current.Description)
            {
                codes.SetSetting(work, code, CodeSetting.Description, changes.Description);
                done.Add("description");
            }

            if (done.Count > 0)
            {
                codes.Touch(work, code, now);
                AuditLog.Write(work, now, "HandshakeCode.Set", code, string.Join("; ", done));
            }

            return LicenseCatalog.FindCode(work, code)!;
        });
    }

    /// <summary>Removes a code (its statistics stay). Removing the default leaves the organization without one.</summary>
    public HandshakeCode Remove(string code) => store.Write(work =>
    {
        var current = LicenseCatalog.FindCode(work, code) ?? throw NotFound(code);
        work.Stores.Codes.RemoveCode(work, code);
        AuditLog.Write(work, time.GetUtcNow(), "HandshakeCode.Remove", code, $"default={current.IsDefault}");
        return current;
    });

    /// <summary>
    /// The license key of SPEC §2. A given <paramref name="sessionPassword"/> is checked against the stored hash
    /// (<c>SessionPasswordMismatch</c>) and embedded; without one the key carries none.
    /// </summary>
    public LicenseKeyResult LicenseKey(string code, string? sessionPassword)
    {
        var (found, server) = store.Query(work =>
            (LicenseCatalog.FindCode(work, code), Server.ServerService.Read(work, store.Path)));
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
    internal static string OrganizationOf(UnitOfWork work, string storePath)
    {
        var organizationId = Server.ServerService.Read(work, storePath).OrganizationId;
        return organizationId.Length > 0 ? organizationId : throw new DlsException(
            ErrorIds.OrganizationNotSet,
            DlsErrorKind.InvalidOperation,
            "The server has no organization id yet: set it with Set-DlsServer -OrganizationId, or import a license (which brings it).");
    }

    /// <summary>Adds a code without items; <c>HandshakeCodeExists</c> when there is one by that name. A new default replaces the old.</summary>
    internal static void Insert(UnitOfWork work, string code, string organizationId, string name, bool isDefault, DateTimeOffset now)
    {
        if (LicenseCatalog.FindCode(work, code) is not null)
        {
            throw new DlsException(ErrorIds.HandshakeCodeExists, DlsErrorKind.AlreadyExists, $"The handshake code '{code}' exists already.", code);
        }

        if (isDefault)
        {
            work.Stores.Codes.ClearDefault(work, organizationId, now);
        }

        work.Stores.Codes.AddCode(work, code, organizationId, name, isDefault, now);
    }

    /// <summary>Rewrites a code's item list in the given order and moves its handshakeUpdateTime.</summary>
    internal static void WriteItems(UnitOfWork work, string code, IReadOnlyList<string> itemIds, DateTimeOffset now)
    {
        work.Stores.Codes.ReplaceItems(work, code, itemIds);
        work.Stores.Codes.Touch(work, code, now);
    }

    private static IReadOnlyList<LicenseItem> ResolveItems(UnitOfWork work, IReadOnlyList<string> itemIds)
    {
        var items = new List<LicenseItem>();
        foreach (var id in itemIds)
        {
            var item = LicenseCatalog.FindItem(work, id) ?? throw new DlsException(
                ErrorIds.LicenseItemNotFound, DlsErrorKind.NotFound, $"There is no license item '{id}'. Get-DlsLicenseItem lists the imported items.", id);
            if (items.Any(i => i.ItemId == id))
            {
                throw new DlsException(ErrorIds.ItemIdRepeated, DlsErrorKind.InvalidArgument, $"The item '{id}' is listed twice.", id);
            }

            items.Add(item);
        }

        return items;
    }

    private static void SetList(UnitOfWork work, string code, CodeSetting setting, string label, IReadOnlyList<string> current, IReadOnlyList<string>? next, List<string> done)
    {
        if (next is not null && !next.SequenceEqual(current))
        {
            work.Stores.Codes.SetSetting(work, code, setting, LicenseCatalog.WriteList(next));
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
