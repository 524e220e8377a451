using System.Net;

namespace Dls.Bench;

/// <summary>
/// One target of the comparison made of one or more processes of the same server (listeners on one store, or bare
/// Kestrels): the load generator splits its connections between their addresses, and their CPU times add up.
/// </summary>
public sealed class TargetGroup : IAsyncDisposable
{
    private TargetGroup(string name, IReadOnlyList<TargetProcess> processes)
    {
        Name = name;
        Processes = processes;
    }

    /// <summary>"listener" for one process, "listener ×2" for two.</summary>
    public string Name { get; }

    public IReadOnlyList<TargetProcess> Processes { get; }

    public IReadOnlyList<IPEndPoint> EndPoints => Processes.Select(p => p.EndPoint).ToList();

    /// <summary>The first process's address: where untimed setup requests go.</summary>
    public string Url => Processes[0].Url;

    /// <summary>
    /// Starts <paramref name="count"/> processes one after the other (a listener brings its store's schema up to date as
    /// it starts: one at a time, the later ones find it done).
    /// </summary>
    public static async Task<TargetGroup> StartAsync(string name, int count, string dll, IEnumerable<string> arguments)
    {
        var processes = new List<TargetProcess>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                processes.Add(await TargetProcess.StartAsync(name, dll, arguments));
            }
        }
        catch
        {
            foreach (var started in processes)
            {
                await started.DisposeAsync();
            }

            throw;
        }

        return new TargetGroup(count == 1 ? name : $"{name} ×{count}", processes);
    }

    /// <summary>User + system CPU seconds of all the processes so far.</summary>
    public double CpuSeconds() => Processes.Sum(p => p.CpuSeconds());

    /// <summary>Stops every process (SIGTERM, all at once) and returns their exit codes, in order (null: killed).</summary>
    public async Task<int?[]> StopAsync() => await Task.WhenAll(Processes.Select(p => p.StopAsync()));

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Processes)
        {
            await process.DisposeAsync();
        }
    }
}
