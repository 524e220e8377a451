using Dls.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Usage;

/// <summary>
/// Adds devices to the day and month device sets (<c>usage_device_bits</c>, see <see cref="DeviceBitmap"/>) inside
/// the caller's transaction. Devices are collected per set and chunk, then each chunk is read, OR-ed and written
/// once, so a batch that brings ten thousand devices to a day costs a few statements per item, not one per device.
/// </summary>
internal sealed class DeviceBitmapWriter(SqliteConnection connection, SqliteTransaction transaction)
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

        var read = StatementCache.Get(connection, transaction, """
            SELECT bits FROM usage_device_bits
            WHERE level = $level AND grain = $grain AND period = $period AND handshake_code = $code AND item_id = $item AND chunk = $chunk;
            """, "$level", "$grain", "$period", "$code", "$item", "$chunk");
        var write = StatementCache.Get(connection, transaction, """
            INSERT INTO usage_device_bits (level, grain, period, handshake_code, item_id, chunk, bits)
            VALUES ($level, $grain, $period, $code, $item, $chunk, $bits)
            ON CONFLICT DO UPDATE SET bits = excluded.bits;
            """, "$level", "$grain", "$period", "$code", "$item", "$chunk", "$bits");
        foreach (var (key, bits) in _pending)
        {
            object[] values = [key.Level, key.Grain, key.Period, key.Code, key.Item, key.Chunk];
            for (var i = 0; i < values.Length; i++)
            {
                read.Parameters[i].Value = values[i];
                write.Parameters[i].Value = values[i];
            }

            if (read.ExecuteScalar() is byte[] stored)
            {
                DeviceBitmap.Or(bits, stored);
            }

            write.Parameters[6].Value = bits;
            write.ExecuteNonQuery();
        }

        _pending.Clear();
    }

    private readonly record struct ChunkKey(int Level, int Grain, long Period, string Code, string Item, long Chunk);
}
