using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Dls.Client.Internal;

/// <summary>
/// One process of an application at a time sends its pending batches: a lock file opened without sharing (an exclusive
/// lock on Windows, <c>flock</c> on Unix), released when the process ends however it ends.
/// </summary>
internal sealed class FolderLock : IDisposable
{
    private readonly FileStream _stream;

    private FolderLock(FileStream stream)
    {
        _stream = stream;
    }

    /// <summary>The lock, once it is free; null when <paramref name="timeout"/> passes first.</summary>
    public static async Task<FolderLock?> AcquireAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        var wait = 10;
        while (true)
        {
            try
            {
                return new FolderLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                wait = Math.Min(wait * 2, 200);
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}
