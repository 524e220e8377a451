using Dls.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Licensing;

/// <summary>
/// The listener writer's copy of the catalog it reads on every request (codes, the items of a code, items,
/// revocations, handshakeUpdateTime), kept until the store changes under it. <see cref="Sync"/> at the start of
/// each request asks SQLite's <c>PRAGMA data_version</c>, which moves whenever another connection (a cmdlet, in
/// any process) commits; then everything is read again on demand. Valid only on a connection that does not change
/// the catalog itself (the writer's connection: its own commits do not move data_version); a different connection
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
    private WeakReference<SqliteConnection>? _connection;
    private long _version = -1;
    private SqliteConnection _current = null!;
    private SqliteTransaction? _transaction;

    /// <summary>Binds the cache to this connection and transaction, and forgets everything if the store changed.</summary>
    public void Sync(SqliteConnection connection, SqliteTransaction? transaction)
    {
        var version = (long)StatementCache.Get(connection, transaction, "PRAGMA data_version;").ExecuteScalar()!;
        if (_connection is null || !_connection.TryGetTarget(out var known) || !ReferenceEquals(known, connection) || version != _version)
        {
            _codes.Clear();
            _defaultCodes.Clear();
            _itemsOfCode.Clear();
            _items.Clear();
            _revoked.Clear();
            _updateTimes.Clear();
            _protection = null;
            _connection = new WeakReference<SqliteConnection>(connection);
            _version = version;
        }

        _current = connection;
        _transaction = transaction;
    }

    public HandshakeCode? FindCode(string code) =>
        Remember(_codes, code, c => LicenseCatalog.FindCode(_current, _transaction, c));

    public HandshakeCode? FindDefaultCode(string organizationId) =>
        Remember(_defaultCodes, organizationId, o => LicenseCatalog.FindDefaultCode(_current, _transaction, o));

    public IReadOnlyList<LicenseItem> ItemsOfCode(string code) =>
        Remember(_itemsOfCode, code, c => LicenseCatalog.ItemsOfCode(_current, _transaction, c));

    public LicenseItem? FindItem(string itemId) =>
        Remember(_items, itemId, i => LicenseCatalog.FindItem(_current, _transaction, i));

    public bool IsRevoked(LicenseItem item) =>
        Remember(_revoked, item.ItemId, _ => LicenseCatalog.IsRevoked(_current, _transaction, item));

    public DateTimeOffset HandshakeUpdateTime(string code) =>
        Remember(_updateTimes, code, c => LicenseCatalog.HandshakeUpdateTime(_current, _transaction, c));

    /// <summary>The listener's protection settings (Set-DlsServer -MaxCountPerSlice, ...), read again after any change to the store.</summary>
    public Server.ProtectionSettings Protection() => _protection ??= Server.ProtectionSettings.Read(_current, _transaction);

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
