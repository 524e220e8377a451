namespace Dls.Core.Storage.Sql;

/// <summary>The aggregate stores of both engines: stateless, shared by every store (the unit of work brings the engine).</summary>
internal static class SqlStores
{
    public static AggregateStores All { get; } = new(new SqlDeviceStore(), new SqlServerStore(), new SqlUsageStore(), new SqlAlertStore(), new SqlCodeStore(), new SqlLicenseStore());
}
