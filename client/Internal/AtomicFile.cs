using System;
using System.IO;
using System.Threading;

namespace Dls.Client.Internal;

/// <summary>
/// Files other processes of the same application read and write: each is written whole to a file of its own name and
/// renamed into place, so a reader sees the old content or the new one, never a part.
/// </summary>
internal static class AtomicFile
{
    public static void Write(string path, byte[] content)
    {
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
        {
            stream.Write(content, 0, content.Length);
            stream.Flush(flushToDisk: true);
        }

        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (File.Exists(path))
                {
                    File.Replace(temporary, path, destinationBackupFileName: null, ignoreMetadataErrors: true);
                }
                else
                {
                    File.Move(temporary, path);
                }

                return;
            }
            catch (Exception error) when ((error is IOException or UnauthorizedAccessException) && attempt < 20)
            {
                // Another process replaced or created it between our check and our rename (or holds it open on Windows).
                Thread.Sleep(10 + (attempt * 5));
            }
            catch
            {
                TryDelete(temporary);
                throw;
            }
        }
    }

    /// <summary>Creates <paramref name="path"/> with <paramref name="content"/> unless it exists; false when another writer was first.</summary>
    public static bool CreateNew(string path, byte[] content)
    {
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
        {
            stream.Write(content, 0, content.Length);
            stream.Flush(flushToDisk: true);
        }

        try
        {
            // Move never replaces: of two processes creating the same file, one wins and the other reads the winner's.
            File.Move(temporary, path);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            TryDelete(temporary);
            return false;
        }
    }

    public static byte[]? ReadOrNull(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception error) when (error is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
        }
    }
}
