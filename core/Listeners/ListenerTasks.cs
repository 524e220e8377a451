using Dls.Core.Storage;

namespace Dls.Core.Listeners;

/// <summary>
/// Tasks that must run once across the listeners of a store however many run (the usage retention): a listener runs
/// one only after claiming it, and a claim succeeds for one listener per interval. The claim is one conditional write
/// in a write transaction, which the store's write lock serialises between listeners, on any engine.
/// </summary>
public sealed class ListenerTasks(DlsStore store, TimeProvider time)
{
    /// <summary>The usage retention's purge (<see cref="Usage.UsageRetention"/>).</summary>
    public const string Retention = "retention";

    /// <summary>
    /// Claims <paramref name="task"/> for <paramref name="holder"/> if no listener has run it within the last
    /// <paramref name="every"/>; true when the caller is to run it now.
    /// </summary>
    public bool TryClaim(string task, TimeSpan every, string holder)
    {
        var now = time.GetUtcNow();
        return store.Write(work => work.Stores.Server.ClaimTask(work, task, holder, now, now - every));
    }
}
