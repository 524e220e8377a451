namespace Dls.Core.Storage.Sql;

/// <summary>The SQLite engine's aggregate stores: stateless, shared by every SQLite store file.</summary>
internal static class SqlStores
{
    public static AggregateStores All { get; } = new(new SqlDeviceStore(), new SqlServerStore(), new SqlUsageStore(), new SqlAlertStore(), new SqlCodeStore(), new SqlLicenseStore());
}
