using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace Dls.Client.Internal;

/// <summary>
/// The usage a process has recorded but not yet sealed into batches, kept on disk every few seconds so that a process
/// that is killed loses at most those seconds (docs/client.md, "Offline").
/// </summary>
/// <remarks>
/// The journal is one open batch per process in <c>pending/</c>: <c>{ticks}-{id}.open</c>, the report body of the sums
/// so far under the batch id <c>id</c>, rewritten whole as they grow, and <c>{id}.owner</c>, a file the process holds
/// open without sharing (an exclusive lock on Windows, <c>flock</c> on Unix) for as long as it lives. Sealing writes the
/// sums to the open batch, turns them into the batches <c>{ticks}-{id}.json</c> (<c>{id}-1</c>, <c>{id}-2</c>… when
/// they need several) and then removes the open batch. A process that finds an open batch whose owner file it can lock knows its owner is gone,
/// and seals it the same way: the same names and ids, so a batch that was sealed already (or even sent) is not made
/// again under another id, and nothing is counted twice. Senders never send <c>.open</c> files.
/// </remarks>
internal sealed class UsageJournal : IDisposable
{
    // A report batch (SPEC §4): at most 1000 records in a body of at most 1 MiB; the client stays a margin below.
    private const int MaxBatchRecords = 1000;
    private const int MaxBatchBytes = 960 * 1024;

    private readonly string _folder;
    private readonly string _clientUuid;
    private readonly string _handshakeCode;
    private string? _id;
    private long _ticks;
    private FileStream? _owner;

    // Records whose seal wrote the open batch but not every batch file (the disk failed): finished before anything else.
    private List<UsageRecord>? _sealing;

    public UsageJournal(string folder, string clientUuid, string handshakeCode)
    {
        _folder = folder;
        _clientUuid = clientUuid;
        _handshakeCode = handshakeCode;
    }

    /// <summary>Writes the sums so far as this process's open batch (started on the first call after a seal).</summary>
    public void Save(IReadOnlyList<UsageRecord> records, DateTimeOffset now)
    {
        FinishSeal();
        if (records.Count == 0)
        {
            return;
        }

        Open(now);
        AtomicFile.Write(OpenPath(_folder, _ticks, _id!), Wire.ReportBody(_clientUuid, _handshakeCode, _id!, records));
    }

    /// <summary>
    /// Seals <paramref name="records"/> (everything recorded since the last seal) into pending batches under this
    /// journal's id, then removes the open batch. Returns the batches written (id, record count, units).
    /// </summary>
    /// <remarks>
    /// The open batch is first rewritten with exactly these records, and the batch files are made from them: whoever
    /// finishes the seal (this process after a disk failure, or the next one after a crash) makes the same files from
    /// the same records, and one already made is left as it is. Once the open batch holds the records they are the
    /// journal's: a failure after that point is not thrown (it is in <see cref="Deferred"/>) and does not give them back
    /// to the caller; the next seal or save finishes them.
    /// </remarks>
    /// <exception cref="IOException">The open batch could not be written: nothing was sealed, the caller keeps the records.</exception>
    public List<(string BatchId, int Records, long Units)> Seal(List<UsageRecord> records, DateTimeOffset now)
    {
        Deferred = null;
        var written = FinishSeal();
        if (records.Count == 0)
        {
            Close();
            return written;
        }

        Open(now);
        AtomicFile.Write(OpenPath(_folder, _ticks, _id!), Wire.ReportBody(_clientUuid, _handshakeCode, _id!, records));
        _sealing = records;
        try
        {
            written.AddRange(FinishSeal());
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            Deferred = error;
        }

        return written;
    }

    /// <summary>Why the last <see cref="Seal"/> took the records but could not write every batch file yet (null: it could).</summary>
    public Exception? Deferred { get; private set; }

    /// <summary>
    /// Seals the open batches of processes that have ended (their owner file can be locked) into pending batches, as
    /// their owner would have. Returns how many were taken over.
    /// </summary>
    public static int AdoptOrphans(string folder)
    {
        var adopted = 0;
        string[] open;
        try
        {
            open = Directory.GetFiles(folder, "*.open");
        }
        catch (DirectoryNotFoundException)
        {
            return 0;
        }

        foreach (var path in open)
        {
            var name = Path.GetFileNameWithoutExtension(path);
            var dash = name.IndexOf('-');
            if (dash != 19 || !long.TryParse(name.Substring(0, 19), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks))
            {
                continue;
            }

            var id = name.Substring(20);
            FileStream owner;
            try
            {
                owner = new FileStream(OwnerPath(folder, id), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                continue; // its process is alive and will seal it
            }

            using (owner)
            {
                var content = AtomicFile.ReadOrNull(path);
                if (content is not null)
                {
                    try
                    {
                        var (clientUuid, code, _, records) = Wire.ReadReport(content);
                        WriteBatches(folder, ticks, id, clientUuid, code, records);
                        adopted++;
                    }
                    catch (FormatException)
                    {
                        PendingBatches.SetAside(path);
                    }
                }

                AtomicFile.TryDelete(path);
            }

            AtomicFile.TryDelete(OwnerPath(folder, id));
        }

        return adopted;
    }

    /// <summary>
    /// Lets go of the owner lock and leaves an open batch where it is: a journal not sealed (the disk failed) is sealed by
    /// the next process, not lost.
    /// </summary>
    public void Dispose()
    {
        _owner?.Dispose();
        _owner = null;
    }

    /// <summary>Writes the batch files of a seal that wrote its open batch, then closes the journal; a failure leaves it for the next call.</summary>
    private List<(string BatchId, int Records, long Units)> FinishSeal()
    {
        if (_sealing is null)
        {
            return new List<(string, int, long)>();
        }

        var written = WriteBatches(_folder, _ticks, _id!, _clientUuid, _handshakeCode, _sealing);
        _sealing = null;
        Close();
        return written;
    }

    private void Open(DateTimeOffset now)
    {
        if (_id is not null)
        {
            return;
        }

        var id = Guid.NewGuid().ToString("N");

        // The owner lock first: an open batch is never seen without a live owner holding it.
        _owner = new FileStream(OwnerPath(_folder, id), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        _id = id;
        _ticks = now.UtcTicks;
    }

    /// <summary>
    /// The batches of <paramref name="records"/>: at most 1000 records and under 960 KiB each, the first under
    /// <paramref name="id"/> and the next ones under <c>{id}-1</c>, <c>{id}-2</c>…; one that exists already is left as it is.
    /// </summary>
    private static List<(string BatchId, int Records, long Units)> WriteBatches(
        string folder, long ticks, string id, string clientUuid, string code, List<UsageRecord> records)
    {
        var written = new List<(string, int, long)>();
        var start = 0;
        for (var part = 0; start < records.Count; part++)
        {
            var batchId = part == 0 ? id : id + "-" + part.ToString(CultureInfo.InvariantCulture);
            var take = Math.Min(MaxBatchRecords, records.Count - start);
            var body = Wire.ReportBody(clientUuid, code, batchId, records.Skip(start).Take(take));
            while (body.Length > MaxBatchBytes && take > 1)
            {
                take /= 2;
                body = Wire.ReportBody(clientUuid, code, batchId, records.Skip(start).Take(take));
            }

            var path = Path.Combine(folder, ticks.ToString("D19", CultureInfo.InvariantCulture) + "-" + batchId + ".json");
            if (AtomicFile.CreateNew(path, body))
            {
                written.Add((batchId, take, records.Skip(start).Take(take).Sum(r => r.Count)));
            }

            start += take;
        }

        return written;
    }

    private void Close()
    {
        if (_id is null)
        {
            return;
        }

        // The open batch goes before its owner lock: an adopter never finds it unowned while it is still this process's.
        AtomicFile.TryDelete(OpenPath(_folder, _ticks, _id));
        _owner?.Dispose();
        _owner = null;
        AtomicFile.TryDelete(OwnerPath(_folder, _id));
        _id = null;
    }

    private static string OpenPath(string folder, long ticks, string id) =>
        Path.Combine(folder, ticks.ToString("D19", CultureInfo.InvariantCulture) + "-" + id + ".open");

    private static string OwnerPath(string folder, string id) => Path.Combine(folder, id + ".owner");
}
