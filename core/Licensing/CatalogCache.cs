using Dls.Core.Storage;

namespace Dls.Core.Licensing;

/// <summary>
/// The listener writer's copy of the catalog it reads on every request (codes, the items of a code, items,
/// revocations, handshakeUpdateTime), kept until the store changes under it. <see cref="Sync"/> at the start of
/// each request asks the unit of work's <see cref="UnitOfWork.ChangeStamp"/>, which moves whenever another connection
/// (a cmdlet, in any process) commits; then everything is read again on demand. Valid only on a unit of work that
/// does not change the catalog itself (the writer's: its own commits do not move the stamp); a different unit
/// starts afresh. One thread at a time, as a connection is.
/// </summary>
public sealed class CatalogCache
{
    private readonly Dictionary<string, HandshakeCode?> _codes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HandshakeCode?> _defaultCodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyList<LicenseItem>> _itemsOfCode = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LicenseItem?> _items = new(StringComparer.Ordinal);
    private readonly Dictionary<string, bool> _revoked = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _updateTimes = new(StringComparer.Ordinal);
    private Server.ProtectionSettings? _protection;
    private WeakReference<UnitOfWork>? _unit;
    private long _version = -1;
    private UnitOfWork _current = null!;

    /// <summary>Binds the cache to this unit of work, and forgets everything if it is another one or the store changed.</summary>
    public void Sync(UnitOfWork work)
    {
        var version = work.ChangeStamp();
        if (_unit is null || !_unit.TryGetTarget(out var known) || !ReferenceEquals(known, work) || version != _version)
        {
            _codes.Clear();
            _defaultCodes.Clear();
            _itemsOfCode.Clear();
            _items.Clear();
            _revoked.Clear();
            _updateTimes.Clear();
            _protection = null;
            _unit = new WeakReference<UnitOfWork>(work);
            _version = version;
        }

        _current = work;
    }

    public HandshakeCode? FindCode(string code) =>
        Remember(_codes, code, c => LicenseCatalog.FindCode(_current, c));

    public HandshakeCode? FindDefaultCode(string organizationId) =>
        Remember(_defaultCodes, organizationId, o => LicenseCatalog.FindDefaultCode(_current, o));

    public IReadOnlyList<LicenseItem> ItemsOfCode(string code) =>
        Remember(_itemsOfCode, code, c => LicenseCatalog.ItemsOfCode(_current, c));

    public LicenseItem? FindItem(string itemId) =>
        Remember(_items, itemId, i => LicenseCatalog.FindItem(_current, i));

    public bool IsRevoked(LicenseItem item) =>
        Remember(_revoked, item.ItemId, _ => LicenseCatalog.IsRevoked(_current, item));

    public DateTimeOffset HandshakeUpdateTime(string code) =>
        Remember(_updateTimes, code, c => LicenseCatalog.HandshakeUpdateTime(_current, c));

    /// <summary>The listener's protection settings (Set-DlsServer -MaxCountPerSlice, ...), read again after any change to the store.</summary>
    public Server.ProtectionSettings Protection() => _protection ??= Server.ProtectionSettings.Read(_current);

    private static T Remember<T>(Dictionary<string, T> known, string key, Func<string, T> read)
    {
        if (!known.TryGetValue(key, out var value))
        {
            value = read(key);
            known[key] = value;
        }

        return value;
    }
}
