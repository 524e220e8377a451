using Dls.Core.Server;

namespace Dls.Core.Listeners;

/// <summary>
/// Which listener serves (SPEC §7): a main always does; a standby only while no main listener of its store is alive.
/// A listener is alone while no other listener of its store is alive: only then may it keep work for later that
/// assumes it is the store's one writer (the deferred roll-ups of <see cref="Usage.StatisticsBuffer"/>).
/// </summary>
public static class ServingRule
{
    /// <summary>Whether a listener of <paramref name="role"/> serves, given the <paramref name="others"/> of its store.</summary>
    public static bool Serves(ServerRole role, IEnumerable<ListenerRecord> others, DateTimeOffset now) =>
        role == ServerRole.Main || !others.Any(other => other.Role == ServerRole.Main && other.IsAlive(now));

    /// <summary>Whether none of the <paramref name="others"/> of its store is alive.</summary>
    public static bool Alone(IEnumerable<ListenerRecord> others, DateTimeOffset now) =>
        !others.Any(other => other.IsAlive(now));

    /// <summary>The records of <paramref name="all"/> that are not this machine's process <paramref name="processId"/>.</summary>
    public static IEnumerable<ListenerRecord> Others(IEnumerable<ListenerRecord> all, int processId) =>
        all.Where(record => !record.Is(processId));
}
