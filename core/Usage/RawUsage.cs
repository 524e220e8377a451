using Dls.Core.Storage;

namespace Dls.Core.Usage;

/// <summary>Reads the raw usage kept per report batch (for audits, exports and checks that every acknowledged record is kept).</summary>
public static class RawUsage
{
    /// <summary>The raw batches after <paramref name="afterId"/> in the order they were received, at most <paramref name="limit"/>.</summary>
    public static IReadOnlyList<RawUsageBatch> Batches(DlsStore store, long afterId = 0, int limit = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.Query(work => work.Stores.Usage.RawBatches(work, afterId, limit));
    }
}
