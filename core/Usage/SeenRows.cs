namespace Dls.Core.Usage;

/// <summary>
/// The "first seen" rows (a device in a period at the code or item level, an instance in a slice) the listener's writer
/// knows to be stored, so that a device reporting again in the same period costs no statement to find that out
/// (only rows of committed roll-ups; see <see cref="CommittedCache{TKey, TValue}"/>).
/// </summary>
internal sealed class SeenRows
{
    private readonly CommittedCache<UsageRollupWriter.SeenKey, bool> _devices = new();
    private readonly CommittedCache<UsageRollupWriter.InstanceKey, bool> _instances = new();

    public bool Known(UsageRollupWriter.SeenKey key) => _devices.TryFind(key, out _);

    public bool Known(UsageRollupWriter.InstanceKey key) => _instances.TryFind(key, out _);

    /// <summary>The row is stored once the current transaction commits.</summary>
    public void Learnt(UsageRollupWriter.SeenKey key) => _devices.Learnt(key, true);

    /// <summary>The row is stored once the current transaction commits.</summary>
    public void Learnt(UsageRollupWriter.InstanceKey key) => _instances.Learnt(key, true);

    public void Committed()
    {
        _devices.Committed();
        _instances.Committed();
    }

    public void Failed()
    {
        _devices.Failed();
        _instances.Failed();
    }
}
