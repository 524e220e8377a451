using Dls.Core.Storage;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Dls.Tests;

/// <summary>A hash of every row of every table: equal digests mean the store's content did not change.</summary>
public static class StoreDigest
{
    /// <remarks>
    /// On PostgreSQL, <c>store_lock</c> is left out: it is the writers' lock, whose counter moves with every committed
    /// write transaction, changed or not (SQLite's lock is not in a table either).
    /// </remarks>
    public static string Of(string path)
    {
        using DbConnection connection = Dls.Core.Storage.Postgres.PostgresUri.IsUri(path)
            ? new Npgsql.NpgsqlConnection(Dls.Core.Storage.Postgres.PostgresUri.ConnectionString(path, TimeSpan.FromSeconds(30)))
            : new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        var text = new StringBuilder();
        var tables = new List<string>();
        using (var list = connection.CreateCommand())
        {
            list.CommandText = connection is SqliteConnection
                ? "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name;"
                : "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_name <> 'store_lock' ORDER BY 1;";
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }

        foreach (var table in tables)
        {
            text.Append("## ").AppendLine(table).AppendLine(Rows(connection, table));
        }

        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>
    /// Every row of <paramref name="table"/> as text, sorted: some tables have no rowid (WITHOUT ROWID), and what
    /// matters is content, not order.
    /// </summary>
    public static string Rows(DbConnection connection, string table)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT * FROM \"{table}\";";
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            var row = new StringBuilder();
            for (var i = 0; i < reader.FieldCount; i++)
            {
                var value = reader.GetValue(i);
                row.Append(value is byte[] bytes ? Convert.ToHexString(bytes) : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)).Append('|');
            }

            rows.Add(row.ToString());
        }

        rows.Sort(StringComparer.Ordinal);
        return string.Join('\n', rows);
    }
}
