using System.Data.Common;
using System.Text;
using Dls.Core.Storage;
using Dls.Core.Storage.Sql;
using Dls.Core.Usage;
using Microsoft.Data.Sqlite;
using static Dls.Core.Tests.UsageFacts;

using Dls.Tests;

namespace Dls.Core.Tests;

/// <summary>The listener writer's shortcuts: cached statements, and report batches added up before they are written.</summary>
public sealed class WritePathTests : IDisposable
{
    private static readonly string[] UsageTables =
        ["usage_client", "auth_event", "usage_rollup", "usage_device", "usage_seen", "usage_instance_seen", "usage_feature", "usage_device_bits"];

    private readonly TempStore _one = new();
    private readonly TempStore _batched = new();

    public void Dispose()
    {
        _one.Dispose();
        _batched.Dispose();
    }

    [Fact]
    public void A_units_prepared_statement_sees_each_transactions_own_state_and_parameters()
    {
        var store = _one.Initialized();
        const string Insert = "INSERT INTO probe (name, value) VALUES (@name, @value);";
        const string Read = "SELECT value FROM probe WHERE name = @name;";
        store.Write(work =>
        {
            using var create = Units.Sqlite(work).Connection.CreateCommand();
            create.Transaction = Units.Sqlite(work).Transaction;
            create.CommandText = "CREATE TABLE probe (name TEXT PRIMARY KEY, value TEXT NOT NULL);";
            create.ExecuteNonQuery();
        });

        // The writer's kind of unit: one connection and its statements over successive transactions.
        using (var writer = store.OpenWriter())
        {
            var unit = SqlUnitOfWork.Of(writer);
            var insert = unit.Command(Insert);
            insert.Parameters.AddWithValue("@name", "a");
            insert.Parameters.AddWithValue("@value", "1");
            insert.ExecuteNonQuery();
            writer.Commit();

            var again = unit.Command(Insert);
            Assert.Same(insert, again);
            Assert.Empty(again.Parameters);
            writer.Savepoint("b");
            again.Parameters.AddWithValue("@name", "b");
            again.Parameters.AddWithValue("@value", "2");
            again.ExecuteNonQuery();
            Assert.Equal("2", ReadValue(unit, "b"));
            writer.RollbackTo("b");
            writer.Release("b");
            Assert.Null(ReadValue(unit, "b"));
            writer.Commit();
            Assert.Same(unit.Command(Read), unit.Command(Read));
        }

        using var reader = store.BeginRead();
        Assert.Equal("1", ReadValue(SqlUnitOfWork.Of(reader), "a"));
        Assert.Null(ReadValue(SqlUnitOfWork.Of(reader), "b"));

        static string? ReadValue(SqlUnitOfWork unit, string name)
        {
            var read = unit.Command(Read);
            read.Parameters.AddWithValue("@name", name);
            return read.ExecuteScalar() as string;
        }
    }

    [Fact]
    public void A_write_unit_disposed_without_commit_leaves_nothing_behind()
    {
        var store = _one.Initialized();
        using (var work = store.BeginWrite())
        {
            Audit.AuditLog.Write(work, DateTimeOffset.UtcNow, "Probe.Uncommitted", "probe");
        }

        store.Write(work => Audit.AuditLog.Write(work, DateTimeOffset.UtcNow, "Probe.Committed", "probe"));

        var actions = Audit.AuditLog.Read(store, null).Select(e => e.Action).ToList();
        Assert.Contains("Probe.Committed", actions);
        Assert.DoesNotContain("Probe.Uncommitted", actions);
    }

    [Fact]
    public void Facts_written_as_one_batch_leave_the_same_tables_as_facts_written_one_by_one()
    {
        var (usage, authorizations) = Random(seed: 4242);
        var one = _one.Initialized();
        var batched = _batched.Initialized();
        // Another client's history first, so that the batch meets rows that already exist.
        Write(one, usage.Take(100), authorizations.Take(40));
        Write(batched, usage.Take(100), authorizations.Take(40));

        one.Write((connection, transaction) =>
        {
            foreach (var fact in usage.Skip(100))
            {
                UsageStatistics.RecordUsage(connection, transaction, fact);
            }

            foreach (var fact in authorizations.Skip(40))
            {
                UsageStatistics.RecordAuthorization(connection, transaction, fact);
            }
        });
        Write(batched, usage.Skip(100), authorizations.Skip(40));

        foreach (var table in UsageTables)
        {
            Assert.Equal(Dump(one, table), Dump(batched, table));
        }

        Assert.NotEqual(string.Empty, Dump(batched, "usage_device_bits"));
        Assert.Equal(RawRecords(one), RawRecords(batched));
        Assert.Equal(usage.Count, RawRecords(batched).Count);
    }

    [Fact]
    public void Records_of_one_report_summed_per_slice_item_and_instance_leave_the_same_roll_ups_as_written_one_by_one()
    {
        var (usage, _) = Random(seed: 99);
        var one = _one.Initialized();
        var summed = _batched.Initialized();
        Write(one, usage, []);

        // What LicenseAuthority.Report hands the roll-ups: one fact per slice, item and instance of a client's report.
        var facts = usage
            .GroupBy(f => (f.ReceivedAt, f.Slice, f.HandshakeCode, f.ItemId, f.ClientUuid, f.InstanceId))
            .Select(g => g.First() with
            {
                Count = g.Sum(f => f.Count),
                Records = g.Count(),
                Features = g.Any(f => f.Features is not null)
                    ? g.Where(f => f.Features is not null).SelectMany(f => f.Features!).GroupBy(p => p.Key).ToDictionary(p => p.Key, p => p.Sum(x => x.Value))
                    : null,
            })
            .ToList();
        Assert.True(facts.Count < usage.Count, "the sample must hold records that sum");
        summed.Write(work => UsageStatistics.RollUpUsage(work, facts));

        foreach (var table in UsageTables)
        {
            Assert.Equal(Dump(one, table), Dump(summed, table));
        }
    }

    [Fact]
    public void Roll_ups_that_skip_the_first_seen_rows_known_stored_leave_the_same_tables_even_after_a_failed_transaction()
    {
        var (usage, _) = Random(seed: 4343);
        var plain = _one.Initialized();
        var cached = _batched.Initialized();
        plain.Write(work => UsageStatistics.RollUpUsage(work, usage));

        // The listener's writer: several roll-ups in turn, with what each stored known to the next ones; one of them
        // fails after learning rows that are then not stored, and is done again.
        var known = new SeenRows();
        var chunks = usage.Chunk(60).ToList();
        Assert.Throws<InvalidOperationException>(() => cached.Write(work =>
        {
            UsageStatistics.RollUpUsage(work, chunks[^1], known);
            throw new InvalidOperationException("the commit failed");
        }));
        known.Failed();
        foreach (var chunk in chunks)
        {
            cached.Write(work => UsageStatistics.RollUpUsage(work, chunk, known));
            known.Committed();
        }

        foreach (var table in UsageTables)
        {
            Assert.Equal(Dump(plain, table), Dump(cached, table));
        }
    }

    [Fact]
    public async Task Authorizations_batched_by_the_writer_are_counted_once_each_and_a_failed_batch_counts_none()
    {
        var fixture = new AuthorityFixture();
        try
        {
            fixture.Item("R", Dls.Core.Licensing.LicenseMode.PerDeviceYearly, 20, product: "DLR");
            Dls.Tests.TestCatalog.AddCode(fixture.Store, "216998-app", ["R"]);
            var statistics = new StatisticsBuffer();
            var authority = new Dls.Core.Protocol.LicenseAuthority(new Dls.Core.Crypto.SessionPasswordCache(), statistics);
            var failNext = false;
            await using (var writer = new GroupCommitWriter(fixture.Store, beforeCommit: work =>
            {
                if (failNext)
                {
                    failNext = false;
                    throw new SqliteException("simulated failure before commit", 1);
                }
            }, deferred: statistics))
            {
                var outcomes = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => Task.Run(() =>
                    writer.SubmitAsync(work => authority.Authorize(work, AuthorityFixture.Request($"racer-{i}", product: "DLR"), fixture.Now)))));
                Assert.Equal(22, outcomes.Count(o => o.Grant is not null));

                failNext = true;
                await Assert.ThrowsAsync<SqliteException>(() =>
                    writer.SubmitAsync(work => authority.Authorize(work, AuthorityFixture.Request("lost", product: "DLR"), fixture.Now)));
                var holder = $"racer-{Array.FindIndex(outcomes, o => o.Grant is not null)}";
                var after = await writer.SubmitAsync(work => authority.Authorize(work, AuthorityFixture.Request(holder, product: "DLR"), fixture.Now));
                Assert.NotNull(after.Grant);
            }

            var rows = new UsageQuery(fixture.Store, fixture.Clock).Get(
                fixture.Now.AddDays(-1), fixture.Now.AddDays(1), UsageInterval.Total, UsageGrouping.Code, null, null);
            var code = Assert.Single(rows, r => r.HandshakeCode == "216998-app");
            Assert.Equal((61L, 38L), (code.Authorizations, code.FailedAuthorizations));
            Assert.Equal(61L, fixture.Store.Read(c =>
            {
                using var command = c.CreateCommand();
                command.CommandText = "SELECT count(*) FROM auth_event;";
                return (long)command.ExecuteScalar()!;
            }));
        }
        finally
        {
            fixture.Dispose();
        }
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void Migration_50_builds_the_same_device_sets_from_a_store_written_before_it()
    {
        var (usage, authorizations) = Random(seed: 77);
        var store = _one.Initialized();
        Write(store, usage, authorizations);
        var written = Dump(store, "usage_device_bits");

        store.Write((connection, transaction) =>
        {
            using (var drop = connection.CreateCommand())
            {
                drop.Transaction = transaction;
                drop.CommandText = "DROP TABLE usage_device_bits;";
                drop.ExecuteNonQuery();
            }

            new Storage.Migrations.M0050_DeviceBitmaps().Apply((Microsoft.Data.Sqlite.SqliteConnection)connection, (Microsoft.Data.Sqlite.SqliteTransaction)transaction);
        });

        Assert.NotEqual(string.Empty, written);
        Assert.Equal(written, Dump(store, "usage_device_bits"));
    }

    /// <summary>Every raw record kept, with its client, code and time received, in a stable order.</summary>
    private static List<string> RawRecords(DlsStore store) =>
        RawUsage.Batches(store)
            .SelectMany(b => b.Records.Select(r =>
                $"{b.ClientUuid}|{b.HandshakeCode}|{b.ReceivedAt:O}|{r.Slice:O}|{r.ItemId}|{r.InstanceId}|{r.Count}|{string.Join(",", (r.Features ?? new Dictionary<string, long>()).OrderBy(f => f.Key).Select(f => $"{f.Key}={f.Value}"))}"))
            .Order(StringComparer.Ordinal)
            .ToList();

    private static string Dump(DlsStore store, string table) => store.Read(connection => Dls.Tests.StoreDigest.Rows(connection, table));
}
