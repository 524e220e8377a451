using Dls.Core.Accounting;
using Dls.Core.Licensing;
using Dls.Core.Storage;

namespace Dls.Core.Alerts;

/// <summary>An item as a check sees it: its use now and the codes that hand it out.</summary>
public sealed record ItemReading(LicenseItem Item, bool Revoked, QuotaMeasure Measure, IReadOnlyList<string> HandshakeCodes);

/// <summary>Authorizations attributed to one handshake code over the check's window (empty code: refused before a code was known).</summary>
public sealed record CodeAuthorizations(string HandshakeCode, long Total, long Failed);

/// <summary>
/// Where a check takes its values from. The default reads the store (<see cref="StoreAlertMeasurements"/>);
/// tests give exact values.
/// </summary>
public interface IAlertMeasurements
{
    IReadOnlyList<ItemReading> Items(DateTimeOffset now);

    /// <summary>Every known code (so a quiet one re-arms) and every code seen in [<paramref name="since"/>, <paramref name="now"/>].</summary>
    IReadOnlyList<CodeAuthorizations> Authorizations(DateTimeOffset since, DateTimeOffset now);
}

/// <summary>Measures with <see cref="QuotaMeter"/> and counts the raw authorization facts.</summary>
public sealed class StoreAlertMeasurements(DlsStore store) : IAlertMeasurements
{
    public IReadOnlyList<ItemReading> Items(DateTimeOffset now) => store.Read(connection =>
    {
        var codesOfItem = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT item_id, code FROM handshake_code_item ORDER BY code;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var itemId = reader.GetString(0);
                if (!codesOfItem.TryGetValue(itemId, out var codes))
                {
                    codesOfItem[itemId] = codes = [];
                }

                codes.Add(reader.GetString(1));
            }
        }

        return LicenseCatalog.AllItems(connection, null)
            .Select(item => new ItemReading(
                item,
                LicenseCatalog.IsRevoked(connection, null, item),
                QuotaMeter.Measure(connection, null, item, now),
                codesOfItem.TryGetValue(item.ItemId, out var codes) ? codes : []))
            .ToList();
    });

    public IReadOnlyList<CodeAuthorizations> Authorizations(DateTimeOffset since, DateTimeOffset now) => store.Read(connection =>
    {
        var counts = LicenseCatalog.AllCodes(connection, null).ToDictionary(c => c.Code, c => new CodeAuthorizations(c.Code, 0, 0), StringComparer.Ordinal);
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT handshake_code, count(*), coalesce(sum(error_code <> 0), 0)
            FROM auth_event WHERE time >= $since AND time <= $now GROUP BY handshake_code;
            """;
        command.Parameters.AddWithValue("$since", Timestamps.Format(since));
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var code = reader.GetString(0);
            counts[code] = new CodeAuthorizations(code, reader.GetInt64(1), reader.GetInt64(2));
        }

        return counts.Values.OrderBy(c => c.HandshakeCode, StringComparer.Ordinal).ToList();
    });
}
