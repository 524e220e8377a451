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
    public IReadOnlyList<ItemReading> Items(DateTimeOffset now) => store.Query(work =>
    {
        var codesOfItem = work.Stores.Codes.CodesOfItems(work);
        return LicenseCatalog.AllItems(work)
            .Select(item => new ItemReading(
                item,
                LicenseCatalog.IsRevoked(work, item),
                QuotaMeter.Measure(work, item, now),
                codesOfItem.TryGetValue(item.ItemId, out var codes) ? codes : []))
            .ToList();
    });

    public IReadOnlyList<CodeAuthorizations> Authorizations(DateTimeOffset since, DateTimeOffset now) => store.Query(work =>
    {
        var counts = LicenseCatalog.AllCodes(work).ToDictionary(c => c.Code, c => new CodeAuthorizations(c.Code, 0, 0), StringComparer.Ordinal);
        foreach (var (code, total, failed) in work.Stores.Usage.AuthorizationsByCode(work, since, now))
        {
            counts[code] = new CodeAuthorizations(code, total, failed);
        }

        return counts.Values.OrderBy(c => c.HandshakeCode, StringComparer.Ordinal).ToList();
    });
}
