using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Dls.Bench;

/// <summary>
/// A server under test in its own process (`dotnet X.dll ... --urls http://127.0.0.1:0`): started, its announced
/// address read back from its output, its memory sampled every 250 ms from /proc while it runs, and stopped with
/// SIGTERM as an administrator would (so the listener commits and closes its store cleanly).
/// </summary>
public sealed partial class TargetProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly CancellationTokenSource _stopSampling = new();
    private readonly Task _sampling;
    private long _peakSampledRssKb;

    private TargetProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _sampling = SampleRssAsync(_stopSampling.Token);
    }

    public string Name { get; }

    public int ProcessId => _process.Id;

    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    public string Url { get; private set; } = string.Empty;

    /// <summary>The largest resident set seen by the 250 ms sampling (VmRSS), in KiB.</summary>
    public long PeakSampledRssKb => Interlocked.Read(ref _peakSampledRssKb);

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

    /// <summary>Starts <c>dotnet <paramref name="dll"/> <paramref name="arguments"/> --urls http://127.0.0.1:0</c> and waits for its announcement.</summary>
    public static async Task<TargetProcess> StartAsync(string name, string dll, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments.Concat(["--urls", "http://127.0.0.1:0"]))
        {
            start.ArgumentList.Add(argument);
        }

        var target = new TargetProcess(name, Process.Start(start)!);
        var clock = Stopwatch.StartNew();
        while (target.AnnouncedUrl() is not { } url)
        {
            if (target._process.HasExited || clock.Elapsed > StartTimeout)
            {
                var why = target._process.HasExited ? $"exited with {target._process.ExitCode}" : $"did not announce its address within {StartTimeout.TotalSeconds} s";
                await target.DisposeAsync();
                throw new InvalidOperationException($"{name} ({dll}) {why}:{Environment.NewLine}{target.Output}");
            }

            await Task.Delay(50);
        }

        target.Url = target.AnnouncedUrl()!;
        var uri = new Uri(target.Url);
        target.EndPoint = new IPEndPoint(IPAddress.Parse(uri.Host), uri.Port);
        return target;
    }

    /// <summary>The peak resident set the kernel recorded for the process (VmHWM), in KiB, read just before it was stopped.</summary>
    public long? PeakRssKb { get; private set; }

    /// <summary>User + system CPU time the process has used so far, in seconds (from /proc/PID/stat).</summary>
    public double CpuSeconds()
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
            // Fields after the command name (which may hold spaces, so split after its closing parenthesis):
            // state is field 3, utime 14 and stime 15, in clock ticks of 1/100 s on Linux.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }

    /// <summary>SIGTERM, then waits for the exit code (killed if it does not stop in time: then null).</summary>
    public async Task<int?> StopAsync()
    {
        await StopSamplingAsync();
        PeakRssKb = ReadStatusKb("VmHWM:");
        if (_process.HasExited)
        {
            return _process.ExitCode;
        }

        _ = kill(_process.Id, 15);
        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopSamplingAsync();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _stopSampling.Dispose();
    }

    private async Task StopSamplingAsync()
    {
        if (!_stopSampling.IsCancellationRequested)
        {
            await _stopSampling.CancelAsync();
        }

        await _sampling;
    }

    private async Task SampleRssAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (ReadStatusKb("VmRSS:") is { } rss && rss > PeakSampledRssKb)
                {
                    Interlocked.Exchange(ref _peakSampledRssKb, rss);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private long? ReadStatusKb(string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    // "VmRSS:	  123456 kB"
                    return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    private string? AnnouncedUrl()
    {
        foreach (Match match in Announcement().Matches(Output))
        {
            if (int.Parse(match.Groups["pid"].Value, CultureInfo.InvariantCulture) == _process.Id)
            {
                return match.Groups["url"].Value;
            }
        }

        return null;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    // Both the listener ("DLS listener 0.1.0 serving http://127.0.0.1:41234/ (process 4242)", docs/operations.md) and
    // BareKestrel announce themselves this way.
    [GeneratedRegex(@"serving (?<url>http://\S+) \(process (?<pid>\d+)\)", RegexOptions.CultureInvariant)]
    private static partial Regex Announcement();

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
