using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Dls.Core.Accounting;
using Dls.Core.Licensing;
using Dls.Core.Server;
using Dls.Listener.Endpoints;
using Dls.Tests;
using static Dls.Listener.Tests.ProtocolFixture;

namespace Dls.Listener.Tests;

/// <summary>
/// The issue "Only authorized usage counts, and hostile traffic changes nothing", through a real listener process:
/// unauthorized records are refused one by one, and the rate limits hold back floods but never known devices.
/// </summary>
public sealed class ProtectionTests
{
    [Fact]
    public async Task Reports_from_a_client_that_was_never_authorized_are_refused_and_the_item_does_not_move()
    {
        await using var host = await ListenerHost.StartAsync();
        var store = host.OpenStore();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, "DEV", LicenseMode.PerDeviceYearly, 10, today.AddYears(-1), today.AddYears(1));
        TestCatalog.AddItem(store, "SCANS", LicenseMode.PerScan, 1000, today.AddYears(-1), today.AddYears(1), product: "DLR");
        TestCatalog.AddCode(store, "216998-perfdev", ["DEV"], isDefault: true);
        TestCatalog.AddCode(store, "216998-scans", ["SCANS"]);

        // The attack of the issue: two batches from a clientUuid never authorized, naming the scan item (not in the
        // code) with a made-up product and a huge count.
        foreach (var batch in new[] { "evil-1", "evil-2" })
        {
            var (status, json) = await PostAsync(host.Http, "api/v1/reports", new
            {
                clientUuid = "attacker",
                handshakeCode = "216998-perfdev",
                batchId = batch,
                records = new[] { new { slice = SliceNow(), itemId = "SCANS", product = "MADEUP", count = 999_999_999L } },
            });
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal((0, 0, 1), (json.GetProperty("accepted").GetInt32(), json.GetProperty("duplicates").GetInt32(), json.GetProperty("refused").GetInt32()));
            var refused = json.GetProperty("refusedRecords")[0];
            Assert.Equal((0, 104), (refused.GetProperty("index").GetInt32(), refused.GetProperty("errorCode").GetInt32()));
        }

        Assert.Equal(0, Used(store, "SCANS"));

        // A client authorized through the scan code counts, exactly once, even when it sends the batch twice.
        await AuthorizeAsync(host.Http, "scanner", "DLR", "216998-scans");
        var good = new
        {
            clientUuid = "scanner",
            handshakeCode = "216998-scans",
            batchId = "good-1",
            records = new[] { new { slice = SliceNow(), itemId = "SCANS", product = "DLR", count = 12L } },
        };
        var (firstStatus, first) = await PostAsync(host.Http, "api/v1/reports", good);
        var (_, again) = await PostAsync(host.Http, "api/v1/reports", good);
        Assert.Equal((HttpStatusCode.OK, 1, 0), (firstStatus, first.GetProperty("accepted").GetInt32(), first.GetProperty("refused").GetInt32()));
        Assert.Equal(0, first.GetProperty("refusedRecords").GetArrayLength());
        Assert.Equal(1, again.GetProperty("duplicates").GetInt32());
        Assert.Equal(12, Used(store, "SCANS"));

        // The same authorized client naming the item through a code it was not granted it by: 105.
        var (_, wrongCode) = await PostAsync(host.Http, "api/v1/reports", new
        {
            clientUuid = "scanner",
            handshakeCode = "216998-perfdev",
            batchId = "good-2",
            records = new[] { new { slice = SliceNow(), itemId = "DEV", product = "DBR", count = 1L } },
        });
        Assert.Equal(105, wrongCode.GetProperty("refusedRecords")[0].GetProperty("errorCode").GetInt32());
        Assert.Equal(12, Used(store, "SCANS"));
    }

    [Fact]
    public async Task A_flood_of_new_devices_from_one_address_gets_429_while_known_devices_and_other_addresses_are_served()
    {
        await using var host = await ListenerHost.StartAsync(rateLimits: true);
        var store = host.OpenStore();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, "Y", LicenseMode.PerDeviceYearly, 10, today.AddYears(-1), today.AddYears(1));
        TestCatalog.AddCode(store, "216998-app", ["Y"], isDefault: true);
        var mark = host.Output.Length;
        ProtectionSettings.Set(store, DateTimeOffset.UtcNow, newSeatsPerMinute: 3);
        await WaitForSettingAsync(host, mark, "at most 3 new seats a minute per address");

        var known = new List<string>();
        var limited = 0;
        for (var i = 0; i < 20; i++)
        {
            using var response = await host.Http.PostAsJsonAsync("api/v1/auth", AuthBody($"flood-{i}"));
            if (response.StatusCode == HttpStatusCode.OK)
            {
                known.Add($"flood-{i}");
            }
            else
            {
                Assert.Equal((HttpStatusCode)429, response.StatusCode);
                Assert.True(response.Headers.RetryAfter?.Delta is { } after && after >= TimeSpan.FromSeconds(1), "a 429 carries Retry-After");
                var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
                Assert.Equal(429, json.GetProperty("errorCode").GetInt32());
                limited++;
            }

            // Known devices are answered 200 throughout the flood.
            foreach (var device in known)
            {
                var (status, _) = await PostAsync(host.Http, "api/v1/auth", AuthBody(device));
                Assert.Equal(HttpStatusCode.OK, status);
            }
        }

        Assert.Equal(3, known.Count);
        Assert.Equal(17, limited);

        // The seats the flood did not get stay free for devices elsewhere.
        Assert.Equal(3, Used(store, "Y"));
        using var elsewhere = ClientFrom(IPAddress.Parse("127.0.0.2"), host.Url);
        for (var i = 0; i < 3; i++)
        {
            var (status, json) = await PostAsync(elsewhere, "api/v1/auth", AuthBody($"office-{i}"));
            Assert.True(status == HttpStatusCode.OK, json.ToString());
        }

        Assert.Equal(6, Used(store, "Y"));
        // A limited request changes nothing: no statistics, no seat, no fingerprint for the 17 limited devices.
        var limitedOnes = string.Join(",", Enumerable.Range(0, 20).Select(i => $"'flood-{i}'").Where(c => !known.Contains(c.Trim('\''))));
        Assert.Equal(0, Rows(store, $"SELECT count(*) FROM auth_event WHERE client_uuid IN ({limitedOnes});"));
        Assert.Equal(0, Rows(store, $"SELECT count(*) FROM client_fingerprint WHERE client_uuid IN ({limitedOnes});"));
    }

    [Fact]
    public async Task Failed_password_checks_are_limited_per_address_but_a_known_device_keeps_working()
    {
        await using var host = await ListenerHost.StartAsync(rateLimits: true);
        var store = host.OpenStore();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, "Y", LicenseMode.PerDeviceYearly, 100, today.AddYears(-1), today.AddYears(1));
        TestCatalog.AddCode(store, "216998-locked", ["Y"], isDefault: true, sessionPassword: "pw");
        var mark = host.Output.Length;
        ProtectionSettings.Set(store, DateTimeOffset.UtcNow, failedAuthorizationsPerMinute: 3);
        await WaitForSettingAsync(host, mark, "3 failures a minute per address");
        var (okStatus, _) = await PostAsync(host.Http, "api/v1/auth", AuthBody("legit", ("handshakeCode", "216998-locked"), ("sessionPassword", "pw")));
        Assert.Equal(HttpStatusCode.OK, okStatus);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            var (status, _) = await PostAsync(host.Http, "api/v1/auth", AuthBody($"guesser-{i}", ("handshakeCode", "216998-locked"), ("sessionPassword", $"guess-{i}")));
            statuses.Add(status);
        }

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized,
            (HttpStatusCode)429, (HttpStatusCode)429, (HttpStatusCode)429], statuses);
        var (legit, _) = await PostAsync(host.Http, "api/v1/auth", AuthBody("legit", ("handshakeCode", "216998-locked"), ("sessionPassword", "pw")));
        Assert.Equal(HttpStatusCode.OK, legit);

        // The limited requests changed nothing: only the three refused checks and the two grants were counted.
        Assert.Equal(5, Rows(store, "SELECT count(*) FROM auth_event;"));
    }

    [Fact]
    public void The_guard_turns_an_address_away_once_its_failures_are_used_up_and_keeps_others_apart()
    {
        using var guard = new Protection.AbuseGuard();
        guard.Apply(ProtectionSettings.Default with { FailedAuthorizationsPerMinute = 2, NewSeatsPerMinute = 1 });
        var a = IPAddress.Parse("192.0.2.1");
        var b = IPAddress.Parse("192.0.2.2");

        Assert.False(guard.FailuresExhausted(a, "c", out _));
        guard.Failed(a, "c");
        guard.Failed(a, "c");
        Assert.True(guard.FailuresExhausted(a, "c", out var retryAfter));
        Assert.InRange(retryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(31));
        Assert.False(guard.FailuresExhausted(b, "c", out _));

        Assert.True(guard.NewSeatGate(a).TryAdmit("c", out _));
        Assert.False(guard.NewSeatGate(a).TryAdmit("c", out _));
        Assert.True(guard.NewSeatGate(b).TryAdmit("c", out _));

        guard.Apply(ProtectionSettings.Default with { FailedAuthorizationsPerMinute = 0, NewSeatsPerMinute = 0 });
        Assert.False(guard.FailuresExhausted(a, "c", out _));
        Assert.True(guard.NewSeatGate(a).TryAdmit("c", out _));
    }

    [Fact]
    public void The_home_page_shows_license_details_to_loopback_clients_only_unless_turned_on()
    {
        var server = new ServerInfo("11111111-2222-3333-4444-555555555555", "216998", "/tmp/x.db", "1.0", ServerRole.Main, "http://h/", "", "", DateTime.UtcNow);
        var page = new ListenerStatusPage([new FixedSection("<h2>License items</h2>")], TimeProvider.System);

        var stranger = page.Render(server, HomeEndpoints.ShowsDetails(server, IPAddress.Parse("203.0.113.7")));
        var local = page.Render(server, HomeEndpoints.ShowsDetails(server, IPAddress.IPv6Loopback));
        var published = server with { Protection = ProtectionSettings.Default with { PublicHomePage = true } };
        var strangerWhenPublished = page.Render(published, HomeEndpoints.ShowsDetails(published, IPAddress.Parse("203.0.113.7")));

        Assert.Contains(server.Uuid, stranger);
        Assert.DoesNotContain("216998", stranger);
        Assert.DoesNotContain("License items", stranger);
        Assert.Contains("216998", local);
        Assert.Contains("License items", local);
        Assert.Contains("License items", strangerWhenPublished);
    }

    /// <summary>
    /// The listener reads its settings every few seconds and logs the ones it applies: waits for that line, written
    /// after <paramref name="mark"/> in its output, to say <paramref name="applied"/>.
    /// </summary>
    private static async Task WaitForSettingAsync(ListenerHost host, int mark, string applied)
    {
        var timeout = Hosting.ProtectionSettingsService.Every * 5;
        Assert.True(
            await Eventually.Until(() => host.Output[mark..].Split('\n').Any(line => line.Contains("Protection: ", StringComparison.Ordinal) && line.Contains(applied, StringComparison.Ordinal)), timeout),
            $"The listener did not apply '{applied}' within {timeout}: {host.Output[mark..]}");
    }

    private static HttpClient ClientFrom(IPAddress local, string baseUrl) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { BaseAddress = new Uri(baseUrl) };

    private static long Used(Dls.Core.Storage.DlsStore store, string itemId) => store.Read(connection =>
        QuotaMeter.Measure(connection, null, LicenseCatalog.FindItem(connection, null, itemId)!, DateTimeOffset.UtcNow).Used);

    private static long Rows(Dls.Core.Storage.DlsStore store, string sql) => store.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    });

    private sealed class FixedSection(string html) : IHomeSection
    {
        public string Render() => html;
    }
}
