using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Dls.Core.Listeners;
using Dls.Core.Server;
using Dls.Core.Storage;

namespace Dls.Listener.Tests;

public sealed class HealthAndHomeTests
{
    [Fact]
    public async Task Healthz_answers_with_the_store_uuid_role_and_version()
    {
        await using var host = InProcessListener.Start();

        using var response = await host.Http.GetAsync("healthz");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", json.RootElement.GetProperty("status").GetString());
        Assert.Equal(host.Server.Uuid, json.RootElement.GetProperty("uuid").GetString());
        Assert.Equal("Main", json.RootElement.GetProperty("role").GetString());
        Assert.Equal(Dls.Core.DlsVersion.Current, json.RootElement.GetProperty("version").GetString());
        Assert.True(json.RootElement.GetProperty("storeOk").GetBoolean());
    }

    [Fact]
    public async Task The_home_page_shows_uuid_organization_and_version_in_html()
    {
        await using var host = InProcessListener.Start("424242");

        using var response = await host.Http.GetAsync("/");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<!DOCTYPE html>", html);
        Assert.Contains(host.Server.Uuid, html);
        Assert.Contains("424242", html);
        Assert.Contains(Dls.Core.DlsVersion.Current, html);
    }

    [UnixFact("SIGTERM is a Unix signal")]
    public async Task The_listener_records_itself_and_removes_the_record_on_SIGTERM()
    {
        await using var host = await ListenerHost.StartAsync();
        var registry = new ListenerRegistry(DlsStore.Open(host.StorePath), TimeProvider.System);

        var record = Assert.Single(registry.List());
        Assert.Equal(host.Url, record.Url);
        Assert.Equal(host.Process.Id, record.ProcessId);

        Assert.Equal(0, await host.TerminateAsync());
        Assert.Empty(registry.List());
        Assert.Contains("Application is shutting down", host.Output);
        Assert.False(PortAnswers(host.Port));
    }

    [Fact]
    public async Task A_missing_store_stops_the_listener_with_a_message_naming_it()
    {
        var path = Path.Combine(Path.GetTempPath(), $"dls-missing-{Guid.NewGuid():N}", "dls.db");
        using var process = ListenerHost.Launch(path, "http://127.0.0.1:0");
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Equal(2, process.ExitCode);
        Assert.Contains(path, error);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task A_taken_port_stops_the_listener_with_a_message_naming_it()
    {
        await using var host = await ListenerHost.StartAsync();
        using var second = ListenerHost.Launch(host.StorePath, host.Url.TrimEnd('/'));
        var error = await second.StandardError.ReadToEndAsync();
        await second.WaitForExitAsync();

        Assert.Equal(3, second.ExitCode);
        Assert.Contains(host.Port.ToString(), error);
        // The first listener is unaffected.
        using var response = await host.Http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Administrative_writes_while_the_listener_serves_never_hit_a_lock()
    {
        await using var host = await ListenerHost.StartAsync();
        var service = new ServerService(DlsStore.Open(host.StorePath), TimeProvider.System);
        using var cancel = new CancellationTokenSource();
        var probes = Enumerable.Range(0, 4).Select(async _ =>
        {
            var failures = 0;
            while (!cancel.IsCancellationRequested)
            {
                using var response = await host.Http.GetAsync("healthz");
                if (response.StatusCode != HttpStatusCode.OK) failures++;
            }

            return failures;
        }).ToArray();

        for (var i = 0; i < 100; i++)
        {
            service.Set(null, $"http://dls.example.com:{50000 + i}/", null, null);
        }

        cancel.Cancel();
        Assert.All(await Task.WhenAll(probes), failures => Assert.Equal(0, failures));
        Assert.Equal("http://dls.example.com:50099/", service.Get().MainServerUrl);
        Assert.DoesNotContain("locked", host.Output, StringComparison.OrdinalIgnoreCase);
    }

    private static bool PortAnswers(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
