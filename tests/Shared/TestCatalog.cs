using System.Data.Common;
using Dls.Core;
using Dls.Core.Crypto;
using Dls.Core.Licensing;
using Dls.Core.Storage;

namespace Dls.Tests;

/// <summary>
/// Puts licenses, items and handshake codes into a store the way an import would leave them, straight into the
/// tables of the licensing migration: tests of the accounting, the listener, alerts and usage set up exactly the
/// items they need without signing license files (the import itself is tested in Licensing/).
/// </summary>
public static class TestCatalog
{
    public static void AddItem(
        DlsStore store,
        string itemId,
        LicenseMode mode,
        long quantity,
        DateOnly start,
        DateOnly expiration,
        string product = "DBR",
        string version = "10",
        Deployment deployment = Deployment.Desktop,
        string edition = "",
        string? revokes = null,
        string licenseId = "L-1")
    {
        store.Write((connection, transaction) =>
        {
            var now = Timestamps.Format(DateTimeOffset.UtcNow);
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO license (license_id, alias, organization_id, server_uuid, issued_at, issuer_key_id, file_sha256, document, imported_at, updated_at)
                VALUES (@license, @license, '216998', (SELECT uuid FROM server), @now, 'test', '', '{}', @now, @now) ON CONFLICT DO NOTHING;
                INSERT INTO license_item (item_id, license_id, product, version, deployment, edition, mode, quantity, start_date, expiration_date, modules, revokes, updated_at)
                VALUES (@item, @license, @product, @version, @deployment, @edition, @mode, @quantity, @start, @expiration, '[]', @revokes, @now);
                """;
            command.Parameters.AddWithValue("@license", licenseId);
            command.Parameters.AddWithValue("@now", now);
            command.Parameters.AddWithValue("@item", itemId);
            command.Parameters.AddWithValue("@product", product);
            command.Parameters.AddWithValue("@version", version);
            command.Parameters.AddWithValue("@deployment", deployment.ToString());
            command.Parameters.AddWithValue("@edition", edition);
            command.Parameters.AddWithValue("@mode", mode.ToString());
            command.Parameters.AddWithValue("@quantity", quantity);
            command.Parameters.AddWithValue("@start", start.ToString("yyyy-MM-dd"));
            command.Parameters.AddWithValue("@expiration", expiration.ToString("yyyy-MM-dd"));
            command.Parameters.AddWithValue("@revokes", (object?)revokes ?? DBNull.Value);
            command.ExecuteNonQuery();
        });
    }

    public static void AddCode(
        DlsStore store,
        string code,
        IReadOnlyList<string> itemIds,
        bool isDefault = false,
        bool enabled = true,
        string? sessionPassword = null,
        IReadOnlyList<string>? domains = null,
        IReadOnlyList<string>? appIds = null,
        IReadOnlyList<string>? processNames = null)
    {
        var dash = code.IndexOf('-');
        var organization = code[..dash];
        store.Write((connection, transaction) =>
        {
            var now = Timestamps.Format(DateTimeOffset.UtcNow);
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO handshake_code (code, organization_id, name, is_default, enabled, description, password_hash, allowed_domains, allowed_app_ids, allowed_process_names, created_at, updated_at)
                VALUES (@code, @org, @name, @default, @enabled, '', @hash, @domains, @apps, @processes, @now, @now);
                """;
            command.Parameters.AddWithValue("@code", code);
            command.Parameters.AddWithValue("@org", organization);
            command.Parameters.AddWithValue("@name", code[(dash + 1)..]);
            command.Parameters.AddWithValue("@default", isDefault ? 1 : 0);
            command.Parameters.AddWithValue("@enabled", enabled ? 1 : 0);
            command.Parameters.AddWithValue("@hash", sessionPassword is null ? DBNull.Value : SessionPasswords.Hash(sessionPassword));
            command.Parameters.AddWithValue("@domains", System.Text.Json.JsonSerializer.Serialize(domains ?? []));
            command.Parameters.AddWithValue("@apps", System.Text.Json.JsonSerializer.Serialize(appIds ?? []));
            command.Parameters.AddWithValue("@processes", System.Text.Json.JsonSerializer.Serialize(processNames ?? []));
            command.Parameters.AddWithValue("@now", now);
            command.ExecuteNonQuery();
            for (var i = 0; i < itemIds.Count; i++)
            {
                using var link = connection.CreateCommand();
                link.Transaction = transaction;
                link.CommandText = "INSERT INTO handshake_code_item (code, item_id, position) VALUES (@code, @item, @position);";
                link.Parameters.AddWithValue("@code", code);
                link.Parameters.AddWithValue("@item", itemIds[i]);
                link.Parameters.AddWithValue("@position", i);
                link.ExecuteNonQuery();
            }
        });
    }

    /// <summary>Appends an item to an existing code's consumption order, or creates the code with it.</summary>
    public static void LinkItem(DlsStore store, string code, string itemId)
    {
        var exists = store.Read(connection => Dls.Core.Licensing.LicenseCatalog.FindCode(connection, null, code) is not null);
        if (!exists)
        {
            AddCode(store, code, [itemId]);
            return;
        }

        store.Write((connection, transaction) =>
        {
            using var link = connection.CreateCommand();
            link.Transaction = transaction;
            link.CommandText = "INSERT INTO handshake_code_item (code, item_id, position) VALUES (@code, @item, (SELECT count(*) FROM handshake_code_item WHERE code = @code));";
            link.Parameters.AddWithValue("@code", code);
            link.Parameters.AddWithValue("@item", itemId);
            link.ExecuteNonQuery();
        });
    }
}
