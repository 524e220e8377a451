namespace Dls.Bench;

/// <summary>A second opinion from wrk, when it is installed (filled in later).</summary>
public static class WrkRunner
{
    public static Task RunAsync(BenchOptions options, IReadOnlyList<Workload> workloads, IReadOnlyList<TargetProcess> targets)
    {
        Console.WriteLine("wrk: not yet");
        return Task.CompletedTask;
    }
}
