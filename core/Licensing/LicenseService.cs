using System.Globalization;
using Dls.Core.Accounting;
using Dls.Core.Audit;
using Dls.Core.Errors;
using Dls.Core.Storage;
using Microsoft.Data.Sqlite;

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

    public IReadOnlyList<LicenseInfo> List() => store.Read(connection => Query(connection, null, null));

    public LicenseInfo Get(string licenseId) => store.Read(connection => Find(connection, null, licenseId)) ?? throw NotFound(licenseId);

    public LicenseInfo SetAlias(string licenseId, string alias)
    {
        if (alias.Trim().Length == 0 || alias.Length > MaxAliasLength || alias.Any(char.IsControl))
        {
            throw new DlsException(ErrorIds.LicenseAliasInvalid, DlsErrorKind.InvalidArgument, $"The alias must be 1 to {MaxAliasLength} characters without control characters.", alias);
        }

        return store.Write((connection, transaction) =>
        {
            var current = Find(connection, transaction, licenseId) ?? throw NotFound(licenseId);
            if (current.Alias == alias)
            {
                return current;
            }

            var now = time.GetUtcNow();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "UPDATE license SET alias = $alias, updated_at = $now WHERE license_id = $id;";
            command.Parameters.AddWithValue("$alias", alias);
            command.Parameters.AddWithValue("$now", Timestamps.Format(now));
            command.Parameters.AddWithValue("$id", licenseId);
            command.ExecuteNonQuery();
            AuditLog.Write(connection, transaction, now, "License.SetAlias", licenseId, $"alias={alias}");
            return Find(connection, transaction, licenseId)!;
        });
    }

    /// <summary>What removing the license would take from which codes.</summary>
    public (LicenseInfo License, IReadOnlyList<CodeLoss> Losses) PlanRemoval(string licenseId) => store.Read(connection =>
    {
        var license = Find(connection, null, licenseId) ?? throw NotFound(licenseId);
        return (license, Losses(connection, null, license.Items));
    });

    /// <summary>Removes a license and its items; codes lose those items (their clients re-authorize). Usage history stays.</summary>
    public (LicenseInfo License, IReadOnlyList<CodeLoss> Losses) Remove(string licenseId) => store.Write((connection, transaction) =>
    {
        var license = Find(connection, transaction, licenseId) ?? throw NotFound(licenseId);
        var losses = Losses(connection, transaction, license.Items);
        var now = time.GetUtcNow();
        foreach (var loss in losses)
        {
            HandshakeCodeService.Touch(connection, transaction, loss.Code, now);
        }

        // Items revoked by this license's items become valid again: their codes must re-authorize too.
        using (var revoked = connection.CreateCommand())
        {
            revoked.Transaction = transaction;
            revoked.CommandText = """
                UPDATE handshake_code SET updated_at = $now WHERE code IN (
                    SELECT ci.code FROM handshake_code_item ci JOIN license_item r ON r.revokes = ci.item_id WHERE r.license_id = $id);
                """;
            revoked.Parameters.AddWithValue("$id", licenseId);
            revoked.Parameters.AddWithValue("$now", Timestamps.Format(now));
            revoked.ExecuteNonQuery();
        }

        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM license WHERE license_id = $id;";
        command.Parameters.AddWithValue("$id", licenseId);
        command.ExecuteNonQuery();
        AuditLog.Write(connection, transaction, now, "License.Remove", licenseId,
            $"items={string.Join(",", license.Items)}; codes={string.Join(",", losses.Select(l => l.Code))}");
        return (license, losses);
    });

    /// <summary>
    /// Items with their use and status now: those of a code (in its order), of a license, or all (nearest expiry first).
    /// Filters combine.
    /// </summary>
    public IReadOnlyList<LicenseItemInfo> Items(string? itemId = null, string? licenseId = null, string? code = null) => store.Read(connection =>
    {
        using var transaction = connection.BeginTransaction(deferred: true);
        if (code is not null && LicenseCatalog.FindCode(connection, transaction, code) is null)
        {
            throw HandshakeCodeService.NotFound(code);
        }

        var items = code is null ? LicenseCatalog.AllItems(connection, transaction) : LicenseCatalog.ItemsOfCode(connection, transaction, code);
        var now = time.GetUtcNow();
        return items
            .Where(i => (itemId is null || i.ItemId == itemId) && (licenseId is null || i.LicenseId == licenseId))
            .Select(i => Describe(connection, transaction, i, now))
            .ToList();
    });

    internal static LicenseItemInfo Describe(SqliteConnection connection, SqliteTransaction? transaction, LicenseItem item, DateTimeOffset now)
    {
        var measure = QuotaMeter.Measure(connection, transaction, item, now);
        var revokedBy = Strings(connection, transaction, "SELECT item_id FROM license_item WHERE revokes = $p ORDER BY item_id;", item.ItemId);
        var codes = Strings(connection, transaction, "SELECT code FROM handshake_code_item WHERE item_id = $p ORDER BY code;", item.ItemId);
        var status = item.StatusAt(now, revoked: item.Revokes is not null || revokedBy.Count > 0);
        return new LicenseItemInfo(
            item.ItemId, item.LicenseId, item.Product, item.Version, item.Deployment, item.Edition, item.Mode, item.Quantity,
            measure.Used, measure.PercentUsed, status,
            item.StartDate.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc), item.ExpirationDate.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc),
            item.Modules, item.Revokes, revokedBy, codes);
    }

    internal static LicenseInfo? Find(SqliteConnection connection, SqliteTransaction? transaction, string licenseId) =>
        Query(connection, transaction, licenseId).FirstOrDefault();

    internal static IReadOnlyList<CodeLoss> Losses(SqliteConnection connection, SqliteTransaction? transaction, IReadOnlyCollection<string> itemIds)
    {
        var losses = new List<CodeLoss>();
        foreach (var code in LicenseCatalog.AllCodes(connection, transaction))
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
        new("LicenseNotFound", DlsErrorKind.NotFound, $"There is no license '{licenseId}'.", licenseId);

    private static List<LicenseInfo> Query(SqliteConnection connection, SqliteTransaction? transaction, string? licenseId)
    {
        var rows = new List<LicenseInfo>();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = """
                SELECT license_id, alias, organization_id, server_uuid, issued_at, issuer_key_id, imported_at, updated_at
                FROM license WHERE $id IS NULL OR license_id = $id ORDER BY license_id;
                """;
            command.Parameters.AddWithValue("$id", (object?)licenseId ?? DBNull.Value);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rows.Add(new LicenseInfo(
                    reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    Timestamps.Parse(reader.GetString(4)).UtcDateTime, reader.GetString(5),
                    Timestamps.Parse(reader.GetString(6)).UtcDateTime, Timestamps.Parse(reader.GetString(7)).UtcDateTime, []));
            }
        }

        return rows.Select(r => r with
        {
            Items = Strings(connection, transaction, "SELECT item_id FROM license_item WHERE license_id = $p ORDER BY expiration_date, start_date, item_id;", r.LicenseId),
        }).ToList();
    }

    private static List<string> Strings(SqliteConnection connection, SqliteTransaction? transaction, string sql, string parameter)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("$p", parameter);
        using var reader = command.ExecuteReader();
        var values = new List<string>();
        while (reader.Read())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }
}
