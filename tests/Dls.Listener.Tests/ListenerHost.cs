using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Dls.Core.Server;
using Dls.Core.Storage;

namespace Dls.Listener.Tests;

/// <summary>
/// A real listener process on a free loopback port over a real store file, as Start-DlsListener runs it.
/// The listener is the one build.ps1 lays out (DLS_LISTENER_PATH), else the one next to the sources.
/// </summary>
public sealed class ListenerHost : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private readonly Process _process;

    private ListenerHost(string folder, string storePath, int port, Process process, ServerInfo server, string scheme = "http", HttpMessageHandler? handler = null)
    {
        Folder = folder;
        StorePath = storePath;
        Port = port;
        _process = process;
        Server = server;
        Url = $"{scheme}://127.0.0.1:{port}/";
        Http = new HttpClient(handler ?? new HttpClientHandler()) { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Folder { get; }

    public string StorePath { get; }

    public int Port { get; }

    public string Url { get; }

    public ServerInfo Server { get; }

    public HttpClient Http { get; }

    public Process Process => _process;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <param name="rateLimits">
    /// Whether the listener keeps its default rate limits. Off unless a test is about them: tests send many new devices
    /// and refusals from one loopback address in a second, which the limits exist to stop.
    /// </param>
    public static Task<ListenerHost> StartAsync(string organizationId = "216998", bool rateLimits = false) =>
        StartAsync("http", [], new Dictionary<string, string>(), null, organizationId, rateLimits);

    /// <summary>
    /// A listener at <paramref name="scheme"/>://127.0.0.1 started with more arguments and environment (HTTPS
    /// settings, for one); <see cref="Http"/> goes through <paramref name="handler"/> (a certificate check, for one).
    /// </summary>
    public static async Task<ListenerHost> StartAsync(
        string scheme,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string> environment,
        HttpMessageHandler? handler,
        string organizationId = "216998",
        bool rateLimits = false)
    {
        var folder = Directory.CreateTempSubdirectory("dls-listener-test-").FullName;
        var storePath = Path.Combine(folder, "dls.db");
        var server = new ServerService(DlsStore.OpenOrCreate(storePath), TimeProvider.System).Initialize(organizationId, force: false);
        if (!rateLimits)
        {
            ProtectionSettings.Set(DlsStore.Open(storePath), DateTimeOffset.UtcNow, newSeatsPerMinute: 0, newSeatsPerMinutePerCode: 0,
                failedAuthorizationsPerMinute: 0, failedAuthorizationsPerMinutePerCode: 0);
        }

        var port = FreePort();
        var process = Launch(storePath, $"{scheme}://127.0.0.1:{port}", arguments, environment);
        var host = new ListenerHost(folder, storePath, port, process, server, scheme, handler);
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await host.WaitHealthyAsync();
        return host;
    }

    public static Process Launch(string storePath, string url) => Launch(storePath, url, [], new Dictionary<string, string>());

    public static Process Launch(string storePath, string url, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ListenerAssembly());
        start.ArgumentList.Add("--store");
        start.ArgumentList.Add(storePath);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(url);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        return Process.Start(start)!;
    }

    public static string ListenerAssembly()
    {
        var configured = Environment.GetEnvironmentVariable("DLS_LISTENER_PATH");
        if (!string.IsNullOrEmpty(configured) && File.Exists(configured))
        {
            return configured;
        }

        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "DLS.sln")))
        {
            directory = directory.Parent;
        }

        var candidates = directory is null ? [] : Directory.GetFiles(Path.Combine(directory.FullName, "listener", "bin"), "Dls.Listener.dll", SearchOption.AllDirectories);
        return candidates.OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
            ?? throw new InvalidOperationException("The listener is not built: run ./build.ps1 build.");
    }

    public static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    /// <summary>The store the listener serves, opened by this test process.</summary>
    public DlsStore OpenStore() => DlsStore.Open(StorePath);

    /// <summary>Kills the process without warning (SIGKILL, as kill -9) and waits for it to be gone.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>Sends SIGTERM (a graceful stop) and waits for the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        if (!_process.HasExited)
        {
            if (OperatingSystem.IsWindows())
            {
                _process.Kill();
            }
            else
            {
                _ = kill(_process.Id, 15);
            }
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            try
            {
                await TerminateAsync();
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task WaitHealthyAsync()
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The listener exited with {_process.ExitCode}: {Output}");
            }

            try
            {
                using var response = await Http.GetAsync("healthz");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The listener did not answer /healthz: {Output}");
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
