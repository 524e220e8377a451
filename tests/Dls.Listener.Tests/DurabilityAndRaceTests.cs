using System.Net;
using Dls.Core.Licensing;
using Dls.Tests;
using static Dls.Listener.Tests.ProtocolFixture;

namespace Dls.Listener.Tests;

public sealed class DurabilityAndRaceTests
{
    [Fact]
    public async Task Devices_racing_for_the_last_seats_get_exactly_quantity_plus_tolerance()
    {
        await using var host = InProcessListener.Start();
        var store = host.OpenStore();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, "R", LicenseMode.PerDeviceYearly, 20, today.AddYears(-1), today.AddYears(1)); // tolerance 2
        TestCatalog.AddCode(store, "216998-app", ["R"], isDefault: true);

        var results = await Task.WhenAll(Enumerable.Range(0, 120).Select(i =>
            PostAsync(host.Http, "api/v1/auth", AuthBody($"racer-{i}"))));

        Assert.Equal(22, results.Count(r => r.Status == HttpStatusCode.OK));
        Assert.All(results.Where(r => r.Status != HttpStatusCode.OK), r =>
        {
            Assert.Equal(HttpStatusCode.Conflict, r.Status);
            Assert.Equal(120, r.Json.GetProperty("errorCode").GetInt32());
        });
        using var connection = store.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM seat WHERE item_id = 'R';";
        Assert.Equal(22L, Convert.ToInt64(command.ExecuteScalar()));
    }

    [UnixFact("kill -9 (SIGKILL) is a Unix signal")]
    public async Task Acknowledged_reports_survive_a_kill_9_of_the_listener()
    {
        await using var host = await ListenerHost.StartAsync();
        var store = host.OpenStore();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, "S", LicenseMode.PerScan, 1_000_000, today.AddYears(-1), today.AddYears(1));
        TestCatalog.AddCode(store, "216998-app", ["S"], isDefault: true);
        for (var i = 0; i < 40; i++)
        {
            await AuthorizeAsync(host.Http, $"device-{i}");
        }

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            PostAsync(host.Http, "api/v1/reports", Report($"device-{i}", "b1", "216998-app", Enumerable.Repeat(("S", 2L), 25).ToArray()))));
        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.Status));

        await host.KillHardAsync();

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var reopened = Dls.Core.Storage.DlsStore.Open(host.StorePath);
        var batches = Dls.Core.Usage.RawUsage.Batches(reopened);
        using var connection = reopened.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT counted FROM item_counter WHERE item_id = 'S';";
        var counted = (long)command.ExecuteScalar()!;
        Assert.Equal((1000, 2000L, 40, 2000L), (batches.Sum(b => b.Records.Count), batches.Sum(b => b.Records.Sum(r => r.Count)), batches.Count, counted));
        command.CommandText = "PRAGMA integrity_check;";
        Assert.Equal("ok", command.ExecuteScalar());

        // The roll-ups may have been waiting (they follow the raw rows by up to StatisticsBuffer.MaxDelay): a listener
        // started on the store rolls up what the killed one left, before it serves, and counts nothing twice.
        await host.RestartAsync();
        Assert.Equal((2000L, (long?)40, (long?)40), RolledUp());

        // Stopped cleanly and started again: nothing waits, nothing is rolled up twice.
        Assert.Equal(0, await host.TerminateAsync());
        await host.RestartAsync();
        Assert.Equal((2000L, (long?)40, (long?)40), RolledUp());

        (long Count, long? Devices, long? Authorizations) RolledUp()
        {
            var rows = new Dls.Core.Usage.UsageQuery(reopened, TimeProvider.System).Get(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1),
                Dls.Core.Usage.UsageInterval.Total, Dls.Core.Usage.UsageGrouping.Code, null, null);
            var code = Assert.Single(rows, r => r.HandshakeCode == "216998-app");
            return (code.UsageCount, code.Devices, code.Authorizations);
        }
    }
}
