using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dls.Core.Alerts;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Core.Usage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Dls.Listener.Tests;

/// <summary>The listener's background alert check: a real listener process notifies a real webhook on 127.0.0.1.</summary>
public sealed class AlertServiceTests
{
    [Fact]
    public async Task The_listener_checks_alerts_in_the_background_and_posts_a_signed_webhook()
    {
        var folder = Directory.CreateTempSubdirectory("dls-alert-listener-").FullName;
        var storePath = Path.Combine(folder, "dls.db");
        var store = DlsStore.OpenOrCreate(storePath);
        new ServerService(store, TimeProvider.System).Initialize("216998", force: false);

        // The webhook's receiver listens on port 0 and says which port it got: no port is guessed free beforehand.
        var requests = new ConcurrentQueue<(string Timestamp, string? Signature, byte[] Body)>();
        var receiverBuilder = WebApplication.CreateSlimBuilder();
        receiverBuilder.Logging.ClearProviders();
        receiverBuilder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var receiver = receiverBuilder.Build();
        receiver.MapPost("/hook/", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            requests.Enqueue((request.Headers["X-Dls-Timestamp"].ToString(), request.Headers["X-Dls-Signature"].FirstOrDefault(), body.ToArray()));
            return Results.Ok();
        });
        await receiver.StartAsync();
        var hook = receiver.Urls.Single().TrimEnd('/') + "/hook/";

        new AlertSettingsService(store, TimeProvider.System).Set(new AlertSettingsChange { WebhookUrl = hook, WebhookSecret = "listener-secret" });
        // Clients with an unknown code, refused in the last hour: 100 % failed authorizations.
        store.Write((c, t) =>
        {
            for (var i = 0; i < 3; i++)
            {
                UsageStatistics.RecordAuthorization(c, t, new AuthorizationFact(DateTimeOffset.UtcNow.AddMinutes(-1), string.Empty, string.Empty, $"device-{i}", 101));
            }
        });

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(ListenerHost.ListenerAssembly());
        start.ArgumentList.Add("--store");
        start.ArgumentList.Add(storePath);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add("http://127.0.0.1:0");
        start.Environment["Dls__Alerts__FirstCheckDelay"] = "00:00:00.5";
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await Eventually.Until(() => !requests.IsEmpty || process.HasExited, TimeSpan.FromSeconds(40));
            var request = Assert.Single(requests);
            var expected = "v1=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes("listener-secret"), Encoding.UTF8.GetBytes(request.Timestamp + ".").Concat(request.Body).ToArray()));
            Assert.Equal(expected, request.Signature);
            using var json = JsonDocument.Parse(request.Body);
            var condition = Assert.Single(json.RootElement.GetProperty("conditions").EnumerateArray());
            Assert.Equal("FailedAuthorizations", condition.GetProperty("condition").GetString());
            Assert.Equal("100 %", condition.GetProperty("level").GetString());

            // The listener records the delivery once the webhook has answered: a moment after the request arrived here.
            var alerts = new AlertManager(store, TimeProvider.System);
            await Eventually.Until(() => alerts.List(null).Any(r => r.Delivered), TimeSpan.FromSeconds(10));
            var record = Assert.Single(alerts.List(null));
            Assert.True(record.Delivered, record.Error);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            await receiver.StopAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
