using Dls.Core.Accounting;
using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Usage;

namespace Dls.Core.Tests;

/// <summary>Each mode of SPEC §3 at its edges, with an injected clock.</summary>
public sealed class LicenseModeTests : IDisposable
{
    private readonly AuthorityFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void Per_device_grants_quantity_plus_ten_percent_then_refuses_new_devices_but_keeps_active_ones()
    {
        _f.Item("I1", LicenseMode.PerDeviceYearly, 10);
        _f.Code("216998-app", "I1");

        for (var i = 1; i <= 11; i++)
        {
            Assert.Null(_f.Error($"device-{i}"));
        }

        Assert.Equal(ErrorCodes.QuotaUsedUp, _f.Error("device-12"));
        Assert.Null(_f.Error("device-3"));
        var measure = _f.Measure("I1");
        Assert.Equal(11, measure.Used);
        Assert.Equal(110, measure.PercentUsed);
        Assert.Equal(1, measure.Tolerance);
        Assert.Equal(1, measure.ToleranceUsed);
    }

    [Fact]
    public void The_device_in_tolerance_gets_a_warning_and_those_within_quantity_none()
    {
        _f.Item("I1", LicenseMode.PerDeviceYearly, 10);
        _f.Code("216998-app", "I1");
        for (var i = 1; i <= 10; i++)
        {
            Assert.Null(_f.Auth($"device-{i}").Grant!.Warning);
        }

        Assert.Contains("tolerance", _f.Auth("device-11").Grant!.Warning);
    }

    [Theory]
    [InlineData(4, 4)] // 10 % of 4 is 0.4: no tolerance
    [InlineData(5, 6)] // 10 % of 5 is 0.5: rounded half up to 1
    [InlineData(15, 17)] // 1.5 → 2
    public void Device_tolerance_is_rounded_half_up(int quantity, int granted)
    {
        _f.Item("I1", LicenseMode.PerDeviceMonthly, quantity);
        _f.Code("216998-app", "I1");

        var results = Enumerable.Range(1, granted + 1).Select(i => _f.Error($"d{i}")).ToList();

        Assert.All(results.Take(granted), Assert.Null);
        Assert.Equal(ErrorCodes.QuotaUsedUp, results[^1]);
    }

    [Fact]
    public void A_daily_seat_lapses_24_hours_after_the_last_contact_and_each_contact_refreshes_it()
    {
        _f.Item("I1", LicenseMode.PerDeviceDaily, 1); // tolerance 0
        _f.Code("216998-app", "I1");

        Assert.Null(_f.Error("a"));
        Assert.Equal(ErrorCodes.QuotaUsedUp, _f.Error("b"));
        _f.Clock.Advance(TimeSpan.FromHours(23));
        Assert.Null(_f.Error("a")); // refreshed: active for 24 h from now
        _f.Clock.Advance(TimeSpan.FromHours(2));
        Assert.Equal(ErrorCodes.QuotaUsedUp, _f.Error("b"));
        _f.Clock.Advance(TimeSpan.FromHours(22) - TimeSpan.FromSeconds(1));
        Assert.Equal(ErrorCodes.QuotaUsedUp, _f.Error("b"));
        _f.Clock.Advance(TimeSpan.FromSeconds(1)); // exactly 24 h after a's last contact
        Assert.Null(_f.Error("b"));
        Assert.Equal(1, _f.Measure("I1").Used);
    }

    [Theory]
    [InlineData(LicenseMode.PerDeviceMonthly, 30)]
    [InlineData(LicenseMode.PerDeviceQuarterly, 90)]
    [InlineData(LicenseMode.PerDeviceYearly, 365)]
    [InlineData(LicenseMode.PerServer, 365)]
    public void Seats_are_freed_when_their_window_lapses(LicenseMode mode, int days)
    {
        var deployment = mode == LicenseMode.PerServer ? Deployment.Server : Deployment.Desktop;
        _f.Item("I1", mode, 1, expiration: _f.Today.AddYears(3), deployment: deployment);
        _f.Code("216998-app", "I1");

        Assert.Null(_f.Error("a", deployment: deployment));
        _f.Clock.Advance(TimeSpan.FromDays(days) - TimeSpan.FromMinutes(1));
        Assert.Equal(ErrorCodes.QuotaUsedUp, _f.Error("b", deployment: deployment));
        Assert.Equal(1, _f.Measure("I1").Used);
        _f.Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, _f.Measure("I1").Used);
        Assert.Null(_f.Error("b", deployment: deployment));
    }

    [Fact]
    public void A_report_refreshes_an_active_device_seat()
    {
        _f.Item("I1", LicenseMode.PerDeviceMonthly, 1);
        _f.Code("216998-app", "I1");
        Assert.Null(_f.Error("a"));
        _f.Clock.Advance(TimeSpan.FromDays(6)); // within the authorization's cacheUntil: the report counts
        Assert.Equal(1, _f.Report("a", "I1", 5).Answer!.Accepted);
        _f.Clock.Advance(TimeSpan.FromDays(25)); // 31 days after the auth, 25 after the report
        Assert.Equal(ErrorCodes.QuotaUsedUp, _f.Error("b"));
    }

    [Fact]
    public void A_seat_never_outlives_the_item_grace()
    {
        _f.Item("I1", LicenseMode.PerDeviceYearly, 5, expiration: _f.Today.AddDays(10));
        _f.Code("216998-app", "I1");

        var grant = _f.Auth("a").Grant!;

        Assert.Equal(new DateTimeOffset(_f.Today.AddDays(18).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), grant.GrantedUntil);
        Assert.Equal(_f.Now + TimeSpan.FromDays(7), grant.CacheUntil);
        Assert.Equal(LicenseAuthority.ReportIntervalSeconds, grant.ReportIntervalSeconds);
    }

    [Fact]
    public void An_item_grants_through_its_expiry_day_then_7_days_with_a_warning_then_refuses_111()
    {
        _f.Item("I1", LicenseMode.PerDeviceYearly, 5, expiration: _f.Today);
        _f.Code("216998-app", "I1");
        var endOfExpiryDay = new DateTimeOffset(_f.Today.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

        _f.Clock.SetUtcNow(endOfExpiryDay - TimeSpan.FromSeconds(1));
        Assert.Null(_f.Auth("a").Grant!.Warning);
        _f.Clock.SetUtcNow(endOfExpiryDay);
        var inGrace = _f.Auth("a").Grant!;
        Assert.Contains("grace", inGrace.Warning);
        Assert.Equal(endOfExpiryDay.AddDays(7), inGrace.CacheUntil);
        _f.Clock.SetUtcNow(endOfExpiryDay.AddDays(7) - TimeSpan.FromSeconds(1));
        Assert.NotNull(_f.Auth("a").Grant);
        _f.Clock.SetUtcNow(endOfExpiryDay.AddDays(7));
        Assert.Equal(ErrorCodes.Expired, _f.Error("a"));
    }

    [Fact]
    public void An_item_refuses_112_before_its_start_day_and_grants_from_its_first_moment()
    {
        var start = _f.Today.AddDays(1);
        _f.Item("I1", LicenseMode.PerDeviceYearly, 5, start: start);
        _f.Code("216998-app", "I1");

        Assert.Equal(ErrorCodes.NotYetEffective, _f.Error("a"));
        _f.Clock.SetUtcNow(new DateTimeOffset(start.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero));
        Assert.Null(_f.Error("a"));
    }

    [Fact]
    public void A_revoked_item_and_the_revoking_item_both_refuse_113()
    {
        _f.Item("I1", LicenseMode.PerDeviceYearly, 5);
        _f.Item("I2", LicenseMode.PerDeviceYearly, 5, revokes: "I1", version: "11");
        _f.Code("216998-app", "I1", "I2");

        Assert.Equal(ErrorCodes.Revoked, _f.Error("a"));
        Assert.Equal(ErrorCodes.Revoked, _f.Auth(AuthorityFixture.Request("a", version: "11.0")).Error!.ErrorCode);
    }

    [Fact]
    public void Items_are_consumed_in_the_code_order_and_a_known_device_keeps_its_item()
    {
        _f.Item("A", LicenseMode.PerDeviceYearly, 1);
        _f.Item("B", LicenseMode.PerDeviceYearly, 1);
        _f.Code("216998-app", "B", "A");

        Assert.Equal("B", _f.Auth("d1").Grant!.ItemId);
        Assert.Equal("A", _f.Auth("d2").Grant!.ItemId);
        Assert.Equal("B", _f.Auth("d1").Grant!.ItemId);
        Assert.Equal("A", _f.Auth("d2").Grant!.ItemId);
        Assert.Equal(ErrorCodes.QuotaUsedUp, _f.Error("d3"));
    }

    [Fact]
    public void An_expired_first_item_passes_the_request_to_the_next_and_a_quota_refusal_is_preferred_over_a_date_one()
    {
        _f.Item("OLD", LicenseMode.PerDeviceYearly, 5, expiration: _f.Today.AddDays(-30));
        _f.Item("NEW", LicenseMode.PerDeviceYearly, 1);
        _f.Code("216998-app", "OLD", "NEW");

        Assert.Equal("NEW", _f.Auth("d1").Grant!.ItemId);
        Assert.Equal(ErrorCodes.QuotaUsedUp, _f.Error("d2"));
    }

    [Fact]
    public void Items_match_on_product_deployment_major_version_and_edition()
    {
        _f.Item("I1", LicenseMode.PerDeviceYearly, 5, edition: "Pro");
        _f.Code("216998-app", "I1");

        Assert.NotNull(_f.Auth(AuthorityFixture.Request("a", version: "10", edition: "pro")).Grant);
        Assert.Equal(ErrorCodes.NoMatchingItem, _f.Auth(AuthorityFixture.Request("a", version: "11.0.1", edition: "Pro")).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.NoMatchingItem, _f.Auth(AuthorityFixture.Request("a", version: "100.0", edition: "Pro")).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.NoMatchingItem, _f.Auth(AuthorityFixture.Request("a", edition: "Basic")).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.NoMatchingItem, _f.Auth(AuthorityFixture.Request("a", product: "DWT", edition: "Pro")).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.NoMatchingItem, _f.Auth(AuthorityFixture.Request("b", deployment: Deployment.Server, edition: "Pro")).Error!.ErrorCode);
    }

    [Fact]
    public void Per_scan_refuses_130_once_the_count_reaches_quantity_plus_5_percent()
    {
        _f.Item("S", LicenseMode.PerScan, 1000);
        _f.Code("216998-app", "S");

        Assert.Null(_f.Auth("a").Error);
        Assert.Null(_f.Auth("b").Error);
        Assert.Equal(1, _f.Report("a", "S", 1049).Answer!.Accepted);
        Assert.Null(_f.Auth("a").Error);
        Assert.Equal(1, _f.Report("b", "S", 1).Answer!.Accepted);
        Assert.Equal(ErrorCodes.CountQuotaUsedUp, _f.Error("a"));
        Assert.Equal(ErrorCodes.CountQuotaUsedUp, _f.Error("new-client"));
        Assert.NotNull(_f.Report("a", "S", 10).Answer); // usage already done is still recorded
        var measure = _f.Measure("S");
        Assert.Equal(1060, measure.Used);
        Assert.Equal(50, measure.Tolerance);
        Assert.Equal(106, measure.PercentUsed);
    }

    [Fact]
    public void Per_page_counts_the_same_way()
    {
        _f.Item("P", LicenseMode.PerPage, 100);
        _f.Code("216998-app", "P");

        Assert.Null(_f.Auth("a").Error);
        Assert.Equal(1, _f.Report("a", "P", 104).Answer!.Accepted);
        Assert.Null(_f.Auth("a").Error);
        Assert.Equal(1, _f.Report("a", "P", 1).Answer!.Accepted);
        Assert.Equal(ErrorCodes.CountQuotaUsedUp, _f.Error("a"));
    }

    [Fact]
    public void Concurrent_devices_spend_the_tolerance_then_refuse_while_quantity_others_are_active()
    {
        _f.Item("C", LicenseMode.PerConcurrentDevice, 1); // tolerance: 1000 extra device-slices
        _f.Code("216998-app", "C");

        // Authorization alone counts nothing.
        Assert.Null(_f.Error("a"));
        Assert.Null(_f.Error("b"));
        Assert.Equal(0, _f.Measure("C").Used);

        // 999 past slices in which two devices reported: 999 extra device-slices.
        var start = TimeSlice.StartOf(_f.Now) - TimeSlice.Length * 1000;
        foreach (var client in new[] { "a", "b" })
        {
            var records = Enumerable.Range(0, 999).Select(i => new UsageRecord(start + TimeSlice.Length * i, "C", "DBR", 1, null, null)).ToList();
            Assert.Equal(999, _f.Report(new ReportRequest(client, "216998-app", "past", records)).Answer!.Accepted);
        }

        Assert.Equal(999, _f.Measure("C").ToleranceUsed);
        Assert.NotNull(_f.Report("a", "C", 1).Answer); // a is active now
        Assert.Null(_f.Error("b")); // tolerance left: granted
        Assert.NotNull(_f.Report("b", "C", 1).Answer); // the 1000th extra slice
        var measure = _f.Measure("C");
        Assert.Equal(2, measure.Used);
        Assert.Equal(1000, measure.ToleranceUsed);
        Assert.Equal(100, measure.PercentToleranceUsed);

        Assert.Equal(ErrorCodes.QuotaUsedUp, _f.Error("c")); // a (and b) active in this slice
        Assert.Equal(ErrorCodes.QuotaUsedUp, _f.Error("a")); // for a, b is the other active device
        _f.Clock.Advance(TimeSlice.Length * 2); // nobody reported in the current or previous slice
        Assert.Null(_f.Error("c"));
    }

    [Fact]
    public void Concurrent_instances_count_per_instance_and_a_server_may_ask_for_at_most_quantity()
    {
        _f.Item("CI", LicenseMode.PerConcurrentInstance, 4, deployment: Deployment.Server);
        _f.Code("216998-app", "CI");

        Assert.Null(_f.Auth("srv", deployment: Deployment.Server, instanceCount: 4).Error);
        Assert.Equal(ErrorCodes.QuotaUsedUp, _f.Auth("srv", deployment: Deployment.Server, instanceCount: 5).Error!.ErrorCode);
        foreach (var instance in new[] { "1", "2", "3", "3" })
        {
            _f.Report("srv", "CI", 1, instanceId: instance);
        }

        Assert.Equal(3, _f.Measure("CI").Used);
        Assert.Equal(4000, _f.Measure("CI").Tolerance);
    }

    [Fact]
    public void Per_domain_folds_subdomains_counts_tenants_of_multi_tenant_suffixes_and_refuses_new_domains_103()
    {
        _f.Item("D", LicenseMode.PerDomain, 2, deployment: Deployment.Browser);
        _f.Code("216998-app", "D");

        Assert.Null(_f.Error("c1", "https://a.example.com/app", Deployment.Browser));
        Assert.Null(_f.Error("c2", "b.example.com", Deployment.Browser));
        Assert.Null(_f.Error("c3", "alice.s3.amazonaws.com", Deployment.Browser));
        Assert.Equal(2, _f.Measure("D").Used);
        Assert.Equal(ErrorCodes.NotAllowed, _f.Error("c4", "bob.s3.amazonaws.com", Deployment.Browser));
        Assert.Equal(ErrorCodes.NotAllowed, _f.Error("c5", "example.org", Deployment.Browser));
        Assert.Equal(ErrorCodes.NotAllowed, _f.Error("c6", null, Deployment.Browser));
        Assert.Null(_f.Error("c7", "www.EXAMPLE.com.", Deployment.Browser));
    }

    [Theory]
    [InlineData("a.example.com", "example.com")]
    [InlineData("https://A.Example.com:8443/path?q", "example.com")]
    [InlineData("example.com", "example.com")]
    [InlineData("shop.example.co.uk", "example.co.uk")]
    [InlineData("www.example.com.au", "example.com.au")]
    [InlineData("acme.herokuapp.com", "acme.herokuapp.com")]
    [InlineData("x.alice.s3.amazonaws.com", "alice.s3.amazonaws.com")]
    [InlineData("user.github.io", "user.github.io")]
    [InlineData("d111.cloudfront.net", "d111.cloudfront.net")]
    [InlineData("localhost", "localhost")]
    [InlineData("10.0.0.7", "10.0.0.7")]
    [InlineData("bücher.example.de", "example.de")]
    public void Registrable_domains_fold_by_the_public_suffix_list(string host, string expected) =>
        Assert.Equal(expected, RegistrableDomain.Of(host));

    [Fact]
    public void Quota_meter_tells_the_truth_for_every_mode()
    {
        _f.Item("Y", LicenseMode.PerDeviceYearly, 10);
        _f.Item("D", LicenseMode.PerDomain, 10, deployment: Deployment.Browser);
        _f.Item("S", LicenseMode.PerScan, 100, product: "DLR");
        _f.Code("216998-app", "Y", "D", "S");

        _f.Auth("a");
        _f.Auth("b");
        _f.Auth(AuthorityFixture.Request("c", deployment: Deployment.Browser, domain: "x.example.com"));
        _f.Auth(AuthorityFixture.Request("d", deployment: Deployment.Browser, domain: "y.example.com"));
        Assert.Equal("S", _f.Auth(AuthorityFixture.Request("a", product: "DLR")).Grant!.ItemId);
        Assert.Equal("S", _f.Auth(AuthorityFixture.Request("b", product: "DLR")).Grant!.ItemId);
        Assert.Equal(1, _f.Report("a", "S", 7, product: "DLR").Answer!.Accepted);
        Assert.Equal(1, _f.Report("b", "S", 5, product: "DLR").Answer!.Accepted);

        Assert.Equal(2, _f.Measure("Y").Used);
        Assert.Equal(1, _f.Measure("D").Used);
        Assert.Equal(12, _f.Measure("S").Used);
    }
}
