using System.Globalization;
using Dls.Core.Accounting;
using Dls.Core.Audit;
using Dls.Core.Errors;
using Dls.Core.Storage;

namespace Dls.Core.Licensing;

/// <summary>An imported license as Get-DlsLicense shows it. <see cref="Items"/> holds its item ids.</summary>
public sealed record LicenseInfo(
    string LicenseId,
    string Alias,
    string OrganizationId,
    string ServerUuid,
    DateTime IssuedAt,
    string IssuerKeyId,
    DateTime ImportedAt,
    DateTime UpdatedAt,
    IReadOnlyList<string> Items);

/// <summary>An item with its use now, as Get-DlsLicenseItem shows it (the DLS items page). Dates are UTC.</summary>
public sealed record LicenseItemInfo(
    string ItemId,
    string LicenseId,
    string Product,
    string Version,
    Deployment Deployment,
    string Edition,
    LicenseMode Mode,
    long Quantity,
    long Used,
    double PercentUsed,
    ItemStatus Status,
    DateTime StartDate,
    DateTime ExpirationDate,
    IReadOnlyList<string> Modules,
    string? Revokes,
    IReadOnlyList<string> RevokedBy,
    IReadOnlyList<string> HandshakeCodes)
{
    /// <summary>"used of quantity (percent)", as the items page shows it.</summary>
    public string Usage => string.Create(CultureInfo.InvariantCulture, $"{Used} of {Quantity} ({PercentUsed:0.#} %)");
}

/// <summary>Codes that would lose items when a license goes, and which.</summary>
public sealed record CodeLoss(string Code, IReadOnlyList<string> ItemIds);

/// <summary>Imported licenses and their items: reads, alias, removal.</summary>
public sealed class LicenseService(DlsStore store, TimeProvider time)
{
    public const int MaxAliasLength = LicenseFile.MaxAliasLength;

    public IReadOnlyList<LicenseInfo> List() => store.Query(work => Query(work, null));

    public LicenseInfo Get(string licenseId) => store.Query(work => Find(work, licenseId)) ?? throw NotFound(licenseId);

    public LicenseInfo SetAlias(string licenseId, string alias)
    {
        if (alias.Trim().Length == 0 || alias.Length > MaxAliasLength || alias.Any(char.IsControl))
        {
            throw new DlsException(ErrorIds.LicenseAliasInvalid, DlsErrorKind.InvalidArgument, $"The alias must be 1 to {MaxAliasLength} characters without control characters.", alias);
        }

        return store.Write(work =>
        {
            var current = Find(work, licenseId) ?? throw NotFound(licenseId);
            if (current.Alias == alias)
            {
                return current;
            }

            var now = time.GetUtcNow();
            work.Stores.Licenses.SetAlias(work, licenseId, alias, now);
            AuditLog.Write(work, now, "License.SetAlias", licenseId, $"alias={alias}");
            return Find(work, licenseId)!;
        });
    }

    /// <summary>What removing the license would take from which codes.</summary>
    public (LicenseInfo License, IReadOnlyList<CodeLoss> Losses) PlanRemoval(string licenseId) => store.Query(work =>
    {
        var license = Find(work, licenseId) ?? throw NotFound(licenseId);
        return (license, Losses(work, license.Items));
    });

    /// <summary>Removes a license and its items; codes lose those items (their clients re-authorize). Usage history stays.</summary>
    public (LicenseInfo License, IReadOnlyList<CodeLoss> Losses) Remove(string licenseId) => store.Write(work =>
    {
        var license = Find(work, licenseId) ?? throw NotFound(licenseId);
        var losses = Losses(work, license.Items);
        var now = time.GetUtcNow();
        foreach (var loss in losses)
        {
            work.Stores.Codes.Touch(work, loss.Code, now);
        }

        // Items revoked by this license's items become valid again: their codes must re-authorize too.
        work.Stores.Codes.TouchCodesOfItemsRevokedBy(work, licenseId, now);
        work.Stores.Licenses.RemoveLicense(work, licenseId);
        AuditLog.Write(work, now, "License.Remove", licenseId,
            $"items={string.Join(",", license.Items)}; codes={string.Join(",", losses.Select(l => l.Code))}");
        return (license, losses);
    });

    /// <summary>
    /// Items with their use and status now: those of a code (in its order), of a license, or all (nearest expiry first).
    /// Filters combine.
    /// </summary>
    public IReadOnlyList<LicenseItemInfo> Items(string? itemId = null, string? licenseId = null, string? code = null) => store.QuerySnapshot(work =>
    {
        if (code is not null && LicenseCatalog.FindCode(work, code) is null)
        {
            throw HandshakeCodeService.NotFound(code);
        }

        var items = code is null ? LicenseCatalog.AllItems(work) : LicenseCatalog.ItemsOfCode(work, code);
        var now = time.GetUtcNow();
        return items
            .Where(i => (itemId is null || i.ItemId == itemId) && (licenseId is null || i.LicenseId == licenseId))
            .Select(i => Describe(work, i, now))
            .ToList();
    });

    internal static LicenseItemInfo Describe(UnitOfWork work, LicenseItem item, DateTimeOffset now)
    {
        var measure = QuotaMeter.Measure(work, item, now);
        var revokedBy = work.Stores.Licenses.ItemsRevoking(work, item.ItemId);
        var codes = work.Stores.Codes.CodesOfItem(work, item.ItemId);
        var status = item.StatusAt(now, revoked: item.Revokes is not null || revokedBy.Count > 0);
        return new LicenseItemInfo(
            item.ItemId, item.LicenseId, item.Product, item.Version, item.Deployment, item.Edition, item.Mode, item.Quantity,
            measure.Used, measure.PercentUsed, status,
            item.StartDate.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc), item.ExpirationDate.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc),
            item.Modules, item.Revokes, revokedBy, codes);
    }

    internal static LicenseInfo? Find(UnitOfWork work, string licenseId) => Query(work, licenseId).FirstOrDefault();

    internal static IReadOnlyList<CodeLoss> Losses(UnitOfWork work, IReadOnlyCollection<string> itemIds)
    {
        var losses = new List<CodeLoss>();
        foreach (var code in LicenseCatalog.AllCodes(work))
        {
            var lost = code.ItemIds.Where(itemIds.Contains).ToList();
            if (lost.Count > 0)
            {
                losses.Add(new CodeLoss(code.Code, lost));
            }
        }

        return losses;
    }

    public static DlsException NotFound(string licenseId) =>
        new(ErrorIds.LicenseNotFound, DlsErrorKind.NotFound, $"There is no license '{licenseId}'.", licenseId);

    private static List<LicenseInfo> Query(UnitOfWork work, string? licenseId) =>
        work.Stores.Licenses.Licenses(work, licenseId)
            .Select(r => new LicenseInfo(
                r.LicenseId, r.Alias, r.OrganizationId, r.ServerUuid, r.IssuedAt.UtcDateTime, r.IssuerKeyId, r.ImportedAt.UtcDateTime, r.UpdatedAt.UtcDateTime,
                work.Stores.Licenses.ItemIdsOfLicense(work, r.LicenseId)))
            .ToList();
}
