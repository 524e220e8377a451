using System.Globalization;
using Dls.Core.Accounting;
using Dls.Core.Audit;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage.Migrations;

/// <summary>
/// Per-domain seats were keyed by a written rule (31 multi-tenant suffixes, two- and three-label guesses); from this
/// version they are keyed by the Public Suffix List (<see cref="RegistrableDomain"/>). A customer is billed by the
/// number of seats, so the seats of an existing store are folded again once, when this version first opens it:
/// <list type="bullet">
/// <item>a key that folds to another registrable domain (<c>acme.force.com</c> → <c>force.com</c>) merges into it: one
/// seat per new domain, first seen at the earliest, last seen and active until the latest of those merged;</item>
/// <item>a key that is itself a public suffix under the list (<c>s3.amazonaws.com</c> and <c>tokyo.jp</c>, where the old
/// rule put several customers into one seat) is removed: which domains it stood for is not known, so each of them takes
/// its own seat at its next authorization, instead of that seat counting on for up to a year beside them.</item>
/// </list>
/// Each change is written to the audit log (<c>Device.Refold</c>).
/// </summary>
internal sealed class M0081_RefoldDomainSeats : Migration
{
    public override int Version => 81;

    public override string Description => "per-domain seats folded again by the Public Suffix List";

    public override void Apply(SqliteConnection connection, SqliteTransaction transaction)
    {
        var seats = new List<Seat>();
        using (var read = connection.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = "SELECT item_id, seat_key, client_uuid, first_seen, last_seen, active_until FROM seat WHERE kind = 'domain';";
            using var reader = read.ExecuteReader();
            while (reader.Read())
            {
                seats.Add(new Seat(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5)));
            }
        }

        var now = DateTimeOffset.UtcNow;
        foreach (var group in seats.GroupBy(s => (s.ItemId, Key: NewKey(s.Key))))
        {
            var changed = group.Where(s => s.Key != group.Key.Key).ToList();
            if (changed.Count == 0)
            {
                continue;
            }

            Delete(connection, transaction, changed);
            if (group.Key.Key is not { } key)
            {
                foreach (var seat in changed)
                {
                    AuditLog.Write(connection, transaction, now, "Device.Refold", $"{seat.ItemId}/{seat.Key}",
                        "removed: a public suffix under the Public Suffix List; its domains take their own seats at their next authorization");
                }

                continue;
            }

            // Timestamps are ISO-8601 UTC text of one format: they order as strings.
            var all = group.ToList();
            var latest = all.MaxBy(s => s.LastSeen, StringComparer.Ordinal)!;
            using var upsert = connection.CreateCommand();
            upsert.Transaction = transaction;
            upsert.CommandText = """
                INSERT INTO seat (item_id, seat_key, kind, client_uuid, first_seen, last_seen, active_until)
                VALUES ($item, $key, 'domain', $client, $first, $last, $until)
                ON CONFLICT (item_id, seat_key) DO UPDATE SET
                    client_uuid = excluded.client_uuid, first_seen = excluded.first_seen,
                    last_seen = excluded.last_seen, active_until = excluded.active_until;
                """;
            upsert.Parameters.AddWithValue("$item", group.Key.ItemId);
            upsert.Parameters.AddWithValue("$key", key);
            upsert.Parameters.AddWithValue("$client", latest.ClientUuid);
            upsert.Parameters.AddWithValue("$first", all.Select(s => s.FirstSeen).Min(StringComparer.Ordinal));
            upsert.Parameters.AddWithValue("$last", latest.LastSeen);
            upsert.Parameters.AddWithValue("$until", all.Select(s => s.ActiveUntil).Max(StringComparer.Ordinal));
            upsert.ExecuteNonQuery();
            AuditLog.Write(connection, transaction, now, "Device.Refold", $"{group.Key.ItemId}/{key}",
                string.Create(CultureInfo.InvariantCulture, $"merged: {string.Join(", ", changed.Select(s => s.Key))}"));
        }
    }

    /// <summary>The seat's key under the list: its registrable domain, or null when the key is itself a public suffix.</summary>
    private static string? NewKey(string key)
    {
        var folded = RegistrableDomain.Of(key);
        return folded is not null && folded.Contains('.', StringComparison.Ordinal) && !folded.StartsWith('[')
            && !System.Net.IPAddress.TryParse(folded, out _) && PublicSuffixList.Default.RegistrableDomainOf(folded) is null
            ? null
            : folded;
    }

    private static void Delete(SqliteConnection connection, SqliteTransaction transaction, IEnumerable<Seat> seats)
    {
        using var delete = connection.CreateCommand();
        delete.Transaction = transaction;
        delete.CommandText = "DELETE FROM seat WHERE item_id = $item AND seat_key = $key;";
        var item = delete.Parameters.Add("$item", SqliteType.Text);
        var key = delete.Parameters.Add("$key", SqliteType.Text);
        foreach (var seat in seats)
        {
            item.Value = seat.ItemId;
            key.Value = seat.Key;
            delete.ExecuteNonQuery();
        }
    }

    private sealed record Seat(string ItemId, string Key, string ClientUuid, string FirstSeen, string LastSeen, string ActiveUntil);
}
