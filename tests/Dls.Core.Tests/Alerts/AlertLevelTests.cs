using Dls.Core.Alerts;
using Dls.Core.Licensing;
using Dls.Core.Storage;
using Dls.Core.Usage;

namespace Dls.Core.Tests.Alerts;

/// <summary>The levels of every SPEC §6 condition and their hysteresis, with exact values and an injected clock.</summary>
public sealed class AlertLevelTests : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly DlsStore _store;
    private readonly FakeMeasurements _values = new();

    public AlertLevelTests()
    {
        _store = _temp.Initialized();
    }

    public void Dispose() => _temp.Dispose();

    private AlertManager Manager() => new(_store, _temp.Clock, _values);

    /// <summary>One check; the levels it notifies, as "condition target level".</summary>
    private List<string> Check()
    {
        var (_, findings) = Manager().Evaluate();
        return findings.Select(f => $"{f.Condition} {f.Target} {f.Level}").ToList();
    }

    [Fact]
    public void Device_item_notifies_60_80_100_and_110_each_once()
    {
        var item = FakeMeasurements.Item("I1", LicenseMode.PerDeviceYearly, 10);
        var seen = new List<string>();
        foreach (var used in new long[] { 5, 6, 6, 7, 8, 9, 10, 10, 11, 11 })
        {
            _values.Use(item, used);
            seen.Add(used + ":" + string.Join(",", Check()));
        }

        Assert.Equal(
            [
                "5:", "6:DeviceQuota I1 60 %", "6:", "7:", "8:DeviceQuota I1 80 %", "9:",
                "10:DeviceQuota I1 100 %", "10:", "11:DeviceQuota I1 110 %", "11:",
            ],
            seen);
    }

    [Fact]
    public void A_jump_notifies_only_the_highest_newly_reached_level()
    {
        var item = FakeMeasurements.Item("I1", LicenseMode.PerDeviceMonthly, 20);
        _values.Use(item, 17); // 85 %
        Assert.Equal(["DeviceQuota I1 80 %"], Check());
        Assert.Empty(Check());
        _values.Use(item, 25); // 125 %: 100 and 110 reached together
        Assert.Equal(["DeviceQuota I1 110 %"], Check());
    }

    [Fact]
    public void A_level_re_arms_only_after_a_check_finds_the_value_below_it()
    {
        var item = FakeMeasurements.Item("I1", LicenseMode.PerDeviceYearly, 10);
        _values.Use(item, 8);
        Assert.Equal(["DeviceQuota I1 80 %"], Check());
        _values.Use(item, 7); // below 80, still above 60: 80 re-arms, 60 does not
        Assert.Empty(Check());
        _values.Use(item, 8);
        Assert.Equal(["DeviceQuota I1 80 %"], Check());
        _values.Use(item, 3); // below everything
        Assert.Empty(Check());
        _values.Use(item, 6);
        Assert.Equal(["DeviceQuota I1 60 %"], Check());
    }

    [Fact]
    public void A_value_that_dips_between_two_checks_unseen_does_not_re_arm()
    {
        // Re-arming needs a check that sees the value below the level; what happens between checks is not seen.
        var item = FakeMeasurements.Item("I1", LicenseMode.PerServer, 10);
        _values.Use(item, 10);
        Assert.Equal(["DeviceQuota I1 100 %"], Check());
        _values.Use(item, 10);
        Assert.Empty(Check());
    }

    [Fact]
    public void Daily_active_items_notify_100_percent_only_and_the_tolerance_level()
    {
        var item = FakeMeasurements.Item("D1", LicenseMode.PerDeviceDaily, 10);
        foreach (var used in new long[] { 6, 8, 9 })
        {
            _values.Use(item, used);
            Assert.Empty(Check());
        }

        _values.Use(item, 10);
        Assert.Equal(["DeviceQuota D1 100 %"], Check());
        _values.Use(item, 11);
        Assert.Equal(["DeviceQuota D1 110 %"], Check());
    }

    [Fact]
    public void The_tolerance_level_is_reached_when_the_rounded_tolerance_is_used_up()
    {
        // Quantity 5: 10 % rounds to 1 seat, so the tolerance is gone at 6 devices (120 %).
        var five = FakeMeasurements.Item("Q5", LicenseMode.PerDeviceYearly, 5);
        _values.Use(five, 5);
        Assert.Equal(["DeviceQuota Q5 100 %"], Check());
        _values.Use(five, 6);
        var finding = Assert.Single(Manager().Evaluate().Findings);
        Assert.Equal("110 %", finding.Level);
        Assert.Equal(120, finding.Value);
        Assert.Contains("new devices are refused", finding.NextStep, StringComparison.Ordinal);

        // Quantity 4: 10 % rounds to 0, so reaching the quantity already uses the tolerance up.
        var four = FakeMeasurements.Item("Q4", LicenseMode.PerDeviceYearly, 4);
        _values.Use(four, 4);
        Assert.Equal(["DeviceQuota Q4 110 %"], Check());
    }

    [Fact]
    public void Scan_and_page_items_notify_60_80_100_and_105()
    {
        var scans = FakeMeasurements.Item("S1", LicenseMode.PerScan, 1000);
        var seen = new List<string>();
        foreach (var used in new long[] { 599, 600, 800, 999, 1000, 1049, 1050, 1200 })
        {
            _values.Use(scans, used);
            seen.Add(used + ":" + string.Join(",", Check()));
        }

        Assert.Equal(
            [
                "599:", "600:CountQuota S1 60 %", "800:CountQuota S1 80 %", "999:", "1000:CountQuota S1 100 %",
                "1049:", "1050:CountQuota S1 105 %", "1200:",
            ],
            seen);

        var pages = FakeMeasurements.Item("P1", LicenseMode.PerPage, 200);
        _values.Use(pages, 210);
        var finding = Assert.Single(Manager().Evaluate().Findings);
        Assert.Equal("105 %", finding.Level);
        Assert.Contains("every client is refused (error 130)", finding.NextStep, StringComparison.Ordinal);
    }

    [Fact]
    public void Concurrent_items_notify_60_80_and_100_percent_of_the_tolerance_used()
    {
        // Quantity 2: tolerance 2000 extra device-slices over the item's life.
        var item = FakeMeasurements.Item("C1", LicenseMode.PerConcurrentDevice, 2);
        var seen = new List<string>();
        foreach (var extra in new long[] { 1000, 1200, 1700, 1999, 2000 })
        {
            _values.Use(item, extra);
            seen.Add(extra + ":" + string.Join(",", Check()));
        }

        Assert.Equal(["1000:", "1200:ConcurrentTolerance C1 60 %", "1700:ConcurrentTolerance C1 80 %", "1999:", "2000:ConcurrentTolerance C1 100 %"], seen);

        var instances = FakeMeasurements.Item("C2", LicenseMode.PerConcurrentInstance, 1);
        _values.Use(instances, 1000);
        Assert.Equal(["ConcurrentTolerance C2 100 %"], Check());
    }

    [Fact]
    public void Domain_items_notify_up_to_100_percent_when_new_domains_are_refused()
    {
        var item = FakeMeasurements.Item("W1", LicenseMode.PerDomain, 5);
        _values.Use(item, 3);
        Assert.Equal(["DeviceQuota W1 60 %"], Check());
        _values.Use(item, 5);
        var finding = Assert.Single(Manager().Evaluate().Findings);
        Assert.Equal("100 %", finding.Level);
        Assert.Contains("new domains are refused (error 103)", finding.NextStep, StringComparison.Ordinal);
    }

    [Fact]
    public void Failed_authorizations_are_levelled_per_code()
    {
        _values.Authorizations("216998-a", 10, 1).Authorizations("216998-b", 10, 5).Authorizations("216998-c", 10, 0);
        Assert.Equal(["FailedAuthorizations 216998-b 40 %", "FailedAuthorizations 216998-a 10 %"], Check());
        Assert.Empty(Check());

        // a quiet hour re-arms a; b climbs to 100 %
        _values.Authorizations("216998-a", 0, 0).Authorizations("216998-b", 4, 4);
        Assert.Equal(["FailedAuthorizations 216998-b 100 %"], Check());
        _values.Authorizations("216998-a", 10, 2);
        Assert.Equal(["FailedAuthorizations 216998-a 20 %"], Check());
    }

    [Fact]
    public void Expiry_notifies_30_7_and_1_day_before_and_on_expiry()
    {
        // Expires at the end of 2026-12-31, i.e. 2027-01-01T00:00Z.
        var item = FakeMeasurements.Item("E1", LicenseMode.PerDeviceYearly, 100, new DateOnly(2026, 12, 31));
        _values.Use(item, 0);
        var end = new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var seen = new List<string>();
        foreach (var before in new[] { 31.0, 30.0, 29.0, 8.0, 7.0, 1.5, 1.0, 0.25, 0.0, -3.0 })
        {
            _temp.Clock.SetUtcNow(end.AddDays(-before));
            seen.Add(before + ":" + string.Join(",", Check()));
        }

        Assert.Equal(
            ["31:", "30:Expiry E1 30 days", "29:", "8:", "7:Expiry E1 7 days", "1.5:", "1:Expiry E1 1 day", "0.25:", "0:Expiry E1 expired", "-3:"],
            seen);
    }

    [Fact]
    public void An_item_found_late_notifies_only_its_nearest_expiry_level_and_a_renewal_re_arms()
    {
        var item = FakeMeasurements.Item("E2", LicenseMode.PerScan, 100, new DateOnly(2026, 11, 5));
        _values.Use(item, 0); // clock: 2026-11-01T12:00Z, 3.5 days left
        Assert.Equal(["Expiry E2 7 days"], Check());
        _values.Use(item with { ExpirationDate = new DateOnly(2027, 11, 5) }, 0);
        Assert.Empty(Check());
        _temp.Clock.SetUtcNow(new DateTimeOffset(2027, 10, 30, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(["Expiry E2 7 days"], Check());
    }

    [Fact]
    public void One_check_carries_every_condition_met_in_one_notification()
    {
        _values.Use(FakeMeasurements.Item("I1", LicenseMode.PerDeviceYearly, 10), 11)
            .Use(FakeMeasurements.Item("S1", LicenseMode.PerScan, 1000), 850)
            .Use(FakeMeasurements.Item("E1", LicenseMode.PerDeviceYearly, 10, new DateOnly(2026, 11, 20)), 0)
            .Authorizations("216998-app", 10, 3);
        var (id, findings) = Manager().Evaluate();
        Assert.NotNull(id);
        Assert.Equal(4, findings.Count);
        Assert.Equal(AlertSeverity.Critical, findings[0].Severity); // worst first

        var records = Manager().List(null);
        Assert.Equal(4, records.Count);
        Assert.All(records, r => Assert.Equal(id, r.NotificationId));
        Assert.All(records, r => Assert.Equal("(none)", r.Channel));
        Assert.All(records, r => Assert.False(r.Delivered));
        Assert.Contains(records, r => r is { Condition: AlertCondition.DeviceQuota, Target: "I1", Level: "110 %" } && r.Value.StartsWith("110 % (11 of 10 devices)", StringComparison.Ordinal));
        Assert.Contains(records, r => r is { Condition: AlertCondition.CountQuota, Target: "S1", Level: "80 %" });
        Assert.Contains(records, r => r is { Condition: AlertCondition.Expiry, Target: "E1", Level: "30 days" });
        Assert.Contains(records, r => r is { Condition: AlertCondition.FailedAuthorizations, Target: "216998-app", Level: "20 %" });

        Assert.Null(Manager().Evaluate().NotificationId);
        Assert.Single(Manager().List(null).Select(r => r.NotificationId).Distinct());
    }

    [Fact]
    public void A_restart_over_the_same_store_does_not_send_again()
    {
        _values.Use(FakeMeasurements.Item("I1", LicenseMode.PerDeviceYearly, 10), 9);
        Assert.NotNull(new AlertManager(_store, _temp.Clock, _values).Evaluate().NotificationId);

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var reopened = DlsStore.Open(_temp.Path);
        Assert.Null(new AlertManager(reopened, _temp.Clock, _values).Evaluate().NotificationId);
        Assert.Single(new AlertManager(reopened, _temp.Clock, _values).List(null));
    }

    [Fact]
    public void A_dry_run_reports_what_a_check_would_find_and_changes_nothing()
    {
        _values.Use(FakeMeasurements.Item("I1", LicenseMode.PerDeviceYearly, 10), 10);
        var (id, findings) = Manager().Evaluate(dryRun: true);
        Assert.Null(id);
        Assert.Equal("100 %", Assert.Single(findings).Level);
        Assert.Empty(Manager().List(null));
        Assert.Equal("100 %", Assert.Single(Manager().Evaluate().Findings).Level);
    }

    [Fact]
    public void Revoked_and_removed_items_raise_nothing_and_re_arm()
    {
        var item = FakeMeasurements.Item("I1", LicenseMode.PerDeviceYearly, 10);
        _values.Use(item, 10);
        Assert.Single(Check());
        _values.Remove("I1");
        Assert.Empty(Check());
        _values.Use(item, 10);
        Assert.Equal(["DeviceQuota I1 100 %"], Check());
    }

    [Fact]
    public void Back_off_doubles_from_one_minute_up_to_an_hour()
    {
        Assert.Equal(
            [1, 2, 4, 8, 16, 32, 60, 60],
            Enumerable.Range(1, 8).Select(n => AlertManager.Backoff(n).TotalMinutes).ToArray());
    }

    [Fact]
    public void The_store_measurements_count_active_devices_and_the_last_hour_of_authorizations()
    {
        TestLicenses.AddItem(_store, "I1", LicenseMode.PerDeviceYearly, 10, new DateOnly(2030, 1, 1));
        var now = _temp.Clock.GetUtcNow();
        _store.Write(work =>
        {
            var (c, t) = Units.Sqlite(work);
            var item = LicenseCatalog.FindItem(c, t, "I1")!;
            for (var device = 0; device < 6; device++)
            {
                // Six devices take seats as the listener's authorizations do.
                Assert.Null(Dls.Core.Accounting.Ledger.TryTake(work, item, new Dls.Core.Accounting.SeatClaim($"device-{device}", null, string.Empty, 1), now.AddMinutes(-5)).Error);
                UsageStatistics.RecordAuthorization(c, t, new AuthorizationFact(now.AddMinutes(-5), "216998-app", "I1", $"device-{device}", 0));
            }

            // Two refusals in the hour, one older that no longer counts.
            UsageStatistics.RecordAuthorization(c, t, new AuthorizationFact(now.AddMinutes(-10), "216998-app", "I1", "device-x", 120));
            UsageStatistics.RecordAuthorization(c, t, new AuthorizationFact(now.AddMinutes(-59), "216998-app", "", "device-y", 104));
            UsageStatistics.RecordAuthorization(c, t, new AuthorizationFact(now.AddMinutes(-61), "216998-app", "", "device-z", 104));
            UsageStatistics.RecordAuthorization(c, t, new AuthorizationFact(now.AddMinutes(-1), "", "", "device-w", 101));
        });

        var findings = new AlertManager(_store, _temp.Clock).Evaluate().Findings;
        var labels = findings.Select(f => $"{f.Condition} {f.Target} {f.Level} {f.Value}").ToList();
        Assert.Contains("DeviceQuota I1 60 % 60", labels);
        Assert.Contains("FailedAuthorizations 216998-app 20 % 25", labels); // 2 of 8
        Assert.Contains("FailedAuthorizations (no code) 100 % 100", labels);
        Assert.Equal(3, findings.Count);
    }
}
