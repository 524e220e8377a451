using Dls.Core.Listeners;
using Dls.Core.Server;

namespace Dls.Module.Hosting;

public enum ListenerStatus
{
    /// <summary>The process is alive and answers /healthz (on another machine: its heartbeat is recent).</summary>
    Running,

    /// <summary>The process is alive but /healthz does not answer (starting, or stuck); on another machine: its heartbeat is old.</summary>
    NotResponding,

    /// <summary>The recorded process is gone (it crashed or was killed without cleaning up).</summary>
    Exited,

    /// <summary>Stopped by Stop-DlsListener.</summary>
    Stopped,
}

/// <summary>A listener of the store as Start-, Get- and Stop-DlsListener report it.</summary>
public sealed record ListenerInfo(string Url, int ProcessId, ListenerStatus Status, string? Uuid, DateTime StartedAt, string StorePath)
{
    /// <summary>Main or Standby (SPEC §7).</summary>
    public ServerRole Role { get; init; }

    /// <summary>The machine the listener runs on.</summary>
    public string Host { get; init; } = string.Empty;

    /// <summary>How old its last heartbeat is (null: it has written none).</summary>
    public TimeSpan? HeartbeatAge { get; init; }

    /// <summary>Whether its heartbeat is recent (<see cref="ListenerLiveness.AliveWithin"/>): what a standby goes by, on any machine.</summary>
    public bool Alive { get; init; }

    /// <summary>Whether it answered auth and report requests at its last heartbeat (a standby does not while a main is alive).</summary>
    public bool Serving { get; init; }

    /// <summary>The recorded state of <paramref name="record"/> at <paramref name="now"/>, with <paramref name="status"/> as found.</summary>
    public static ListenerInfo Of(ListenerRecord record, ListenerStatus status, string? uuid, string storePath, DateTimeOffset now)
    {
        var alive = status is not (ListenerStatus.Exited or ListenerStatus.Stopped) && record.IsAlive(now);
        return new ListenerInfo(record.Url, record.ProcessId, status, uuid, record.StartedAt, storePath)
        {
            Role = record.Role,
            Host = record.Host,
            HeartbeatAge = record.HeartbeatAt is { } at ? now - at : null,
            Alive = alive,
            Serving = alive && record.Serving,
        };
    }
}
