using Dls.Core.Server;

namespace Dls.Core.Listeners;

/// <summary>A listener process as it recorded itself in the store: when it started, and its last heartbeat.</summary>
/// <param name="Host">The machine it runs on (<see cref="Environment.MachineName"/>); empty for a listener of an older version.</param>
/// <param name="HeartbeatAt">Its last heartbeat (null: none yet, or a listener of an older version).</param>
/// <param name="Serving">Whether it answered auth and report requests at its last heartbeat (a standby does not while a main is alive).</param>
public sealed record ListenerRecord(
    string Url,
    int ProcessId,
    DateTime? ProcessStartedAt,
    DateTime StartedAt,
    string Version,
    ServerRole Role = ServerRole.Main,
    string Host = "",
    DateTime? HeartbeatAt = null,
    bool Serving = false)
{
    /// <summary>Whether its heartbeat is recent at <paramref name="now"/> (<see cref="ListenerLiveness"/>).</summary>
    public bool IsAlive(DateTimeOffset now) => ListenerLiveness.IsAlive(HeartbeatAt, now);

    /// <summary>Whether it runs on this machine (its process can be looked at and signalled from here).</summary>
    public bool IsOnThisMachine => Host.Length == 0 || string.Equals(Host, Environment.MachineName, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether this record is the listener process <paramref name="processId"/> on this machine.</summary>
    public bool Is(int processId) => ProcessId == processId && IsOnThisMachine;
}
