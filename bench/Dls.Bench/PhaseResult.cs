using HdrHistogram;

namespace Dls.Bench;

/// <summary>The timed rounds of one phase on one target: their rates, their latencies merged, their answers added up.</summary>
public sealed class TargetResult(string target)
{
    public string Target { get; } = target;

    public List<double> RoundRates { get; } = [];

    public LongHistogram Latency { get; } = LoadGenerator.NewHistogram();

    public Tally Tally { get; } = new();

    public double Seconds { get; private set; }

    public double ClientCpuSeconds { get; private set; }

    public double ServerCpuSeconds { get; private set; }

    /// <summary>CPU seconds of the bench's own PostgreSQL cluster during these rounds (0 when there is none).</summary>
    public double DatabaseCpuSeconds { get; private set; }

    public double MeanRate => RoundRates.Average();

    public void Add(Run run, double serverCpuSeconds, double databaseCpuSeconds = 0)
    {
        DatabaseCpuSeconds += double.IsNaN(databaseCpuSeconds) ? 0 : databaseCpuSeconds;
        RoundRates.Add(run.RequestsPerSecond);
        Latency.Add(run.Latency!);
        Tally.Add(run.Tally);
        Seconds += run.Seconds;
        ClientCpuSeconds += run.ClientCpuSeconds;
        ServerCpuSeconds += serverCpuSeconds;
    }
}

/// <summary>One phase (a workload) on both targets.</summary>
public sealed class PhaseResult(Workload workload, TargetResult bare, TargetResult listener)
{
    public Workload Workload { get; } = workload;

    public TargetResult Bare { get; } = bare;

    public TargetResult Listener { get; } = listener;
}
