namespace Dls.Core.Usage;

/// <summary>
/// The "first seen" rows (a device in a period at the code or item level, an instance in a slice) the listener's writer
/// knows to be stored, so that a device reporting again in the same period costs no statement to find that out. Rows
/// learnt during a roll-up count only once its transaction has committed (<see cref="Committed"/>); a failed one
/// forgets them (<see cref="Failed"/>). The set starts over every hour and when it grows past <see cref="MaxRows"/>:
/// what it forgets is only asked of the store again. Used by the writer's thread only.
/// </summary>
internal sealed class SeenRows
{
    public const int MaxRows = 100_000;

    private readonly HashSet<UsageRollupWriter.SeenKey> _devices = [];
    private readonly HashSet<UsageRollupWriter.InstanceKey> _instances = [];
    private readonly List<UsageRollupWriter.SeenKey> _learntDevices = [];
    private readonly List<UsageRollupWriter.InstanceKey> _learntInstances = [];
    private long _hour = long.MinValue;

    public bool Known(UsageRollupWriter.SeenKey key) => _devices.Contains(key);

    public bool Known(UsageRollupWriter.InstanceKey key) => _instances.Contains(key);

    /// <summary>The row is stored once the current transaction commits.</summary>
    public void Learnt(UsageRollupWriter.SeenKey key) => _learntDevices.Add(key);

    /// <summary>The row is stored once the current transaction commits.</summary>
    public void Learnt(UsageRollupWriter.InstanceKey key) => _learntInstances.Add(key);

    public void Committed()
    {
        var hour = Environment.TickCount64 / 3_600_000;
        if (hour != _hour || _devices.Count + _instances.Count + _learntDevices.Count + _learntInstances.Count > MaxRows)
        {
            _devices.Clear();
            _instances.Clear();
            _hour = hour;
        }

        _devices.UnionWith(_learntDevices);
        _instances.UnionWith(_learntInstances);
        Failed();
    }

    public void Failed()
    {
        _learntDevices.Clear();
        _learntInstances.Clear();
    }
}
