using System.Globalization;

namespace Dls.Bench;

/// <summary>Prints what the benchmark measured: a line per round as it ends, then a table per phase and the totals.</summary>
public static class Report
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <param name="databaseCpuSeconds">The bench's PostgreSQL cluster's CPU during the round; null when there is none.</param>
    public static void Round(Workload workload, string target, int round, Run run, double serverCpuSeconds, double? databaseCpuSeconds = null) =>
        Console.WriteLine(string.Create(Invariant,
            $"  {workload.Title,-22} round {round} {target,-15} {run.RequestsPerSecond,9:N0} req/s  non-200 {run.Tally.NonOk + run.Tally.Failed,5}  " +
            $"cpu: client {Cpu(run.ClientCpuSeconds, run.Seconds)}, server {Cpu(serverCpuSeconds, run.Seconds)}" +
            $"{(databaseCpuSeconds is { } database ? $", postgres {Cpu(database, run.Seconds)}" : string.Empty)}"));

    public static void Phases(IReadOnlyList<PhaseResult> phases)
    {
        Console.WriteLine();
        Console.WriteLine($"{"phase / target",-26} {"req/s mean",10}  {"rounds (req/s)",-28} {"p50 ms",7} {"p99 ms",7} {"p99.9 ms",8} {"non-200",7}  cpu client / server");
        foreach (var phase in phases)
        {
            Console.WriteLine(phase.Workload.Title);
            foreach (var target in new[] { phase.Bare, phase.Listener })
            {
                var rounds = string.Join(" · ", target.RoundRates.Select(r => r.ToString("N0", Invariant)));
                Console.WriteLine(string.Create(Invariant,
                    $"  {target.Target,-24} {target.MeanRate,10:N0}  {rounds,-28} {Ms(target, 50),7:F2} {Ms(target, 99),7:F2} {Ms(target, 99.9),8:F2} {target.Tally.NonOk + target.Tally.Failed,7}  " +
                    $"{Cpu(target.ClientCpuSeconds, target.Seconds)} / {Cpu(target.ServerCpuSeconds, target.Seconds)}"));
            }

            Console.WriteLine(string.Create(Invariant, $"  {"listener / bare",-24} {phase.Listener.MeanRate / phase.Bare.MeanRate,10:P1}"));
            if (phase.Listener.DatabaseCpuSeconds > 0)
            {
                Console.WriteLine(string.Create(Invariant, $"  {"postgres cpu (listener)",-24} {Cpu(phase.Listener.DatabaseCpuSeconds, phase.Listener.Seconds),10}"));
            }

            if (phase.Workload.IsReport)
            {
                Console.WriteLine(string.Create(Invariant, $"  {"records/s (listener)",-24} {phase.Listener.MeanRate * 10,10:N0}"));
            }
        }

        Console.WriteLine("  cpu: seconds of CPU used during the timed rounds / their length (200 % = both cores); client = this program; postgres = the bench's cluster, all its processes.");
    }

    /// <summary>Says, so that it cannot be missed, that the listener answered something other than 200.</summary>
    public static void Loudly(string message)
    {
        Console.WriteLine();
        Console.WriteLine(new string('!', 100));
        Console.WriteLine($"!!! {message}");
        Console.WriteLine(new string('!', 100));
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    public static string MiB(long kib) => string.Create(Invariant, $"{kib / 1024.0:F1} MiB");

    private static double Ms(TargetResult target, double percentile) =>
        target.Latency.TotalCount == 0 ? double.NaN : target.Latency.GetValueAtPercentile(percentile) / 1000.0;

    private static string Cpu(double cpuSeconds, double seconds) => string.Create(Invariant, $"{cpuSeconds / seconds:P0}");
}
