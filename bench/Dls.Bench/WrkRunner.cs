using System.Diagnostics;
using System.Globalization;

namespace Dls.Bench;

/// <summary>
/// A second opinion from wrk (a C load generator), when it is on PATH: each phase once per target, wrk -t2 -cN, with a
/// Lua script that fills the same holes the bench's own client fills (unique batch ids and new devices, the current
/// and previous slices). Only wrk's own summary is printed; these runs are not in the tables or the checks.
/// </summary>
public static class WrkRunner
{
    public static bool Available() => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Any(folder => File.Exists(Path.Combine(folder, "wrk")));

    public static async Task RunAsync(BenchOptions options, IReadOnlyList<Workload> workloads, IReadOnlyList<TargetProcess> targets)
    {
        var folder = Directory.CreateTempSubdirectory("dls-bench-wrk-").FullName;
        var runs = 0;
        try
        {
            foreach (var workload in workloads)
            {
                var script = Path.Combine(folder, workload.Key + ".lua");
                await File.WriteAllTextAsync(script, Script(workload));
                foreach (var target in targets)
                {
                    Console.WriteLine($"wrk: {workload.Title}, {target.Name}");
                    // Untimed first, as the bench's own rounds are; each wrk process gets its own run number for its ids.
                    await RunWrkAsync(options, options.Warmup, ++runs, script, target.Url);
                    foreach (var line in await RunWrkAsync(options, options.Seconds, ++runs, script, target.Url))
                    {
                        Console.WriteLine($"  {line}");
                    }
                }
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<IEnumerable<string>> RunWrkAsync(BenchOptions options, int seconds, int run, string script, string url)
    {
        if (seconds == 0)
        {
            return [];
        }

        var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-t2", $"-c{options.Connections}", $"-d{seconds}s", "--latency", "-s", script, url, "--", run.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using var wrk = Process.Start(start)!;
        var output = wrk.StandardOutput.ReadToEndAsync();
        var errors = wrk.StandardError.ReadToEndAsync();
        await wrk.WaitForExitAsync();
        // The lines that say how fast and how well: the latency summary and distribution, the rate, the failures.
        string[] wanted = ["Latency ", "50%", "99%", "Requests/sec", "Non-2xx", "Socket errors", "requests in"];
        return (await output + await errors).Split('\n')
            .Select(line => line.Trim())
            .Where(line => wanted.Any(w => line.StartsWith(w, StringComparison.Ordinal) || (w == "requests in" && line.Contains(w, StringComparison.Ordinal))));
    }

    /// <summary>The Lua script for one workload: the body pattern with its {Field} holes filled per request.</summary>
    private static string Script(Workload workload) => $$"""
        -- Written by bench/Dls.Bench for the phase "{{workload.Title}}".
        local pattern = [==[{{workload.BodyPattern}}]==]
        local cycled = {{workload.CycledDevices?.ToString(CultureInfo.InvariantCulture) ?? "nil"}}
        wrk.method = "POST"
        wrk.path = "{{workload.Path}}"
        wrk.headers["Content-Type"] = "application/json"

        local threads = 0
        function setup(thread)
          thread:set("tid", threads)
          threads = threads + 1
        end

        local run = 0
        function init(args)
          run = tonumber(args[1]) % 100
        end

        local counter = 0
        request = function()
          counter = counter + 1
          local device
          if cycled then
            -- the two threads interleave, as the bench client's one sequence does: no device is sent twice at once
            device = (counter * 2 + tid) % cycled
          else
            -- new devices of wrk: 9, the run, the thread, the counter; apart from the bench client's (from 1000000000)
            device = 900000000000 + run * 1000000000 + tid * 100000000 + counter
          end
          -- batch and request ids: 9, the run, the thread, the counter: never one of the bench client's (< 10^19)
          local id = string.format("9%02d%02d%015d", run, tid, counter)
          local now = os.time()
          local current = now - now % 180
          local values = {
            Client = string.format("%012d", device),
            Batch = id,
            RequestId = id,
            CurrentSlice = os.date("!%Y-%m-%dT%H:%M:%SZ", current),
            PreviousSlice = os.date("!%Y-%m-%dT%H:%M:%SZ", current - 180),
          }
          local body = pattern:gsub("{(%a+)}", values)
          return wrk.format(nil, nil, nil, body)
        end
        """;
}
