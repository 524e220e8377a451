using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Dls.Core.Alerts;
using Dls.Core.Usage;
using Dls.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Dls.Listener.Tests;

/// <summary>
/// The listeners' background work that must happen once per store however many listeners run on it (issue 12): the
/// usage retention's purge and alert notifications. Two real listener processes, started together, on one store.
/// </summary>
public sealed class OnceAcrossListenersTests
{
    /// <summary>How long a second run would have had to show itself: many of the listeners' check intervals below.</summary>
    private static readonly TimeSpan Watch = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Two_listeners_run_the_days_retention_purge_once()
    {
        await using var shared = SharedStore.Create();
        var often = new Dictionary<string, string>
        {
            ["Dls__Retention__FirstRunDelay"] = "00:00:00.5",
            ["Dls__Retention__CheckInterval"] = "00:00:00.2",
        };
        var started = await Task.WhenAll(shared.StartListenerAsync("Main", often), shared.StartListenerAsync("Standby", often));
        await using var main = started[0];
        await using var standby = started[1];

        int Purges() => PurgeLines(main.Output) + PurgeLines(standby.Output);

        Assert.True(await Eventually.Until(() => Purges() >= 1, TimeSpan.FromSeconds(40)), main.Output + standby.Output);
        Assert.False(await Eventually.Until(() => Purges() >= 2, Watch), main.Output + standby.Output);
    }

    [Fact]
    public async Task Two_listeners_checking_alerts_together_send_one_notification_once()
    {
        await using var shared = SharedStore.Create();
        var store = shared.Open();

        // The webhook's receiver listens on port 0 and says which port it got.
        var requests = new ConcurrentQueue<string>();
        var receiverBuilder = WebApplication.CreateSlimBuilder();
        receiverBuilder.Logging.ClearProviders();
        receiverBuilder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var receiver = receiverBuilder.Build();
        receiver.MapPost("/hook/", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            requests.Enqueue(await reader.ReadToEndAsync());
            return Results.Ok();
        });
        await receiver.StartAsync();
        new AlertSettingsService(store, TimeProvider.System).Set(new AlertSettingsChange
        {
            WebhookUrl = receiver.Urls.Single().TrimEnd('/') + "/hook/",
            WebhookSecret = "once",
        });

        // Clients with an unknown code, refused in the last hour: 100 % failed authorizations.
        store.Write((c, t) =>
        {
            for (var i = 0; i < 3; i++)
            {
                UsageStatistics.RecordAuthorization(c, t, new AuthorizationFact(DateTimeOffset.UtcNow.AddMinutes(-1), string.Empty, string.Empty, $"device-{i}", 101));
            }
        });

        // Both check every half second from the same moment, and work the outbox as often.
        var often = new Dictionary<string, string>
        {
            ["Dls__Alerts__FirstCheckDelay"] = "00:00:00.5",
            ["Dls__Alerts__CheckInterval"] = "00:00:00.5",
            ["Dls__Alerts__OutboxInterval"] = "00:00:00.5",
        };
        var started = await Task.WhenAll(shared.StartListenerAsync("Main", often), shared.StartListenerAsync("Standby", often));
        await using var main = started[0];
        await using var standby = started[1];

        Assert.True(await Eventually.Until(() => !requests.IsEmpty, TimeSpan.FromSeconds(40)), main.Output + standby.Output);
        Assert.False(await Eventually.Until(() => requests.Count >= 2, Watch), string.Join("\n", requests));
        var alerts = new AlertManager(store, TimeProvider.System);
        await Eventually.Until(() => alerts.List(null).Any(r => r.Delivered), TimeSpan.FromSeconds(10));
        var record = Assert.Single(alerts.List(null));
        Assert.True(record.Delivered, record.Error);
        await receiver.StopAsync();
    }

    private static int PurgeLines(string output) => Regex.Matches(output, "Usage retention: removed").Count;
}
