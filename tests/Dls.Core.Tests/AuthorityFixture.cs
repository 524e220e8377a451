using Dls.Core.Crypto;
using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Storage;
using Dls.Core.Usage;
using Dls.Tests;

namespace Dls.Core.Tests;

/// <summary>A store with a server, the authority, and short ways to authorize and report at the fake clock's time.</summary>
public sealed class AuthorityFixture : IDisposable
{
    private readonly TempStore _temp = new();
    private int _batch;

    public AuthorityFixture()
    {
        Store = _temp.Initialized();
    }

    public DlsStore Store { get; }

    public Microsoft.Extensions.Time.Testing.FakeTimeProvider Clock => _temp.Clock;

    public DateTimeOffset Now => Clock.GetUtcNow();

    public DateOnly Today => DateOnly.FromDateTime(Now.UtcDateTime);

    public LicenseAuthority Authority { get; } = new(new SessionPasswordCache());

    /// <summary>An item valid from a year ago to a year ahead unless told otherwise, in code 216998-app.</summary>
    public void Item(string itemId, LicenseMode mode, long quantity, DateOnly? start = null, DateOnly? expiration = null, string product = "DBR",
        Deployment deployment = Deployment.Desktop, string edition = "", string? revokes = null, string version = "10")
    {
        TestCatalog.AddItem(Store, itemId, mode, quantity, start ?? Today.AddYears(-1), expiration ?? Today.AddYears(1),
            product: product, deployment: deployment, edition: edition, revokes: revokes, version: version);
    }

    public void Code(string code, params string[] items) => TestCatalog.AddCode(Store, code, items, isDefault: !HasDefault());

    public static AuthRequest Request(string client, string? code = "216998-app", Deployment deployment = Deployment.Desktop,
        string product = "DBR", string version = "10.4.2000", string? domain = null, string? os = "Linux", string? password = null,
        string? organization = null, string? processName = "scanner", string? appId = null, int instanceCount = 1, string? edition = null) =>
        new(code, organization, password, client, product, version, deployment, edition, domain, appId, processName, null, instanceCount, os, "10.4", Guid.NewGuid().ToString("N"));

    public AuthOutcome Auth(AuthRequest request) =>
        Store.Write(work => Authority.Authorize(work, request, Now));

    public AuthOutcome Auth(string client, string? domain = null, Deployment deployment = Deployment.Desktop, int instanceCount = 1) =>
        Auth(Request(client, domain: domain, deployment: deployment, instanceCount: instanceCount));

    public int? Error(string client, string? domain = null, Deployment deployment = Deployment.Desktop) =>
        Auth(client, domain, deployment).Error?.ErrorCode;

    public ReportOutcome Report(string client, string itemId, long count, DateTimeOffset? slice = null, string? batchId = null, string? instanceId = null, string product = "DBR") =>
        Report(new ReportRequest(client, "216998-app", batchId ?? $"b{Interlocked.Increment(ref _batch)}",
            [new UsageRecord(TimeSlice.StartOf(slice ?? Now), itemId, product, count, instanceId, null)]));

    public ReportOutcome Report(ReportRequest request) =>
        Store.Write(work => Authority.Report(work, request, Now));

    public Accounting.QuotaMeasure Measure(string itemId) => Store.Read(connection =>
        Accounting.QuotaMeter.Measure(connection, null, LicenseCatalog.FindItem(connection, null, itemId)!, Now));

    public void Dispose() => _temp.Dispose();

    private bool HasDefault() => Store.Read(connection => LicenseCatalog.FindDefaultCode(connection, null, "216998")) is not null;
}
