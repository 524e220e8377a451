using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Dls.Client.Internal;

/// <summary>
/// Report batches not yet acknowledged, one file each (<c>{ticks}-{batchId}.json</c>, the exact body to send, written by
/// <see cref="UsageJournal"/>), so a batch keeps its id until the server acknowledges it, across restarts and processes:
/// sent twice, it counts once.
/// </summary>
internal sealed class PendingBatches
{
    private readonly string _folder;

    public PendingBatches(string folder)
    {
        _folder = folder;
    }

    /// <summary>The batch files, oldest first.</summary>
    public IReadOnlyList<string> List()
    {
        try
        {
            return Directory.GetFiles(_folder, "*.json").OrderBy(Path.GetFileName, StringComparer.Ordinal).ToList();
        }
        catch (DirectoryNotFoundException)
        {
            return Array.Empty<string>();
        }
    }

    public int Count => List().Count;

    /// <summary>Moves a file that cannot be read aside (<c>.damaged</c>), where it no longer blocks the others.</summary>
    public static void SetAside(string path)
    {
        try
        {
            File.Move(path, path + ".damaged");
        }
        catch (IOException)
        {
            AtomicFile.TryDelete(path);
        }
    }
}
