using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Dls.Core.Licensing;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Core.Usage;
using Dls.Tests;
using static Dls.Listener.Tests.ProtocolFixture;

namespace Dls.Listener.Tests;

/// <summary>
/// Main and standby listeners on one store (SPEC §7), as real processes: a standby answers 100 while the main runs, takes
/// over within seconds of a kill -9 of the main, and stands by again when a main returns; what either acknowledged is in
/// the store, counted once.
/// </summary>
public sealed class MainAndStandbyTests
{
    /// <summary>The most a client may wait, after the main dies, for the standby to serve (issue 12).</summary>
    private static readonly TimeSpan TakeOverWithin = TimeSpan.FromSeconds(15);

    [UnixFact("kill -9 (SIGKILL) is a Unix signal")]
    public Task A_standby_answers_100_while_the_main_runs_serves_after_a_kill_9_and_stands_by_when_a_main_returns() =>
        StandbyTakesOverAndStandsBy(StoreEngine.Sqlite);

    [PostgresFact]
    public Task On_PostgreSQL_a_standby_answers_100_while_the_main_runs_serves_after_a_kill_9_and_stands_by_when_a_main_returns() =>
        StandbyTakesOverAndStandsBy(StoreEngine.PostgreSql);

    private static async Task StandbyTakesOverAndStandsBy(StoreEngine engine)
    {
        await using var shared = SharedStore.Create(engine: engine);
        ScanItem(shared.Open());
        await using var main = await shared.StartListenerAsync("Main");
        await using var standby = await shared.StartListenerAsync("Standby");

        Assert.Equal(("Main", true), await HealthAsync(main));
        Assert.Equal(("Standby", false), await HealthAsync(standby));

        long acknowledged = 0;
        for (var i = 0; i < 8; i++)
        {
            await AuthorizeAsync(main.Http, $"device-{i}");
            acknowledged += await ReportAsync(main, $"device-{i}", "from-main", 3);
        }

        // The standby refuses both calls with 100 (HTTP 503) and writes nothing, while the main runs.
        var before = shared.ContentDigest();
        AssertStandby(await PostAsync(standby.Http, "api/v1/auth", AuthBody("device-new")));
        AssertStandby(await PostAsync(standby.Http, "api/v1/auth", AuthBody("device-0")));
        AssertStandby(await PostAsync(standby.Http, "api/v1/reports", Report("device-0", "to-standby", "216998-app", ("S", 5))));
        Assert.Equal(before, shared.ContentDigest());

        // The main dies without a word; the standby serves within seconds, devices the main authorized included.
        await main.KillHardAsync();
        var clock = Stopwatch.StartNew();
        Assert.True(
            await Eventually.Until(async () => (await PostAsync(standby.Http, "api/v1/auth", AuthBody("device-0"))).Status == HttpStatusCode.OK, TakeOverWithin),
            $"The standby did not serve within {TakeOverWithin} of the main's kill: {standby.Output}");
        Assert.True(clock.Elapsed < TakeOverWithin, $"took over after {clock.Elapsed}");
        Assert.Equal(("Standby", true), await HealthAsync(standby));
        for (var i = 0; i < 8; i++)
        {
            acknowledged += await ReportAsync(standby, $"device-{i}", "from-standby", 4);
        }

        await AuthorizeAsync(standby.Http, "device-standby");
        acknowledged += await ReportAsync(standby, "device-standby", "from-standby", 7);

        // A main starts again: the standby stands by again, and the main serves what the standby granted.
        await using var returned = await shared.StartListenerAsync("Main");
        Assert.True(
            await Eventually.Until(async () => (await PostAsync(standby.Http, "api/v1/auth", AuthBody("device-1"))).Status == HttpStatusCode.ServiceUnavailable, TakeOverWithin),
            $"The standby still serves beside the returned main: {standby.Output}");
        AssertStandby(await PostAsync(standby.Http, "api/v1/reports", Report("device-1", "to-standby-again", "216998-app", ("S", 5))));
        Assert.Equal(("Standby", false), await HealthAsync(standby));
        acknowledged += await ReportAsync(returned, "device-standby", "from-returned-main", 11);

        // Stopped cleanly, nothing waits: every acknowledged record is kept, counted against the item and rolled up once.
        Assert.Equal(0, await returned.TerminateAsync());
        Assert.Equal(0, await standby.TerminateAsync());
        Assert.Equal((acknowledged, acknowledged, acknowledged), Counted(shared.Open()));
        Assert.Equal(8 * 3 + 8 * 4 + 7 + 11, acknowledged);
    }

    [UnixFact("SIGSTOP and SIGCONT are Unix signals")]
    public async Task A_standby_takes_over_from_a_hung_main_once_its_heartbeat_is_five_seconds_old_and_stands_by_when_it_resumes()
    {
        await using var shared = SharedStore.Create();
        ScanItem(shared.Open());
        await using var main = await shared.StartListenerAsync("Main");
        await using var standby = await shared.StartListenerAsync("Standby");
        await AuthorizeAsync(main.Http, "device-0");
        var acknowledged = await ReportAsync(main, "device-0", "from-main", 3);

        // A main that hangs is still a process of this machine: only its heartbeat ageing tells the standby it is gone.
        main.Suspend();
        var clock = Stopwatch.StartNew();
        try
        {
            Assert.True(
                await Eventually.Until(async () => (await PostAsync(standby.Http, "api/v1/auth", AuthBody("device-0"))).Status == HttpStatusCode.OK, TakeOverWithin),
                $"The standby did not serve within {TakeOverWithin} of the main's hang: {standby.Output}");
            Assert.True(clock.Elapsed >= Dls.Core.Listeners.ListenerLiveness.AliveWithin - Dls.Core.Listeners.ListenerLiveness.HeartbeatInterval,
                $"took over after {clock.Elapsed}, before the main's heartbeat could be {Dls.Core.Listeners.ListenerLiveness.AliveWithin} old");
            acknowledged += await ReportAsync(standby, "device-0", "from-standby", 4);
        }
        finally
        {
            main.Resume();
        }

        // The main beats again: the standby stands by; the main serves as it did.
        Assert.True(
            await Eventually.Until(async () => (await PostAsync(standby.Http, "api/v1/auth", AuthBody("device-0"))).Status == HttpStatusCode.ServiceUnavailable, TakeOverWithin),
            $"The standby still serves beside the resumed main: {standby.Output}");
        acknowledged += await ReportAsync(main, "device-0", "from-resumed-main", 5);

        Assert.Equal(0, await main.TerminateAsync());
        Assert.Equal(0, await standby.TerminateAsync());
        Assert.Equal((12L, 12L, 12L), Counted(shared.Open()));
        Assert.Equal(12, acknowledged);
    }

    [UnixFact("kill -9 (SIGKILL) is a Unix signal")]
    public Task Reports_under_load_through_a_standby_start_and_a_kill_9_of_the_main_are_all_kept_and_rolled_up_once() =>
        ReportsUnderLoadThroughAFailover(StoreEngine.Sqlite);

    [PostgresFact]
    public Task On_PostgreSQL_reports_under_load_through_a_standby_start_and_a_kill_9_of_the_main_are_all_kept_and_rolled_up_once() =>
        ReportsUnderLoadThroughAFailover(StoreEngine.PostgreSql);

    private static async Task ReportsUnderLoadThroughAFailover(StoreEngine engine)
    {
        await using var shared = SharedStore.Create(engine: engine);
        ScanItem(shared.Open());
        await using var main = await shared.StartListenerAsync("Main");
        for (var i = 0; i < 12; i++)
        {
            await AuthorizeAsync(main.Http, $"reporter-{i}");
        }

        // Twelve devices report as fast as they are answered, to whichever listener serves. The main, alone on the
        // store, keeps its roll-ups waiting (up to a second) under this load (a report of 25 slices is 25 facts, more
        // than StatisticsBuffer.SmallFlush in a batch of two); the standby's start rolls up what waits, and the main must not count it again. Then the main is
        // killed under load (batches in flight), and the standby takes over.
        const int Slices = 25;
        const long PerReport = Slices * 2;
        var acknowledged = new ConcurrentDictionary<string, long>();
        var listeners = new[] { main, (ListenerHost?)null };
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 12).Select(worker => Task.Run(async () =>
        {
            var client = $"reporter-{worker}";
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var answered = false;
                foreach (var host in listeners.ToArray())
                {
                    if (answered || host is null || host.Process.HasExited)
                    {
                        continue;
                    }

                    try
                    {
                        var (status, json) = await PostAsync(host.Http, "api/v1/reports", SpreadReport(client, $"b-{n}", Slices, 2));
                        if (status == HttpStatusCode.OK)
                        {
                            // New, or a duplicate of the same batch that a listener kept without being able to answer (a kill).
                            Assert.Equal(Slices, json.GetProperty("accepted").GetInt32() + json.GetProperty("duplicates").GetInt32());
                            acknowledged.AddOrUpdate(client, PerReport, (_, sum) => sum + PerReport);
                            answered = true;
                        }
                    }
                    catch (Exception error) when (error is HttpRequestException or TaskCanceledException or IOException)
                    {
                    }
                }

                if (!answered)
                {
                    // Between the kill and the take-over nobody serves: the device waits a moment, as a real client would.
                    await Task.Delay(50);
                }
            }
        })).ToList();

        await Eventually.Until(() => acknowledged.Values.Sum() >= 20_000, TimeSpan.FromSeconds(60));
        await using var standby = await shared.StartListenerAsync("Standby");
        listeners[1] = standby;
        var beforeKill = acknowledged.Values.Sum();
        await Eventually.Until(() => acknowledged.Values.Sum() >= beforeKill + 20_000, TimeSpan.FromSeconds(60));
        await main.KillHardAsync();
        var killedAt = acknowledged.Values.Sum();
        Assert.True(
            await Eventually.Until(() => acknowledged.Values.Sum() >= killedAt + 20_000, TimeSpan.FromSeconds(60)),
            $"The standby did not take the load after the main's kill: {standby.Output}");
        stop.Cancel();
        await Task.WhenAll(load);
        Assert.Equal(0, await standby.TerminateAsync());

        // Every acknowledged batch is kept, per client (one committed as the kill came may be kept unacknowledged), and
        // what is kept is counted against the item and rolled up exactly once.
        var store = shared.Open();
        var kept = RawUsage.Batches(store).GroupBy(b => b.ClientUuid).ToDictionary(g => g.Key, g => g.Sum(b => b.Records.Sum(r => r.Count)));
        foreach (var (client, sum) in acknowledged)
        {
            Assert.True(kept.GetValueOrDefault(client) >= sum, $"{client}: {sum} acknowledged, {kept.GetValueOrDefault(client)} kept");
        }

        var total = kept.Values.Sum();
        Assert.Equal((total, total, total), Counted(store));
    }

    [Fact]
    public async Task A_second_main_waits_for_the_first_to_see_it_before_serving_and_then_both_serve()
    {
        await using var shared = SharedStore.Create();
        ScanItem(shared.Open());
        await using var first = await shared.StartListenerAsync("Main");
        await using var second = await shared.StartListenerAsync("Main");

        // The first may be keeping roll-ups waiting, alone on the store: the second serves once the first has seen it
        // (its log says so when it starts; whether it still waits when this test looks depends on the machine's speed).
        var settled = Dls.Listener.Hosting.ListenerHeartbeat.SettleTime;
        Assert.Contains($"Main waiting {settled} before serving: another main listener of the store is alive", second.Output);
        Assert.DoesNotContain("Main waiting", first.Output);
        Assert.True(await Eventually.Until(async () => (await HealthAsync(second)).Serving, settled * 3), second.Output);
        Assert.Equal(("Main", true), await HealthAsync(first));

        await AuthorizeAsync(second.Http, "device-0");
        Assert.Equal(3, await ReportAsync(first, "device-0", "b-1", 3));
        Assert.Equal(4, await ReportAsync(second, "device-0", "b-2", 4));
        Assert.Equal(0, await first.TerminateAsync());
        Assert.Equal(0, await second.TerminateAsync());
        Assert.Equal((7L, 7L, 7L), Counted(shared.Open()));
    }

    [Fact]
    public async Task A_listener_without_role_takes_the_stores_role_and_a_standby_with_no_main_serves()
    {
        await using var shared = SharedStore.Create();
        ScanItem(shared.Open());
        new ServerService(shared.Open(), TimeProvider.System).Set(null, null, null, ServerRole.Standby);

        await using var listener = await shared.StartListenerAsync(role: null);

        Assert.Equal(("Standby", true), await HealthAsync(listener));
        await AuthorizeAsync(listener.Http, "device-0");
        Assert.Equal(3, await ReportAsync(listener, "device-0", "b-1", 3));
    }

    [Fact]
    public async Task A_role_that_is_neither_main_nor_standby_stops_the_start_with_one_line()
    {
        await using var shared = SharedStore.Create();
        using var process = ListenerHost.Launch(shared.StorePath, "http://127.0.0.1:0", ["--role", "Backup"], new Dictionary<string, string>());
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Equal(2, process.ExitCode);
        Assert.Equal("dls-listener: --role must be Main or Standby, not 'Backup'.", error.Trim());
    }

    private static void ScanItem(DlsStore store)
    {
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, "S", LicenseMode.PerScan, 1_000_000_000, today.AddYears(-1), today.AddYears(1));
        TestCatalog.AddCode(store, "216998-app", ["S"], isDefault: true);
    }

    private static async Task<long> ReportAsync(ListenerHost host, string client, string batchId, long count)
    {
        var (status, json) = await PostAsync(host.Http, "api/v1/reports", Report(client, batchId, "216998-app", ("S", count)));
        Assert.True(status == HttpStatusCode.OK, $"report {batchId} of {client}: {status} {json}");
        Assert.Equal(1, json.GetProperty("accepted").GetInt32());
        return count;
    }

    /// <summary>A report of <paramref name="slices"/> records of item S, one for each of the last slices, <paramref name="count"/> each.</summary>
    private static object SpreadReport(string client, string batchId, int slices, long count)
    {
        var now = DateTimeOffset.UtcNow;
        var slice = TimeSpan.FromMinutes(3).Ticks;
        var current = new DateTimeOffset(now.UtcTicks - now.UtcTicks % slice, TimeSpan.Zero);
        return new
        {
            clientUuid = client,
            handshakeCode = "216998-app",
            batchId,
            records = Enumerable.Range(0, slices)
                .Select(i => new { slice = current.AddTicks(-slice * i).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"), itemId = "S", product = "DBR", count })
                .ToArray(),
        };
    }

    private static void AssertStandby((HttpStatusCode Status, JsonElement Json) answer)
    {
        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.Status);
        Assert.Equal(100, answer.Json.GetProperty("errorCode").GetInt32());
    }

    private static async Task<(string? Role, bool Serving)> HealthAsync(ListenerHost host)
    {
        using var response = await host.Http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (json.RootElement.GetProperty("role").GetString(), json.RootElement.GetProperty("serving").GetBoolean());
    }

    /// <summary>Item S's usage three ways: the raw records kept, the item's counter (its quota), and the roll-ups Get-DlsUsage reads.</summary>
    private static (long Raw, long Counter, long RolledUp) Counted(DlsStore store)
    {
        var raw = RawUsage.Batches(store).Sum(b => b.Records.Where(r => r.ItemId == "S").Sum(r => r.Count));
        using var connection = store.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT counted FROM item_counter WHERE item_id = 'S';";
        var counter = Convert.ToInt64(command.ExecuteScalar());
        var rows = new UsageQuery(store, TimeProvider.System).Get(
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), UsageInterval.Total, UsageGrouping.Item, null, null);
        return (raw, counter, rows.Where(r => r.ItemId == "S").Sum(r => r.UsageCount));
    }
}
