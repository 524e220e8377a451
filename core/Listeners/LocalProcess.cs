using System.Diagnostics;

namespace Dls.Core.Listeners;

/// <summary>
/// What this machine can tell about a listener's process beyond its heartbeat: a listener recorded on this machine whose
/// process is gone (killed, crashed, or the record came back with a restored store) is dead at once, without waiting
/// for its heartbeat to age. A listener on another machine is judged by its heartbeat alone.
/// </summary>
public static class LocalProcess
{
    /// <summary>
    /// Whether <paramref name="record"/> names a process of this machine that no longer runs: no process has its id, or
    /// the one that has it started at another time (the id was reused).
    /// </summary>
    public static bool IsGone(ListenerRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!record.IsOnThisMachine || record.Host.Length == 0)
        {
            return false;
        }

        try
        {
            using var process = Process.GetProcessById(record.ProcessId);
            if (process.HasExited)
            {
                return true;
            }

            // Clocks differ in precision: compare to the second.
            return record.ProcessStartedAt is { } started && Math.Abs((process.StartTime.ToUniversalTime() - started).TotalSeconds) > 2;
        }
        catch (ArgumentException)
        {
            return true;
        }
        catch (Exception error) when (error is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Not ours to look at: let the heartbeat decide.
            return false;
        }
    }
}
