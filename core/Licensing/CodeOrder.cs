namespace Dls.Core.Licensing;

/// <summary>
/// The consumption order of a handshake code's items (SPEC §2): by default nearest expiry first, so quota that
/// would lapse is used before quota that lasts.
/// </summary>
public static class CodeOrder
{
    /// <summary>Nearest expiry first; then earliest start; then item id (ordinal), so the order is total and stable.</summary>
    public static IReadOnlyList<LicenseItem> Default(IEnumerable<LicenseItem> items) =>
        items.OrderBy(i => i.ExpirationDate).ThenBy(i => i.StartDate).ThenBy(i => i.ItemId, StringComparer.Ordinal).ToList();

    /// <summary>
    /// Adds items to a code's ordered list without disturbing the order the administrator chose: each new item
    /// (taken in default order) goes just before the first item that expires later, else at the end. A list in
    /// default order stays in default order. Items already in the list are not moved or repeated.
    /// </summary>
    public static IReadOnlyList<LicenseItem> Merge(IReadOnlyList<LicenseItem> current, IEnumerable<LicenseItem> added)
    {
        var result = current.ToList();
        foreach (var item in Default(added.Where(a => !current.Any(c => c.ItemId == a.ItemId)).DistinctBy(a => a.ItemId)))
        {
            var index = result.FindIndex(existing => existing.ExpirationDate > item.ExpirationDate);
            result.Insert(index < 0 ? result.Count : index, item);
        }

        return result;
    }
}
