using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Dls.Core.Server;
using Dls.Core.Storage;

namespace Dls.Listener.Tests;

/// <summary>
/// A real listener process over a real store file, as Start-DlsListener runs it, for what only a process shows:
/// signals, kills, exit codes, Kestrel's limits, HTTPS. It listens on port 0 (the system picks a free port, so two
/// tests never race for one) and the address it bound is read back from the line it announces. The listener is the
/// one build.ps1 lays out (DLS_LISTENER_PATH), else the one next to the sources.
/// </summary>
public sealed class ListenerHost : IAsyncDisposable
{
    /// <summary>How long a listener may take to start on a busy test machine.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    // The line the listener writes once it listens (docs/operations.md): "DLS listener 0.1.0 serving http://127.0.0.1:41234/ (process 4242)".
    private static readonly Regex Announcement = new(@"DLS listener \S+ serving (?<url>\S+) \(process (?<pid>\d+)\)", RegexOptions.CultureInvariant);

    private readonly StringBuilder _output = new();
    private readonly bool _ownsFolder = true;
    private readonly string[] _arguments = [];
    private readonly IReadOnlyDictionary<string, string> _environment = new Dictionary<string, string>();
    private readonly string _listenUrl = "http://127.0.0.1:0";
    private Process _process;
    private HttpMessageHandler _handler;
    private HttpClient? _http;

    private ListenerHost(
        string folder, string storePath, Process process, ServerInfo server, HttpMessageHandler? handler = null, bool ownsFolder = true,
        string[]? arguments = null, IReadOnlyDictionary<string, string>? environment = null, string? listenUrl = null)
    {
        _listenUrl = listenUrl ?? _listenUrl;
        _ownsFolder = ownsFolder;
        _arguments = arguments ?? [];
        _environment = environment ?? _environment;
        Folder = folder;
        StorePath = storePath;
        _process = process;
        Server = server;
        _handler = handler ?? new HttpClientHandler();
    }

    public string Folder { get; }

    public string StorePath { get; }

    /// <summary>The port the listener bound (known once it has announced itself).</summary>
    public int Port => new Uri(Url).Port;

    /// <summary>The address the listener announced, ending in a slash.</summary>
    public string Url { get; private set; } = string.Empty;

    public ServerInfo Server { get; }

    public HttpClient Http => _http ?? throw new InvalidOperationException("The listener has not announced its address yet.");

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
        var (folder, storePath, server) = NewStore(organizationId, rateLimits);
        var process = Launch(storePath, $"{scheme}://127.0.0.1:0", arguments, environment);
        var host = new ListenerHost(folder, storePath, process, server, handler);
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await host.WaitHealthyAsync();
        return host;
    }

    /// <summary>
    /// A listener at http://127.0.0.1 (any free port) on a store someone else made and removes (several listeners on one
    /// store: main and standby), started with more arguments and environment; <see cref="RestartAsync"/> keeps them.
    /// <paramref name="listenUrl"/> names a fixed address instead (a license key's server URL, which a restart keeps).
    /// </summary>
    public static async Task<ListenerHost> StartOnAsync(
        string storePath, ServerInfo server, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string? listenUrl = null)
    {
        string[] given = [.. arguments];
        var process = Launch(storePath, listenUrl ?? "http://127.0.0.1:0", given, environment);
        var host = new ListenerHost(Path.GetDirectoryName(storePath)!, storePath, process, server, null, ownsFolder: false, given, environment, listenUrl);
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await host.WaitHealthyAsync();
        return host;
    }

    /// <summary>
    /// A new store in a temporary folder with a server identity of <paramref name="organizationId"/>; the rate limits
    /// are turned off unless <paramref name="rateLimits"/>.
    /// </summary>
    internal static (string Folder, string StorePath, ServerInfo Server) NewStore(string organizationId, bool rateLimits)
    {
        var folder = Directory.CreateTempSubdirectory("dls-listener-test-").FullName;
        var storePath = Path.Combine(folder, "dls.db");
        var server = new ServerService(DlsStore.OpenOrCreate(storePath), TimeProvider.System).Initialize(organizationId, force: false);
        if (!rateLimits)
        {
            ProtectionSettings.Set(DlsStore.Open(storePath), DateTimeOffset.UtcNow, newSeatsPerMinute: 0, newSeatsPerMinutePerCode: 0,
                failedAuthorizationsPerMinute: 0, failedAuthorizationsPerMinutePerCode: 0);
        }

        return (folder, storePath, server);
    }

    /// <summary>A listener process on <paramref name="url"/> (port 0: any free port), its output left to the caller.</summary>
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

    /// <summary>The address a listener announced in <paramref name="output"/> for process <paramref name="processId"/>, if it has.</summary>
    public static string? AnnouncedUrl(string output, int processId) => Announcement.Matches(output)
        .Where(match => int.Parse(match.Groups["pid"].Value, System.Globalization.CultureInfo.InvariantCulture) == processId)
        .Select(match => match.Groups["url"].Value)
        .FirstOrDefault();

    /// <summary>The store the listener serves, opened by this test process.</summary>
    public DlsStore OpenStore() => DlsStore.Open(StorePath);

    /// <summary>
    /// Starts a new listener process (plain HTTP, the same fixed address or any free port, the arguments and environment it
    /// was started with) on the same store, once this one has exited.
    /// </summary>
    public async Task RestartAsync()
    {
        if (!_process.HasExited)
        {
            throw new InvalidOperationException("The listener is still running: stop or kill it first.");
        }

        _process.Dispose();
        _http?.Dispose();
        _http = null;
        _handler = new HttpClientHandler();
        Url = string.Empty;
        _process = Launch(StorePath, _listenUrl, _arguments, _environment);
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitHealthyAsync();
    }

    /// <summary>Kills the process without warning (SIGKILL, as kill -9) and waits for it to be gone.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>Stops the process where it is (SIGSTOP): alive, but doing nothing, as a hung listener.</summary>
    public void Suspend() => _ = kill(_process.Id, 19);

    /// <summary>Lets a suspended process go on (SIGCONT).</summary>
    public void Resume() => _ = kill(_process.Id, 18);

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
        if (_http is null)
        {
            _handler.Dispose();
        }

        _http?.Dispose();
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
        if (!_ownsFolder)
        {
            return;
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Waits for the listener to announce its address, then for /healthz to answer 200 there.</summary>
    private async Task WaitHealthyAsync()
    {
        var announced = await Eventually.Until(() => _process.HasExited || AnnouncedUrl(Output, _process.Id) is not null, StartTimeout);
        if (_process.HasExited)
        {
            throw new InvalidOperationException($"The listener exited with {_process.ExitCode}: {Output}");
        }

        if (!announced)
        {
            throw new TimeoutException($"The listener did not announce its address within {StartTimeout}: {Output}");
        }

        Url = AnnouncedUrl(Output, _process.Id)!;
        _http = new HttpClient(_handler) { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(30) };
        if (!await Eventually.Until(IsHealthyAsync, StartTimeout))
        {
            throw new TimeoutException($"The listener did not answer {Url}healthz: {Output}");
        }
    }

    private async Task<bool> IsHealthyAsync()
    {
        try
        {
            using var response = await Http.GetAsync("healthz");
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
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
