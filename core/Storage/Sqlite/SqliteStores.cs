namespace Dls.Core.Storage.Sqlite;

/// <summary>The SQLite engine's aggregate stores: stateless, shared by every SQLite store file.</summary>
internal static class SqliteStores
{
    public static AggregateStores All { get; } = new(new SqliteDeviceStore(), new SqliteServerStore(), new SqliteUsageStore(), new SqliteAlertStore(), new SqliteCodeStore(), new SqliteLicenseStore());
}
