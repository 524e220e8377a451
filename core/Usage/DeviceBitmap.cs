using System.Numerics;

namespace Dls.Core.Usage;

/// <summary>
/// A set of devices (their <c>usage_client</c> ids) as bits, kept in chunks of <see cref="ChunkBits"/> so a day
/// in which a few thousand devices were active is a few small blobs. Sets of several periods join by OR, so
/// the distinct devices of any union of days and months is counted exactly without reading one row per device.
/// </summary>
internal static class DeviceBitmap
{
    public const int ChunkBits = 4096;
    public const int ChunkBytes = ChunkBits / 8;

    public static long ChunkOf(long clientId) => clientId / ChunkBits;

    public static void Set(byte[] bits, long clientId)
    {
        var bit = (int)(clientId % ChunkBits);
        bits[bit >> 3] |= (byte)(1 << (bit & 7));
    }

    public static void Or(byte[] into, byte[] from)
    {
        for (var i = 0; i < Math.Min(into.Length, from.Length); i++)
        {
            into[i] |= from[i];
        }
    }

    public static long Count(byte[] bits)
    {
        long count = 0;
        foreach (var b in bits)
        {
            count += BitOperations.PopCount(b);
        }

        return count;
    }
}
