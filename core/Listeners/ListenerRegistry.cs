using Dls.Core.Storage;

namespace Dls.Core.Listeners;

/// <summary>A listener process as it recorded itself in the store when it started.</summary>
public sealed record ListenerRecord(string Url, int ProcessId, DateTime? ProcessStartedAt, DateTime StartedAt, string Version);

/// <summary>
/// Listeners record themselves here when they start and remove themselves when they stop, so any
/// PowerShell session finds the listeners of a store (one per URL, SPEC §7).
/// </summary>
public sealed class ListenerRegistry(DlsStore store, TimeProvider time)
{
    public void Register(string url, int processId, DateTimeOffset? processStartedAt, string version) =>
        store.Write((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT OR REPLACE INTO listener (url, process_id, process_started_at, started_at, version)
                VALUES ($url, $pid, $processStartedAt, $now, $version);
                """;
            command.Parameters.AddWithValue("$url", url);
            command.Parameters.AddWithValue("$pid", processId);
            command.Parameters.AddWithValue("$processStartedAt", processStartedAt is null ? DBNull.Value : Timestamps.Format(processStartedAt.Value));
            command.Parameters.AddWithValue("$now", Timestamps.Format(time.GetUtcNow()));
            command.Parameters.AddWithValue("$version", version);
            command.ExecuteNonQuery();
        });

    /// <summary>Removes the record of <paramref name="url"/> if it still names <paramref name="processId"/>.</summary>
    public void Unregister(string url, int processId) =>
        store.Write((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM listener WHERE url = $url AND process_id = $pid;";
            command.Parameters.AddWithValue("$url", url);
            command.Parameters.AddWithValue("$pid", processId);
            command.ExecuteNonQuery();
        });

    public IReadOnlyList<ListenerRecord> List() =>
        store.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT url, process_id, process_started_at, started_at, version FROM listener ORDER BY url;";
            using var reader = command.ExecuteReader();
            var records = new List<ListenerRecord>();
            while (reader.Read())
            {
                records.Add(new ListenerRecord(
                    reader.GetString(0),
                    reader.GetInt32(1),
                    reader.IsDBNull(2) ? null : Timestamps.Parse(reader.GetString(2)).UtcDateTime,
                    Timestamps.Parse(reader.GetString(3)).UtcDateTime,
                    reader.GetString(4)));
            }

            return records;
        });

    /// <summary>Listener URLs are compared in one normal form: scheme://host:port/ in lower case.</summary>
    public static string NormalizeUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new Errors.DlsException(
                Errors.ErrorIds.ListenerUrlInvalid,
                Errors.DlsErrorKind.InvalidArgument,
                $"'{url}' is not an http:// or https:// URL such as http://127.0.0.1:48080/.",
                url);
        }

        return $"{uri.Scheme}://{uri.Host.ToLowerInvariant()}:{uri.Port}/";
    }
}
