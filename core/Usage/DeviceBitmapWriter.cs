using Dls.Core.Storage;

namespace Dls.Core.Usage;

/// <summary>
/// Adds devices to the day and month device sets (<c>usage_device_bits</c>, see <see cref="DeviceBitmap"/>) inside
/// the caller's transaction. Devices are collected per set and chunk, then each chunk is read, OR-ed and written
/// once, so a batch that brings ten thousand devices to a day costs a few statements per item, not one per device.
/// </summary>
internal sealed class DeviceBitmapWriter(UnitOfWork work)
{
    private readonly Dictionary<ChunkKey, byte[]> _pending = [];

    /// <summary>Whether a grain keeps device sets (day and month: the grains a long range is made of).</summary>
    public static bool Keeps(int grain) => grain >= (int)UsageGrain.Day;

    public int Pending => _pending.Count;

    public void Add(int level, int grain, long period, string code, string item, long clientId)
    {
        var key = new ChunkKey(level, grain, period, code, item, DeviceBitmap.ChunkOf(clientId));
        if (!_pending.TryGetValue(key, out var bits))
        {
            _pending[key] = bits = new byte[DeviceBitmap.ChunkBytes];
        }

        DeviceBitmap.Set(bits, clientId);
    }

    public void Flush()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        foreach (var (key, bits) in _pending)
        {
            var chunk = new DeviceBitsKey(key.Level, key.Grain, key.Period, key.Code, key.Item, key.Chunk);
            if (work.Stores.Usage.DeviceBits(work, chunk) is { } stored)
            {
                DeviceBitmap.Or(bits, stored);
            }

            work.Stores.Usage.SetDeviceBits(work, chunk, bits);
        }

        _pending.Clear();
    }

    private readonly record struct ChunkKey(int Level, int Grain, long Period, string Code, string Item, long Chunk);
}
