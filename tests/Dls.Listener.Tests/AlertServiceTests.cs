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

        using var receiver = new HttpListener();
        var hookPort = ListenerHost.FreePort();
        receiver.Prefixes.Add($"http://127.0.0.1:{hookPort}/hook/");
        receiver.Start();
        var requests = new ConcurrentQueue<(string Timestamp, string? Signature, byte[] Body)>();
        var loop = Task.Run(async () =>
        {
            while (receiver.IsListening)
            {
                try
                {
                    var context = await receiver.GetContextAsync();
                    using var body = new MemoryStream();
                    await context.Request.InputStream.CopyToAsync(body);
                    requests.Enqueue((context.Request.Headers["X-Dls-Timestamp"] ?? string.Empty, context.Request.Headers["X-Dls-Signature"], body.ToArray()));
                    context.Response.StatusCode = 200;
                    context.Response.Close();
                }
                catch (Exception error) when (error is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
            }
        });

        new AlertSettingsService(store, TimeProvider.System).Set(new AlertSettingsChange { WebhookUrl = $"http://127.0.0.1:{hookPort}/hook/", WebhookSecret = "listener-secret" });
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
        start.ArgumentList.Add($"http://127.0.0.1:{ListenerHost.FreePort()}");
        start.Environment["Dls__Alerts__FirstCheckDelay"] = "00:00:00.5";
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var until = Stopwatch.StartNew();
            while (requests.IsEmpty && until.Elapsed < TimeSpan.FromSeconds(40) && !process.HasExited)
            {
                await Task.Delay(100);
            }

            var request = Assert.Single(requests);
            var expected = "v1=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes("listener-secret"), Encoding.UTF8.GetBytes(request.Timestamp + ".").Concat(request.Body).ToArray()));
            Assert.Equal(expected, request.Signature);
            using var json = JsonDocument.Parse(request.Body);
            var condition = Assert.Single(json.RootElement.GetProperty("conditions").EnumerateArray());
            Assert.Equal("FailedAuthorizations", condition.GetProperty("condition").GetString());
            Assert.Equal("100 %", condition.GetProperty("level").GetString());

            var record = Assert.Single(new AlertManager(store, TimeProvider.System).List(null));
            Assert.True(record.Delivered, record.Error);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            receiver.Close();
            await loop;
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
