using Dls.Client.Internal;

namespace Dls.Client.Tests;

/// <summary>
/// The journal of unsealed usage: whoever finishes a seal (the process itself, or the next one after a crash) makes
/// the same batch files from it, and one made already is kept, so a seal cut short never counts usage twice or loses it.
/// </summary>
public sealed class UsageJournalTests : IDisposable
{
    private static readonly DateTimeOffset Slice = new(2026, 12, 3, 10, 57, 0, TimeSpan.Zero);
    private readonly string _root = Directory.CreateTempSubdirectory("dls-client-journal-").FullName;

    [Fact]
    public void A_seal_cut_short_after_its_first_batch_file_is_finished_from_the_journal_into_the_same_files()
    {
        // 1500 records: two batches (1000 + 500), the second under the id "{id}-1".
        var records = Enumerable.Range(0, 1500).Select(i => new UsageRecord(Slice, "I-1", "DBR", i + 1, $"worker-{i:D4}", null)).ToList();
        var whole = Folder("whole");
        var cut = Folder("cut");
        using (var journal = new UsageJournal(whole, "device", "216998-app"))
        {
            journal.Save(records, Slice);
        }

        // The same journal twice: the process died once it had written its open batch.
        foreach (var file in Directory.GetFiles(whole))
        {
            File.Copy(file, Path.Combine(cut, Path.GetFileName(file)));
        }

        Assert.Equal(1, UsageJournal.AdoptOrphans(whole));
        var sealedWhole = Contents(whole);
        Assert.Equal(2, sealedWhole.Count);

        // In the other copy the seal had written its first batch file before it stopped: finishing it keeps that file
        // and writes the second, the same as the whole seal.
        var first = sealedWhole.Keys.OrderBy(name => name.Length).First();
        File.WriteAllBytes(Path.Combine(cut, first), sealedWhole[first]);
        Assert.Equal(1, UsageJournal.AdoptOrphans(cut));

        Assert.Equal(sealedWhole, Contents(cut));
        Assert.Equal(records.Sum(r => r.Count), sealedWhole.Values.Sum(body => Wire.ReadReport(body).Records.Sum(r => r.Count)));
        Assert.Empty(Directory.GetFiles(cut, "*.open"));
        Assert.Empty(Directory.GetFiles(cut, "*.owner"));
    }

    [Fact]
    public void A_journal_whose_process_lives_is_not_taken_over()
    {
        var folder = Folder("alive");
        using var journal = new UsageJournal(folder, "device", "216998-app");
        journal.Save([new UsageRecord(Slice, "I-1", "DBR", 3, null, null)], Slice);

        Assert.Equal(0, UsageJournal.AdoptOrphans(folder));
        Assert.Single(Directory.GetFiles(folder, "*.open"));
        Assert.Empty(Directory.GetFiles(folder, "*.json"));

        // Its own seal writes the batch under the journal's id and removes the journal.
        var written = journal.Seal([new UsageRecord(Slice, "I-1", "DBR", 5, null, null)], Slice);
        var batch = Assert.Single(written);
        Assert.Equal((1, 5L), (batch.Records, batch.Units));
        Assert.Equal(batch.BatchId, Wire.ReadReport(File.ReadAllBytes(Assert.Single(Directory.GetFiles(folder, "*.json")))).BatchId);
        Assert.Empty(Directory.GetFiles(folder, "*.open"));
        Assert.Empty(Directory.GetFiles(folder, "*.owner"));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;

    private static Dictionary<string, byte[]> Contents(string folder) =>
        Directory.GetFiles(folder, "*.json").ToDictionary(path => Path.GetFileName(path), File.ReadAllBytes);
}
