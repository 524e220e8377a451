namespace Dls.Core.Storage.Sql;

/// <summary>The devices aggregate on both engines (tables seat, item_counter, concurrent_slot, concurrent_slice, client_grant, client_fingerprint).</summary>
internal sealed class SqlDeviceStore : IDeviceStore
{
    public bool HoldsActiveSeat(UnitOfWork work, string itemId, string seatKey, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT EXISTS (SELECT 1 FROM seat WHERE item_id = $item AND seat_key = $key AND active_until > $now);");
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$key", seatKey);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        return Convert.ToInt64(command.ExecuteScalar()) == 1;
    }

    public long ActiveSeats(UnitOfWork work, string itemId, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT count(*) FROM seat WHERE item_id = $item AND active_until > $now;");
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        return Convert.ToInt64(command.ExecuteScalar());
    }

    public (long Active, DateTimeOffset? NextLapse) ActiveSeatsAndNextLapse(UnitOfWork work, string itemId, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT count(*), min(active_until) FROM seat WHERE item_id = $item AND active_until > $now;");
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.IsDBNull(1) ? null : Timestamps.Parse(reader.GetString(1)));
    }

    public void TakeSeat(UnitOfWork work, string itemId, string seatKey, string kind, string clientUuid, DateTimeOffset now, DateTimeOffset until)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO seat (item_id, seat_key, kind, client_uuid, first_seen, last_seen, active_until)
            VALUES ($item, $key, $kind, $client, $now, $now, $until)
            ON CONFLICT (item_id, seat_key) DO UPDATE SET client_uuid = excluded.client_uuid,
                last_seen = excluded.last_seen, active_until = excluded.active_until;
            """);
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$key", seatKey);
        command.Parameters.AddWithValue("$kind", kind);
        command.Parameters.AddWithValue("$client", clientUuid);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.Parameters.AddWithValue("$until", Timestamps.Format(until));
        command.ExecuteNonQuery();
    }

    public void RefreshSeat(UnitOfWork work, string itemId, string seatKey, string clientUuid, DateTimeOffset now, DateTimeOffset until)
    {
        var command = SqlUnitOfWork.Of(work).Command(
            "UPDATE seat SET last_seen = $now, active_until = $until, client_uuid = $client WHERE item_id = $item AND seat_key = $key;");
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$key", seatKey);
        command.Parameters.AddWithValue("$client", clientUuid);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.Parameters.AddWithValue("$until", Timestamps.Format(until));
        command.ExecuteNonQuery();
    }

    public void RefreshActiveSeat(UnitOfWork work, string itemId, string seatKey, DateTimeOffset now, DateTimeOffset until)
    {
        var command = SqlUnitOfWork.Of(work).Command(
            "UPDATE seat SET last_seen = $now, active_until = $until WHERE item_id = $item AND seat_key = $key AND active_until > $now AND last_seen < $now;");
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$key", seatKey);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.Parameters.AddWithValue("$until", Timestamps.Format(until));
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<StoredSeat> Seats(UnitOfWork work, string itemId, string? clientUuid)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            SELECT seat_key, kind, client_uuid, first_seen, last_seen, active_until FROM seat
            WHERE item_id = $item AND ($client IS NULL OR client_uuid = $client OR seat_key = $client)
            ORDER BY last_seen DESC;
            """);
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$client", (object?)clientUuid ?? DBNull.Value);
        using var reader = command.ExecuteReader();
        var seats = new List<StoredSeat>();
        while (reader.Read())
        {
            seats.Add(new StoredSeat(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), Timestamps.Parse(reader.GetString(3)), Timestamps.Parse(reader.GetString(4)),
                Timestamps.Parse(reader.GetString(5))));
        }

        return seats;
    }

    public void RemoveSeats(UnitOfWork work, string clientUuid, string? itemId)
    {
        var command = SqlUnitOfWork.Of(work).Command("DELETE FROM seat WHERE (client_uuid = $client OR seat_key = $client) AND ($item IS NULL OR item_id = $item);");
        command.Parameters.AddWithValue("$client", clientUuid);
        command.Parameters.AddWithValue("$item", (object?)itemId ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<StoredGrantee> Grantees(UnitOfWork work, string itemId, string? clientUuid, string? handshakeCode)
    {
        // Only the filters given, so that the planner seeks the device in the index when one is asked for.
        var command = SqlUnitOfWork.Of(work).Command($"""
            SELECT client_uuid, min(first_granted), max(cache_until), {SqlUnitOfWork.Of(work).Dialect.JoinLines("handshake_code")} FROM client_grant
            WHERE item_id = $item{(clientUuid is null ? string.Empty : " AND client_uuid = $client")}{(handshakeCode is null ? string.Empty : " AND handshake_code = $code")}
            GROUP BY client_uuid;
            """);
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$client", (object?)clientUuid ?? DBNull.Value);
        command.Parameters.AddWithValue("$code", (object?)handshakeCode ?? DBNull.Value);
        using var reader = command.ExecuteReader();
        var grantees = new List<StoredGrantee>();
        while (reader.Read())
        {
            grantees.Add(new StoredGrantee(reader.GetString(0), Timestamps.Parse(reader.GetString(1)), Timestamps.Parse(reader.GetString(2)), reader.GetString(3).Split('\n')));
        }

        return grantees;
    }

    public IReadOnlyDictionary<string, DateTimeOffset> NewestSlots(UnitOfWork work, string itemId, DateTimeOffset since)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT client_uuid, max(slice) FROM concurrent_slot WHERE item_id = $item AND slice >= $since GROUP BY client_uuid;");
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$since", Timestamps.Format(since));
        using var reader = command.ExecuteReader();
        var newest = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        while (reader.Read())
        {
            newest[reader.GetString(0)] = Timestamps.Parse(reader.GetString(1));
        }

        return newest;
    }

    public (long Counted, long Overage) Counter(UnitOfWork work, string itemId)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT counted, overage FROM item_counter WHERE item_id = $item;");
        command.Parameters.AddWithValue("$item", itemId);
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }

    public void AddCounted(UnitOfWork work, string itemId, long count)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO item_counter (item_id, counted, overage) VALUES ($item, $count, 0)
            ON CONFLICT (item_id) DO UPDATE SET counted = item_counter.counted + excluded.counted;
            """);
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$count", count);
        command.ExecuteNonQuery();
    }

    public void AddOverage(UnitOfWork work, string itemId)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO item_counter (item_id, counted, overage) VALUES ($item, 0, 1)
            ON CONFLICT (item_id) DO UPDATE SET overage = item_counter.overage + 1;
            """);
        command.Parameters.AddWithValue("$item", itemId);
        command.ExecuteNonQuery();
    }

    public bool AddConcurrentSlot(UnitOfWork work, string itemId, DateTimeOffset slice, string slotKey, string clientUuid)
    {
        var command = SqlUnitOfWork.Of(work).Command(
            "INSERT INTO concurrent_slot (item_id, slice, seat_key, client_uuid) VALUES ($item, $slice, $key, $client) ON CONFLICT DO NOTHING;");
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$slice", Timestamps.Format(slice));
        command.Parameters.AddWithValue("$key", slotKey);
        command.Parameters.AddWithValue("$client", clientUuid);
        return command.ExecuteNonQuery() > 0;
    }

    public long AddActiveInSlice(UnitOfWork work, string itemId, DateTimeOffset slice)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO concurrent_slice (item_id, slice, active) VALUES ($item, $slice, 1)
            ON CONFLICT (item_id, slice) DO UPDATE SET active = concurrent_slice.active + 1
            RETURNING active;
            """);
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$slice", Timestamps.Format(slice));
        return Convert.ToInt64(command.ExecuteScalar());
    }

    public long ActiveInSlice(UnitOfWork work, string itemId, DateTimeOffset slice)
    {
        var command = SqlUnitOfWork.Of(work).Command(
            "SELECT coalesce((SELECT active FROM concurrent_slice WHERE item_id = $item AND slice = $slice), 0);");
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$slice", Timestamps.Format(slice));
        return Convert.ToInt64(command.ExecuteScalar());
    }

    public long ActiveOfOthers(UnitOfWork work, string itemId, DateTimeOffset slice, DateTimeOffset previousSlice, string clientUuid)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            SELECT count(DISTINCT seat_key) FROM concurrent_slot
            WHERE item_id = $item AND slice IN ($current, $previous) AND client_uuid <> $client;
            """);
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$current", Timestamps.Format(slice));
        command.Parameters.AddWithValue("$previous", Timestamps.Format(previousSlice));
        command.Parameters.AddWithValue("$client", clientUuid);
        return Convert.ToInt64(command.ExecuteScalar());
    }

    public IReadOnlyList<StoredGrant> Grants(UnitOfWork work, DateTimeOffset since)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT client_uuid, handshake_code, item_id, cache_until FROM client_grant WHERE cache_until >= $since;");
        command.Parameters.AddWithValue("$since", Timestamps.Format(since));
        var grants = new List<StoredGrant>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            grants.Add(new StoredGrant(reader.GetString(0), reader.GetString(1), reader.GetString(2), Timestamps.Parse(reader.GetString(3))));
        }

        return grants;
    }

    public DateTimeOffset? GrantHorizon(UnitOfWork work, string clientUuid, string code, string itemId)
    {
        var command = SqlUnitOfWork.Of(work).Command(
            "SELECT cache_until FROM client_grant WHERE client_uuid = $client AND handshake_code = $code AND item_id = $item;");
        command.Parameters.AddWithValue("$client", clientUuid);
        command.Parameters.AddWithValue("$code", code);
        command.Parameters.AddWithValue("$item", itemId);
        return command.ExecuteScalar() is string text ? Timestamps.Parse(text) : null;
    }

    public void RecordGrant(UnitOfWork work, string clientUuid, string code, string itemId, DateTimeOffset now, DateTimeOffset cacheUntil)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO client_grant (client_uuid, handshake_code, item_id, first_granted, cache_until) VALUES ($client, $code, $item, $now, $until)
            ON CONFLICT (client_uuid, handshake_code, item_id) DO UPDATE SET
                cache_until = CASE WHEN excluded.cache_until > client_grant.cache_until THEN excluded.cache_until ELSE client_grant.cache_until END;
            """);
        command.Parameters.AddWithValue("$client", clientUuid);
        command.Parameters.AddWithValue("$code", code);
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.Parameters.AddWithValue("$until", Timestamps.Format(cacheUntil));
        command.ExecuteNonQuery();
    }

    public string? FirstFingerprint(UnitOfWork work, string clientUuid, DateTimeOffset slice, string fingerprint)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO client_fingerprint (client_uuid, slice, fingerprint) VALUES ($client, $slice, $fingerprint) ON CONFLICT DO NOTHING;
            SELECT fingerprint FROM client_fingerprint WHERE client_uuid = $client AND slice = $slice;
            """);
        command.Parameters.AddWithValue("$client", clientUuid);
        command.Parameters.AddWithValue("$slice", Timestamps.Format(slice));
        command.Parameters.AddWithValue("$fingerprint", fingerprint);
        return command.ExecuteScalar() as string;
    }

    public void Prune(UnitOfWork work, DateTimeOffset slice, DateTimeOffset before)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            DELETE FROM client_fingerprint WHERE slice < $slice;
            DELETE FROM concurrent_slot WHERE slice < $old;
            """);
        command.Parameters.AddWithValue("$slice", Timestamps.Format(slice));
        command.Parameters.AddWithValue("$old", Timestamps.Format(before));
        command.ExecuteNonQuery();
    }

    public long PurgeLapsedSeats(UnitOfWork work, DateTimeOffset cutoff, int limit) => Delete(work,
        "DELETE FROM seat WHERE (item_id, seat_key) IN (SELECT item_id, seat_key FROM seat WHERE active_until < $cutoff LIMIT $limit);", cutoff, limit);

    public long PurgeEndedGrants(UnitOfWork work, DateTimeOffset cutoff, int limit) => Delete(work, """
        DELETE FROM client_grant WHERE (client_uuid, handshake_code, item_id) IN (
            SELECT client_uuid, handshake_code, item_id FROM client_grant WHERE cache_until < $cutoff LIMIT $limit);
        """, cutoff, limit);

    public long PurgeConcurrentSlices(UnitOfWork work, DateTimeOffset before, int limit) => Delete(work,
        "DELETE FROM concurrent_slice WHERE (item_id, slice) IN (SELECT item_id, slice FROM concurrent_slice WHERE slice < $cutoff LIMIT $limit);", before, limit);

    /// <summary>Runs one purge statement over rows older than <paramref name="cutoff"/>, at most <paramref name="limit"/> of them.</summary>
    private static long Delete(UnitOfWork work, string sql, DateTimeOffset cutoff, int limit)
    {
        var command = SqlUnitOfWork.Of(work).Command(sql);
        command.Parameters.AddWithValue("$cutoff", Timestamps.Format(cutoff));
        command.Parameters.AddWithValue("$limit", limit);
        return command.ExecuteNonQuery();
    }
}
