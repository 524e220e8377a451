namespace Dls.Core.Listeners;

/// <summary>
/// How listeners of one store know which of them are alive, on one machine or several (SPEC §7): each writes a
/// heartbeat into the store every <see cref="HeartbeatInterval"/>, and one whose last heartbeat is more than
/// <see cref="AliveWithin"/> old is taken for dead. A standby takes over once the main's heartbeat is that old, so a
/// main that hangs, or dies on another machine, is replaced within <see cref="AliveWithin"/> + <see cref="HeartbeatInterval"/>
/// (about 6 s); one whose process is gone from the standby's machine at the standby's next beat (<see cref="LocalProcess"/>).
/// </summary>
public static class ListenerLiveness
{
    /// <summary>How often a listener writes its heartbeat and reads the others'.</summary>
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How old a heartbeat may be for its listener to count as alive: five missed beats. Long enough that a busy
    /// store (a heartbeat waits for the write lock like any writer) or a clock a little off between machines does not
    /// make a running main look dead; short enough that clients wait seconds, not minutes, when it dies.
    /// </summary>
    public static readonly TimeSpan AliveWithin = TimeSpan.FromSeconds(5);

    /// <summary>Whether a listener whose last heartbeat was at <paramref name="heartbeatAt"/> is alive at <paramref name="now"/>.</summary>
    public static bool IsAlive(DateTimeOffset? heartbeatAt, DateTimeOffset now) =>
        heartbeatAt is { } at && now - at <= AliveWithin;
}
