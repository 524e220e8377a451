using System.Data.Common;
using Dls.Core.Crypto;
using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Core.Usage;
using Dls.Tests;

namespace Dls.Core.Tests.Protocol;

/// <summary>SPEC §4 "Only authorized usage counts": a report record counts only with a grant for its item through its code.</summary>
public sealed class OnlyAuthorizedUsageTests : IDisposable
{
    private readonly AuthorityFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void The_attack_of_the_issue_is_refused_record_by_record_and_counts_nothing()
    {
        // Code "perfdev" holds only a per-device item; the scan item belongs to another code.
        _f.Item("DEV", LicenseMode.PerDeviceYearly, 10);
        _f.Item("SCAN", LicenseMode.PerScan, 1000, product: "DLR");
        TestCatalog.AddCode(_f.Store, "216998-perfdev", ["DEV"], isDefault: true);
        TestCatalog.AddCode(_f.Store, "216998-scans", ["SCAN"]);

        for (var batch = 0; batch < 2; batch++)
        {
            var answer = _f.Report(new ReportRequest("never-authorized", "216998-perfdev", $"evil-{batch}",
            [
                new UsageRecord(TimeSlice.StartOf(_f.Now), "SCAN", "MADEUP", 999_999_999, null, null),
                new UsageRecord(TimeSlice.StartOf(_f.Now), "DEV", "DBR", 5, null, null),
            ])).Answer!;
            Assert.Equal((0, 0, 2), (answer.Accepted, answer.Duplicates, answer.Refused));
            Assert.Equal([new RefusedRecord(0, ErrorCodes.NoMatchingItem), new RefusedRecord(1, ErrorCodes.NoGrant)], answer.RefusedRecords);
        }

        Assert.Equal(0, _f.Measure("SCAN").Used);
        Assert.Equal(0, _f.Measure("DEV").Used);
        Assert.Equal(0, Rows("usage_batch") + Rows("seat"));
    }

    [Fact]
    public void An_authorized_client_counts_exactly_once_and_the_rest_of_a_mixed_batch_is_listed()
    {
        _f.Item("S", LicenseMode.PerScan, 1000);
        _f.Code("216998-app", "S");
        Assert.Null(_f.Auth("a").Error);

        var batch = new ReportRequest("a", "216998-app", "mixed",
        [
            new UsageRecord(TimeSlice.StartOf(_f.Now), "S", "DBR", 7, null, null),
            new UsageRecord(TimeSlice.StartOf(_f.Now), "S", "DWT", 1, null, null),           // wrong product
            new UsageRecord(TimeSlice.StartOf(_f.Now), "S", "DBR", 100_001, null, null),     // over the per-slice bound
            new UsageRecord(TimeSlice.StartOf(_f.Now), "S", "dbr", 3, null, null),           // products match without case
        ]);
        var first = _f.Report(batch).Answer!;
        var again = _f.Report(batch).Answer!;

        Assert.Equal((2, 0, 2), (first.Accepted, first.Duplicates, first.Refused));
        Assert.Equal([new RefusedRecord(1, ErrorCodes.NoMatchingItem), new RefusedRecord(2, ErrorCodes.Malformed)], first.RefusedRecords);
        Assert.Equal((0, 4), (again.Accepted, again.Duplicates));
        Assert.Equal(10, _f.Measure("S").Used);
    }

    [Fact]
    public void A_grant_through_one_code_does_not_admit_usage_through_another()
    {
        _f.Item("S", LicenseMode.PerScan, 1000);
        TestCatalog.AddCode(_f.Store, "216998-one", ["S"], isDefault: true);
        TestCatalog.AddCode(_f.Store, "216998-two", ["S"]);
        Assert.Null(_f.Auth(AuthorityFixture.Request("a", code: "216998-one")).Error);

        var other = _f.Report(new ReportRequest("a", "216998-two", "b", [new UsageRecord(TimeSlice.StartOf(_f.Now), "S", "DBR", 5, null, null)])).Answer!;
        var own = _f.Report(new ReportRequest("a", "216998-one", "b", [new UsageRecord(TimeSlice.StartOf(_f.Now), "S", "DBR", 5, null, null)])).Answer!;

        Assert.Equal([new RefusedRecord(0, ErrorCodes.NoGrant)], other.RefusedRecords);
        Assert.Equal(1, own.Accepted);
        Assert.Equal(5, _f.Measure("S").Used);
    }

    [Fact]
    public void A_lapsed_grant_still_covers_the_slices_before_its_cache_until_but_not_later_ones()
    {
        _f.Item("S", LicenseMode.PerScan, 1000);
        _f.Code("216998-app", "S");
        var grant = _f.Auth("a").Grant!;
        var covered = TimeSlice.StartOf(grant.CacheUntil - TimeSpan.FromMinutes(10));
        _f.Clock.Advance(TimeSpan.FromDays(9)); // offline past cacheUntil (7 days)

        var late = _f.Report("a", "S", 1).Answer!;
        var buffered = _f.Report("a", "S", 4, slice: covered).Answer!;

        Assert.Equal([new RefusedRecord(0, ErrorCodes.NoGrant)], late.RefusedRecords);
        Assert.Equal(1, buffered.Accepted);
        Assert.Equal(4, _f.Measure("S").Used);
    }

    [Fact]
    public void The_per_slice_bound_follows_the_server_setting()
    {
        _f.Item("S", LicenseMode.PerScan, 1_000_000);
        _f.Code("216998-app", "S");
        Assert.Null(_f.Auth("a").Error);
        ProtectionSettings.Set(_f.Store, _f.Now, maxCountPerSlice: 50);

        Assert.Equal([new RefusedRecord(0, ErrorCodes.Malformed)], _f.Report("a", "S", 51).Answer!.RefusedRecords);
        Assert.Equal(1, _f.Report("a", "S", 50).Answer!.Accepted);
        Assert.Equal(50, _f.Measure("S").Used);
    }

    [Fact]
    public void Distinct_feature_names_per_item_are_capped_and_the_rest_is_counted_under_other()
    {
        _f.Item("S", LicenseMode.PerScan, 1_000_000);
        _f.Code("216998-app", "S");
        Assert.Null(_f.Auth("a").Error);
        var records = Enumerable.Range(0, FeatureNames.MaxPerItem + 10)
            .Select(i => new UsageRecord(TimeSlice.StartOf(_f.Now), "S", "DBR", 1, null, new Dictionary<string, long> { [$"f{i}"] = 2 }))
            .ToList();
        Assert.Equal(records.Count, _f.Report(new ReportRequest("a", "216998-app", "features", records)).Answer!.Accepted);

        var names = _f.Store.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT feature, count FROM usage_feature WHERE grain = 2;";
            using var reader = command.ExecuteReader();
            var rows = new Dictionary<string, long>();
            while (reader.Read())
            {
                rows[reader.GetString(0)] = reader.GetInt64(1);
            }

            return rows;
        });
        Assert.Equal(FeatureNames.MaxPerItem + 1, names.Count);
        Assert.Equal(20, names[FeatureNames.Other]);
        Assert.Equal((FeatureNames.MaxPerItem + 10) * 2, names.Values.Sum());
    }

    [Fact]
    public void A_rate_limited_new_seat_changes_nothing_and_a_known_device_is_never_asked()
    {
        _f.Item("Y", LicenseMode.PerDeviceYearly, 10);
        _f.Code("216998-app", "Y");
        Assert.Null(_f.Auth("known").Error);
        var before = Rows("auth_event") + Rows("seat") + Rows("client_fingerprint") + Rows("client_grant");
        var gate = new CountingGate(admit: false);

        var limited = _f.Store.Write(work => _f.Authority.Authorize(work, AuthorityFixture.Request("new"), _f.Now, new AuthContext(null, gate)));
        var known = _f.Store.Write(work => _f.Authority.Authorize(work, AuthorityFixture.Request("known"), _f.Now, new AuthContext(null, gate)));

        Assert.Equal(ErrorCodes.RateLimited, limited.Error!.ErrorCode);
        Assert.Equal(TimeSpan.FromSeconds(7), limited.RetryAfter);
        Assert.NotNull(known.Grant);
        Assert.Equal(1, gate.Asked);
        Assert.Equal(before + 1, Rows("auth_event") + Rows("seat") + Rows("client_fingerprint") + Rows("client_grant")); // the known device's auth_event only
        Assert.Equal(1, _f.Measure("Y").Used);
    }

    [Fact]
    public void The_writer_uses_the_password_check_that_came_with_the_request_and_asks_again_when_it_is_stale()
    {
        _f.Item("Y", LicenseMode.PerDeviceYearly, 10);
        TestCatalog.AddCode(_f.Store, "216998-app", ["Y"], isDefault: true);
        _f.Store.Write((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "UPDATE handshake_code SET password_hash = @hash WHERE code = '216998-app';";
            command.Parameters.AddWithValue("@hash", SessionPasswords.Hash("right"));
            return command.ExecuteNonQuery();
        });
        var hash = LicenseAuthority.PasswordTargetOf(_f.Store, AuthorityFixture.Request("a", password: "x"))!.StoredHash;

        // The carried result decides: the writer does not derive the hash itself.
        var trusted = _f.Store.Write(work => _f.Authority.Authorize(work, AuthorityFixture.Request("a", password: "wrong"), _f.Now,
            new AuthContext(new PasswordCheck(hash, Valid: true), null)));
        var refused = _f.Store.Write(work => _f.Authority.Authorize(work, AuthorityFixture.Request("b", password: "right"), _f.Now,
            new AuthContext(new PasswordCheck(hash, Valid: false), null)));
        var stale = _f.Store.Write(work => _f.Authority.Authorize(work, AuthorityFixture.Request("c", password: "right"), _f.Now,
            new AuthContext(new PasswordCheck("pbkdf2-sha256$1$old$old", Valid: true), null)));

        Assert.NotNull(trusted.Grant);
        Assert.Equal(ErrorCodes.WrongSessionPassword, refused.Error!.ErrorCode);
        Assert.True(stale.NeedsPasswordCheck);
        Assert.Null(stale.Grant);
        Assert.Null(stale.Error);
    }

    [Fact]
    public void Retention_purges_lapsed_seats_and_ended_grants_but_keeps_live_ones()
    {
        _f.Item("D", LicenseMode.PerDeviceDaily, 10, expiration: _f.Today.AddYears(3));
        _f.Code("216998-app", "D");
        Assert.Null(_f.Auth("old").Error);
        _f.Clock.Advance(TimeSpan.FromDays(20));
        Assert.Null(_f.Auth("new").Error);
        new UsageRetention(_f.Store).SetRetentionDays(10, _f.Now);

        new UsageRetention(_f.Store).Purge(_f.Now);

        Assert.Equal(["new"], Column("SELECT seat_key FROM seat;"));
        Assert.Equal(["new"], Column("SELECT client_uuid FROM client_grant;"));
    }

    private long Rows(string table) => _f.Store.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM {table};";
        return (long)command.ExecuteScalar()!;
    });

    private List<string> Column(string sql) => _f.Store.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<string>();
        while (reader.Read())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    });

    private sealed class CountingGate(bool admit) : INewSeatGate
    {
        public int Asked { get; private set; }

        public bool TryAdmit(string handshakeCode, out TimeSpan retryAfter)
        {
            Asked++;
            retryAfter = TimeSpan.FromSeconds(7);
            return admit;
        }
    }
}
