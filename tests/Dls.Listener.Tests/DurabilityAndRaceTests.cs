using Dls.Core.Storage;
using System.Data.Common;
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
        var store = ScanItem(host);
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

    [UnixFact("kill -9 (SIGKILL) is a Unix signal")]
    public async Task A_kill_9_under_load_loses_no_acknowledged_record_and_grants_no_seat_beyond_the_quota()
    {
        await using var host = await ListenerHost.StartAsync();
        var store = ScanItem(host);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, "D", LicenseMode.PerDeviceYearly, 20, today.AddYears(-1), today.AddYears(1)); // 22 with the tolerance
        TestCatalog.AddCode(store, "216998-dev", ["D"]);
        for (var i = 0; i < 16; i++)
        {
            await AuthorizeAsync(host.Http, $"reporter-{i}");
        }

        // Reports from 16 devices and new devices racing for the last seats, until the listener is killed mid-stream.
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<(string Client, long Count)>();
        var seated = new System.Collections.Concurrent.ConcurrentBag<string>();
        var load = Enumerable.Range(0, 24).Select(worker => Task.Run(async () =>
        {
            for (var n = 0; ; n++)
            {
                try
                {
                    if (worker < 16)
                    {
                        var client = $"reporter-{worker}";
                        var (status, _) = await PostAsync(host.Http, "api/v1/reports", Report(client, $"b-{n}", "216998-app", ("S", 3), ("S", 4)));
                        if (status == HttpStatusCode.OK)
                        {
                            acknowledged.Add((client, 7));
                        }
                    }
                    else
                    {
                        var client = $"racer-{worker}-{n}";
                        var (status, _) = await PostAsync(host.Http, "api/v1/auth", AuthBody(client, ("handshakeCode", "216998-dev")));
                        if (status == HttpStatusCode.OK)
                        {
                            seated.Add(client);
                        }
                    }
                }
                catch (Exception error) when (error is HttpRequestException or TaskCanceledException or IOException)
                {
                    return;
                }
            }
        })).ToList();

        await Eventually.Until(() => acknowledged.Count >= 200 && seated.Count >= 22, TimeSpan.FromSeconds(60));
        await host.KillHardAsync();
        await Task.WhenAll(load);

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var reopened = Dls.Core.Storage.DlsStore.Open(host.StorePath);
        using var connection = reopened.OpenConnection();
        Assert.Equal("ok", Scalar<string>(connection, "PRAGMA integrity_check;"));

        // Every acknowledged batch is kept, per client (a batch committed as the kill came may be kept unacknowledged).
        var kept = Dls.Core.Usage.RawUsage.Batches(reopened).GroupBy(b => b.ClientUuid).ToDictionary(g => g.Key, g => g.Sum(b => b.Records.Sum(r => r.Count)));
        foreach (var client in acknowledged.GroupBy(a => a.Client))
        {
            Assert.True(kept.GetValueOrDefault(client.Key) >= client.Sum(a => a.Count), $"{client.Key}: {kept.GetValueOrDefault(client.Key)} kept, {client.Sum(a => a.Count)} acknowledged");
        }

        Assert.Equal(kept.Values.Sum(), Scalar<long>(connection, "SELECT counted FROM item_counter WHERE item_id = 'S';"));

        // Exactly quantity + tolerance seats, each held by a device that was answered 200 or was being answered.
        var seats = Scalar<long>(connection, "SELECT count(*) FROM seat WHERE item_id = 'D';");
        Assert.Equal(22L, seats);
        Assert.True(seated.Count <= 22);

        // A listener started on the store rolls up what the killed one had not: the roll-ups equal the raw records.
        await host.RestartAsync();
        var rows = new Dls.Core.Usage.UsageQuery(reopened, TimeProvider.System).Get(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1),
            Dls.Core.Usage.UsageInterval.Total, Dls.Core.Usage.UsageGrouping.Code, null, null);
        Assert.Equal(kept.Values.Sum(), Assert.Single(rows, r => r.HandshakeCode == "216998-app").UsageCount);

        static T Scalar<T>(DbConnection connection, string sql)
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            return (T)command.ExecuteScalar()!;
        }
    }

    [Fact]
    public async Task A_listener_rolls_up_what_a_killed_one_left_before_it_serves()
    {
        await using var host = await ListenerHost.StartAsync();
        var store = ScanItem(host);
        Assert.Equal(0, await host.TerminateAsync());

        // What a listener killed while its roll-ups waited leaves: grants, counters and raw rows committed, roll-ups not.
        var waiting = new Dls.Core.Usage.StatisticsBuffer();
        var killed = new Dls.Core.Protocol.LicenseAuthority(new Dls.Core.Crypto.SessionPasswordCache(), waiting);
        var now = DateTimeOffset.UtcNow;
        var slice = Dls.Core.Usage.TimeSlice.StartOf(now);
        for (var i = 0; i < 5; i++)
        {
            var auth = new Dls.Core.Protocol.AuthRequest("216998-app", null, null, $"device-{i}", "DBR", "10.4", Deployment.Desktop, null, null, null, "scanner", null, 1, "Linux", null, $"r-{i}");
            Assert.NotNull(store.Write(work => killed.Authorize(work, auth, now)).Grant);
            var report = new Dls.Core.Protocol.ReportRequest($"device-{i}", "216998-app", "b-1", [new Dls.Core.Protocol.UsageRecord(slice, "S", "DBR", 10 + i, null, null)]);
            Assert.Equal(1, store.Write(work => killed.Report(work, report, now)).Answer!.Accepted);
        }

        Assert.Equal(10, waiting.Waiting);
        Assert.Empty(Usage());

        await host.RestartAsync();
        var code = Assert.Single(Usage());
        Assert.Equal((60L, (long?)5, (long?)5), (code.UsageCount, code.Devices, code.Authorizations));

        IReadOnlyList<Dls.Core.Usage.UsageRow> Usage() => new Dls.Core.Usage.UsageQuery(store, TimeProvider.System)
            .Get(now.AddDays(-1), now.AddDays(1), Dls.Core.Usage.UsageInterval.Total, Dls.Core.Usage.UsageGrouping.Code, null, null)
            .Where(r => r.HandshakeCode == "216998-app").ToList();
    }

    /// <summary>The listener's store with a per-scan item S (quantity far above what a test sends) in the default code 216998-app.</summary>
    private static Dls.Core.Storage.DlsStore ScanItem(ListenerHost host)
    {
        var store = host.OpenStore();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, "S", LicenseMode.PerScan, 1_000_000_000, today.AddYears(-1), today.AddYears(1));
        TestCatalog.AddCode(store, "216998-app", ["S"], isDefault: true);
        return store;
    }
}
