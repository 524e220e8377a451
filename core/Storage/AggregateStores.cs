namespace Dls.Core.Storage;

/// <summary>
/// The data access of one engine, one store per aggregate. Each holds all the SQL of its aggregate; their methods
/// take the <see cref="UnitOfWork"/> they run in. One set serves both engines (<c>Storage/Sql</c>).
/// </summary>
/// <param name="Devices">Seats, counters, concurrent slots, grants, client fingerprints and report batches.</param>
/// <param name="Server">The server identity, settings, listeners and audit trail.</param>
/// <param name="Usage">Statistics facts, roll-ups, per-device rows and the usage settings.</param>
/// <param name="Alerts">Alert settings, fired levels and the notification outbox.</param>
/// <param name="Codes">Handshake codes and the items each serves.</param>
/// <param name="Licenses">Licenses, their items and the trusted issuers.</param>
internal sealed record AggregateStores(IDeviceStore Devices, IServerStore Server, IUsageStore Usage, IAlertStore Alerts, ICodeStore Codes, ILicenseStore Licenses);
