using System.Net;
using Dls.Core.Licensing;
using Dls.Core.Storage;
using Dls.Tests;
using static Dls.Listener.Tests.ProtocolFixture;

namespace Dls.Listener.Tests;

/// <summary>
/// Two main listener processes on one PostgreSQL store (SPEC §7): together they never grant more than one would, and a
/// batch sent to both counts once. Real processes on loopback, a real PostgreSQL server of the tests' own.
/// </summary>
public sealed class SeveralListenersTests
{
    [PostgresFact]
    public async Task Two_main_listeners_raced_for_the_last_seats_grant_exactly_quantity_plus_tolerance()
    {
        await using var shared = SharedStore.Create(engine: StoreEngine.PostgreSql);
        var store = shared.Open();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        // 200 seats (tolerance 20) for 600 devices: more than one listener's group commit can take in one transaction, so
        // the two really race for them (with 20 seats one listener's first batch could take all of them).
        TestCatalog.AddItem(store, "R", LicenseMode.PerDeviceYearly, 200, today.AddYears(-1), today.AddYears(1)); // tolerance 20
        TestCatalog.AddCode(store, "216998-app", ["R"], isDefault: true);
        TestCatalog.AddItem(store, "W", LicenseMode.PerDeviceYearly, 100, today.AddYears(-1), today.AddYears(1));
        TestCatalog.AddCode(store, "216998-warm", ["W"]);
        await using var a = await StartServingMainAsync(shared);
        await using var b = await StartServingMainAsync(shared);

        // Both listeners warmed up on another item, so that neither is still starting when the race begins.
        for (var i = 0; i < 5; i++)
        {
            await AuthorizeAsync(a.Http, $"warm-a-{i}", code: "216998-warm");
            await AuthorizeAsync(b.Http, $"warm-b-{i}", code: "216998-warm");
        }

        // 600 devices, every other one at each listener, all at once.
        var results = await Task.WhenAll(Enumerable.Range(0, 600).Select(i =>
            PostAsync((i % 2 == 0 ? a : b).Http, "api/v1/auth", AuthBody($"racer-{i}"))));

        Assert.Equal(220, results.Count(r => r.Status == HttpStatusCode.OK));
        Assert.All(results.Where(r => r.Status != HttpStatusCode.OK), r =>
        {
            Assert.Equal(HttpStatusCode.Conflict, r.Status);
            Assert.Equal(120, r.Json.GetProperty("errorCode").GetInt32());
        });
        Assert.Equal(220L, Scalar(store, "SELECT count(*) FROM seat WHERE item_id = 'R';"));

        // Each listener answered some of the granted ones: the race really was between the two.
        Assert.InRange(results.Where((r, i) => i % 2 == 0 && r.Status == HttpStatusCode.OK).Count(), 1, 219);
    }

    [PostgresFact]
    public async Task A_batch_sent_to_both_listeners_counts_once_and_every_other_batch_counts()
    {
        await using var shared = SharedStore.Create(engine: StoreEngine.PostgreSql);
        var store = shared.Open();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, "S", LicenseMode.PerScan, 1_000_000, today.AddYears(-1), today.AddYears(1));
        TestCatalog.AddCode(store, "216998-app", ["S"], isDefault: true);
        await using var a = await StartServingMainAsync(shared);
        await using var b = await StartServingMainAsync(shared);
        for (var i = 0; i < 10; i++)
        {
            await AuthorizeAsync((i % 2 == 0 ? a : b).Http, $"device-{i}");
        }

        // Each device's batch "same" goes to both listeners at once (a client retrying against the other one); its
        // batches "own-n" go to one listener each.
        var sends = new List<Task<(HttpStatusCode Status, System.Text.Json.JsonElement Json)>>();
        for (var i = 0; i < 10; i++)
        {
            sends.Add(PostAsync(a.Http, "api/v1/reports", Report($"device-{i}", "same", "216998-app", ("S", 7))));
            sends.Add(PostAsync(b.Http, "api/v1/reports", Report($"device-{i}", "same", "216998-app", ("S", 7))));
            for (var n = 0; n < 4; n++)
            {
                sends.Add(PostAsync((n % 2 == 0 ? a : b).Http, "api/v1/reports", Report($"device-{i}", $"own-{n}", "216998-app", ("S", 3))));
            }
        }

        var answers = await Task.WhenAll(sends);
        Assert.All(answers, r => Assert.Equal(HttpStatusCode.OK, r.Status));

        // Of each pair of "same", one listener stored it and the other answered it as a duplicate.
        var same = answers.Where((_, i) => i % 6 < 2).ToList();
        Assert.Equal((10, 10), (same.Sum(r => r.Json.GetProperty("accepted").GetInt32()), same.Sum(r => r.Json.GetProperty("duplicates").GetInt32())));

        // 10 devices × (7 once + 4 × 3).
        Assert.Equal(190L, Scalar(store, "SELECT counted FROM item_counter WHERE item_id = 'S';"));
        Assert.Equal(50L, Scalar(store, "SELECT count(*) FROM usage_batch;"));
        var batches = Dls.Core.Usage.RawUsage.Batches(store);
        Assert.Equal(190L, batches.Sum(x => x.Records.Sum(r => r.Count)));
    }

    /// <summary>A main listener on the store, once it serves (a main that starts beside a live one waits a few seconds first).</summary>
    private static async Task<ListenerHost> StartServingMainAsync(SharedStore shared)
    {
        var listener = await shared.StartListenerAsync("Main");
        Assert.True(await Eventually.Until(async () => await ServingAsync(listener), ListenerHost.StartTimeout), $"The main did not begin to serve:\n{listener.Output}");
        return listener;
    }

    private static async Task<bool> ServingAsync(ListenerHost listener)
    {
        using var response = await listener.Http.GetAsync("healthz");
        using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("serving").GetBoolean();
    }

    private static long Scalar(DlsStore store, string sql) => store.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    });
}
