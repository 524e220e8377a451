using System.Buffers;

namespace Dls.Listener.Protocol;

/// <summary>
/// A request body in a buffer rented from <see cref="ArrayPool{T}.Shared"/>; disposing returns the buffer, so read
/// what is needed (the parsed request copies its strings) before the lease ends.
/// </summary>
public sealed class PooledBody : IDisposable
{
    private byte[]? _buffer;
    private readonly int _length;

    internal PooledBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
    }

    public ReadOnlyMemory<byte> Memory => (_buffer ?? throw new ObjectDisposedException(nameof(PooledBody))).AsMemory(0, _length);

    public void Dispose()
    {
        // Exchanged, so a second Dispose cannot hand the same array to the pool twice.
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            Return(buffer, _length);
        }
    }

    /// <summary>
    /// Hands a buffer back to the pool with its used bytes cleared: an auth body holds a session password, and the
    /// pool is shared with the whole process.
    /// </summary>
    internal static void Return(byte[] buffer, int used)
    {
        buffer.AsSpan(0, used).Clear();
        ArrayPool<byte>.Shared.Return(buffer);
    }
}
