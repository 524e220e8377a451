using Dls.Core.Storage;
using System.Data.Common;
using Dls.Core.Accounting;
using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Usage;
using Dls.Tests;

namespace Dls.Core.Tests;

/// <summary>
/// Get-DlsDevice for every mode (SPEC §5): count and concurrent items list the devices that were authorized or reported,
/// through the code asked for, with exact first and last contact; ActiveUntil only where a seat is held.
/// </summary>
public sealed class DeviceListingTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly AuthorityFixture _f = new();

    public DeviceListingTests()
    {
        _f.Item("P", LicenseMode.PerDeviceYearly, 10);
        _f.Item("S", LicenseMode.PerScan, 1000, product: "DLR");
        _f.Item("C", LicenseMode.PerConcurrentDevice, 5, product: "DWT");
        _f.Code("216998-app", "P", "S", "C");
        _f.Code("216998-other", "S");
    }

    public void Dispose() => _f.Dispose();

    private DeviceService Devices => new(_f.Store, _f.Clock);

    [Fact]
    public void A_count_item_lists_the_devices_authorized_and_reporting_through_the_code_asked_for()
    {
        Assert.Equal(Start, _f.Now);
        Granted(AuthorityFixture.Request("x", product: "DLR"));
        _f.Clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(1, _f.Report(new ReportRequest("x", "216998-app", "b1", [new UsageRecord(TimeSlice.StartOf(_f.Now), "S", "DLR", 5, null, null)])).Answer!.Accepted);
        _f.Clock.Advance(TimeSpan.FromMinutes(50));
        Granted(AuthorityFixture.Request("y", code: "216998-other", product: "DLR"));
        _f.Clock.Advance(TimeSpan.FromMinutes(1));

        var x = Assert.Single(Devices.List("216998-app", null, null, activeOnly: false));
        Assert.Equal(("x", "S", LicenseMode.PerScan), (x.ClientUuid, x.ItemId, x.Mode));
        Assert.Equal(Start.UtcDateTime, x.FirstSeen);
        Assert.Equal(new DateTime(2026, 11, 1, 12, 9, 0, DateTimeKind.Utc), x.LastSeen);   // the slice of its report
        Assert.Null(x.ActiveUntil);
        Assert.False(x.HoldsSeat);
        Assert.True(x.IsActive);
        Assert.Equal(Start.AddDays(7).UtcDateTime, x.GrantedUntil);

        // Through the other code only y; by item both, most recent contact first.
        Assert.Equal(["y"], Devices.List("216998-other", null, null, false).Select(d => d.ClientUuid));
        var both = Devices.List(null, "S", null, false);
        Assert.Equal([("y", new DateTime(2026, 11, 1, 13, 0, 0, DateTimeKind.Utc)), ("x", x.LastSeen)], both.Select(d => (d.ClientUuid, d.LastSeen)));
        Assert.Equal(["x"], Devices.List(null, null, "x", false).Select(d => d.ClientUuid));

        // -Active on a count item: its authorization still lets it work.
        Assert.Equal(["y", "x"], Devices.List(null, "S", null, activeOnly: true).Select(d => d.ClientUuid));
        _f.Clock.Advance(TimeSpan.FromDays(7) - TimeSpan.FromMinutes(30));
        Assert.Equal(["y"], Devices.List(null, "S", null, activeOnly: true).Select(d => d.ClientUuid));
        _f.Clock.Advance(TimeSpan.FromHours(2));
        Assert.Empty(Devices.List(null, "S", null, activeOnly: true));
        Assert.Equal(2, Devices.List(null, "S", null, activeOnly: false).Count);
    }

    [Fact]
    public void A_device_seen_through_two_codes_is_one_device_first_seen_at_its_first_grant_last_seen_at_its_last_contact()
    {
        Granted(AuthorityFixture.Request("x", code: "216998-other", product: "DLR"));
        _f.Clock.Advance(TimeSpan.FromHours(3).Add(TimeSpan.FromMinutes(7)));
        Granted(AuthorityFixture.Request("x", product: "DLR"));
        _f.Clock.Advance(TimeSpan.FromDays(2));

        var x = Assert.Single(Devices.List(null, "S", null, false));
        Assert.Equal((Start.UtcDateTime, new DateTime(2026, 11, 1, 15, 6, 0, DateTimeKind.Utc)), (x.FirstSeen, x.LastSeen));
        var throughOther = Assert.Single(Devices.List("216998-other", null, null, false));
        Assert.Equal((Start.UtcDateTime, Start.UtcDateTime), (throughOther.FirstSeen, throughOther.LastSeen));
        var throughApp = Assert.Single(Devices.List("216998-app", null, null, false));
        Assert.Equal(new DateTime(2026, 11, 1, 15, 7, 0, DateTimeKind.Utc), throughApp.FirstSeen);   // first grants are exact times
    }

    [Fact]
    public void A_refused_device_is_not_listed_and_a_refusal_is_no_contact()
    {
        _f.Item("T", LicenseMode.PerPage, 1, product: "DDV");
        TestCatalog.LinkItem(_f.Store, "216998-app", "T");
        Granted(AuthorityFixture.Request("x", product: "DDV"));
        Assert.Equal(1, _f.Report(new ReportRequest("x", "216998-app", "b1", [new UsageRecord(TimeSlice.StartOf(_f.Now), "T", "DDV", 2, null, null)])).Answer!.Accepted);
        _f.Clock.Advance(TimeSpan.FromHours(2));
        Assert.Equal(ErrorCodes.CountQuotaUsedUp, _f.Auth(AuthorityFixture.Request("x", product: "DDV")).Error?.ErrorCode);
        Assert.Equal(ErrorCodes.CountQuotaUsedUp, _f.Auth(AuthorityFixture.Request("z", product: "DDV")).Error?.ErrorCode);

        var x = Assert.Single(Devices.List(null, "T", null, false));
        Assert.Equal(("x", Start.UtcDateTime), (x.ClientUuid, x.LastSeen));
    }

    [Fact]
    public void A_concurrent_item_lists_authorized_devices_and_shows_a_seat_only_while_it_is_held()
    {
        Granted(AuthorityFixture.Request("c1", product: "DWT"));
        Granted(AuthorityFixture.Request("c2", product: "DWT"));
        _f.Clock.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(1, _f.Report(new ReportRequest("c1", "216998-app", "b1", [new UsageRecord(TimeSlice.StartOf(_f.Now), "C", "DWT", 1, null, null)])).Answer!.Accepted);

        var listed = Devices.List(null, "C", null, false).ToDictionary(d => d.ClientUuid);
        Assert.Equal(["c1", "c2"], listed.Keys.Order());
        var c1 = listed["c1"];
        Assert.Equal((true, true), (c1.HoldsSeat, c1.IsActive));
        Assert.Equal(new DateTime(2026, 11, 1, 12, 9, 0, DateTimeKind.Utc), c1.ActiveUntil);   // slice 12:03 + two slices
        Assert.Equal(new DateTime(2026, 11, 1, 12, 3, 0, DateTimeKind.Utc), c1.LastSeen);
        var c2 = listed["c2"];
        Assert.Equal((false, false, (DateTime?)null), (c2.HoldsSeat, c2.IsActive, c2.ActiveUntil));
        Assert.Equal(["c1"], Devices.List(null, "C", null, activeOnly: true).Select(d => d.ClientUuid));

        _f.Clock.Advance(TimeSpan.FromMinutes(6));
        var lapsed = Assert.Single(Devices.List(null, "C", "c1", false));
        Assert.Equal((false, (DateTime?)null, new DateTime(2026, 11, 1, 12, 3, 0, DateTimeKind.Utc)), (lapsed.HoldsSeat, lapsed.ActiveUntil, lapsed.LastSeen));
        Assert.Empty(Devices.List(null, "C", null, activeOnly: true));
    }

    [Fact]
    public void Seat_items_keep_listing_their_seats_with_the_code_filter_and_per_device_details()
    {
        Granted(AuthorityFixture.Request("p1"));
        var p1 = Assert.Single(Devices.List("216998-app", "P", null, false));
        Assert.Equal((Start.UtcDateTime, Start.UtcDateTime, true, true), (p1.FirstSeen, p1.LastSeen, p1.HoldsSeat, p1.IsActive));
        Assert.True(p1.ActiveUntil > Start.AddDays(300).UtcDateTime);
        Assert.Null(p1.GrantedUntil);
        Assert.Empty(Devices.List("216998-other", null, null, false));
    }

    [Fact]
    public void Remove_on_an_item_without_seats_is_a_clear_error_and_changes_nothing()
    {
        Granted(AuthorityFixture.Request("x", product: "DLR"));
        Granted(AuthorityFixture.Request("x", product: "DWT"));
        var before = _f.Store.Read(c => StoreDigest.Rows(c, "seat") + StoreDigest.Rows(c, "client_grant") + StoreDigest.Rows(c, "audit_log"));

        foreach (var item in new[] { "S", "C" })
        {
            var error = Assert.Throws<DlsException>(() => Devices.Remove("x", item));
            Assert.Equal((ErrorIds.ItemHasNoSeats, DlsErrorKind.InvalidOperation), (error.ErrorId, error.Kind));
            Assert.Contains(item, error.Message, StringComparison.Ordinal);
        }

        // Without -ItemId, a device that holds no seat anywhere is not found.
        Assert.Equal(ErrorIds.DeviceNotFound, Assert.Throws<DlsException>(() => Devices.Remove("x", null)).ErrorId);
        Assert.Equal(before, _f.Store.Read(c => StoreDigest.Rows(c, "seat") + StoreDigest.Rows(c, "client_grant") + StoreDigest.Rows(c, "audit_log")));
        Assert.Equal(2, Devices.List(null, null, "x", false).Count);
    }

    [Fact]
    public void Retention_keeps_a_device_listed_while_its_grant_is_kept_and_drops_it_after()
    {
        Granted(AuthorityFixture.Request("x", product: "DLR"));
        var retention = new UsageRetention(_f.Store);

        // 390 days later: the grant ended 383 days ago, inside the 400-day retention. Its first and last contact stay exact.
        _f.Clock.Advance(TimeSpan.FromDays(390));
        retention.Purge(_f.Now);
        var x = Assert.Single(Devices.List(null, "S", null, false));
        Assert.Equal((Start.UtcDateTime, Start.UtcDateTime, false), (x.FirstSeen, x.LastSeen, x.IsActive));

        // 405 days later the slice, hour and day rows of its contact are purged, the grant (ended 2026-11-08) not yet:
        // LastSeen falls back to the month row, kept until the whole month is older than the retention.
        _f.Clock.Advance(TimeSpan.FromDays(15));
        retention.Purge(_f.Now);
        x = Assert.Single(Devices.List(null, "S", null, false));
        Assert.Equal((Start.UtcDateTime, Start.UtcDateTime.Date), (x.FirstSeen, x.LastSeen));

        // Once the grant is older than the retention, the device is no longer listed (its usage stays in Get-DlsUsage).
        _f.Clock.Advance(TimeSpan.FromDays(5));
        retention.Purge(_f.Now);
        Assert.Empty(Devices.List(null, "S", null, false));
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void Listing_seeks_grants_by_item_and_probes_usage_rows_by_primary_key()
    {
        var plans = _f.Store.Read(connection =>
        {
            string Plan(string sql)
            {
                using var command = connection.CreateCommand();
                command.CommandText = "EXPLAIN QUERY PLAN " + sql;
                command.Parameters.AddWithValue("@item", "S");
                command.Parameters.AddWithValue("@client", "x");
                command.Parameters.AddWithValue("@code", "216998-app");
                command.Parameters.AddWithValue("@grain", 1);
                command.Parameters.AddWithValue("@id", 1);
                command.Parameters.AddWithValue("@period", 0);

                using var reader = command.ExecuteReader();
                var lines = new List<string>();
                while (reader.Read())
                {
                    lines.Add(reader.GetString(3));
                }

                return string.Join(" | ", lines);
            }

            return (
                Plan("SELECT client_uuid, min(first_granted) FROM client_grant WHERE item_id = @item GROUP BY client_uuid;")
                    + " || " + Plan("SELECT client_uuid, min(first_granted) FROM client_grant WHERE item_id = @item AND client_uuid = @client GROUP BY client_uuid;"),
                Plan("""
                    SELECT EXISTS (SELECT 1 FROM usage_device
                        WHERE grain = @grain AND period = @period AND handshake_code = @code AND item_id = @item AND client_id = @id
                          AND (reports > 0 OR authorizations > failed_authorizations));
                    """)
                    + " || " + Plan("""
                    WITH RECURSIVE candidate (period) AS (
                        SELECT @period UNION ALL SELECT period - 180 FROM candidate WHERE period - 180 >= @period - 3600)
                    SELECT max(d.period) FROM candidate c CROSS JOIN usage_device d
                        ON d.grain = @grain AND d.period = c.period AND d.handshake_code = @code AND d.item_id = @item AND d.client_id = @id
                    WHERE d.reports > 0 OR d.authorizations > d.failed_authorizations;
                    """));
        });
        Assert.Contains("SEARCH client_grant USING INDEX client_grant_item (item_id=?)", plans.Item1, StringComparison.Ordinal);
        Assert.DoesNotContain("SCAN client_grant", plans.Item1, StringComparison.Ordinal);
        Assert.Contains("SEARCH usage_device USING PRIMARY KEY (grain=? AND period=? AND handshake_code=? AND item_id=? AND client_id=?)", plans.Item2, StringComparison.Ordinal);
        Assert.Contains("SEARCH d USING PRIMARY KEY (grain=? AND period=? AND handshake_code=? AND item_id=? AND client_id=?)", plans.Item2, StringComparison.Ordinal);
        Assert.DoesNotContain("SCAN d", plans.Item2, StringComparison.Ordinal);
    }

    private void Granted(AuthRequest request)
    {
        var outcome = _f.Auth(request);
        Assert.Null(outcome.Error);
    }
}
