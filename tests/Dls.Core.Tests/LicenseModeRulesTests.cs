using Dls.Core.Accounting;
using Dls.Core.Alerts;
using Dls.Core.Licensing;
using Dls.Core.Protocol;

namespace Dls.Core.Tests;

/// <summary>The mode type on its own: each mode's tolerance, window, refusal, deployments and alert levels (SPEC §3, §6, §7).</summary>
public sealed class LicenseModeRulesTests
{
    public static TheoryData<LicenseMode> Modes() => new(Enum.GetValues<LicenseMode>());

    [Theory]
    [MemberData(nameof(Modes))]
    public void Every_mode_name_has_exactly_its_own_rules(LicenseMode mode)
    {
        var rules = LicenseModeRules.For(mode);

        Assert.Equal(mode, rules.Mode);
        Assert.Equal(mode.ToString(), rules.ToString());
        Assert.Single(LicenseModeRules.All, r => r.Mode == mode);
    }

    [Fact]
    public void The_catalogue_holds_the_ten_modes_of_the_contract()
    {
        Assert.Equal(
            ["PerDeviceYearly", "PerDeviceQuarterly", "PerDeviceMonthly", "PerDeviceDaily", "PerConcurrentDevice", "PerConcurrentInstance", "PerScan", "PerPage", "PerServer", "PerDomain"],
            LicenseModeRules.All.Select(r => r.Mode.ToString()));
    }

    [Theory]
    // Devices and servers: +10 % rounded half up (10 % of 4 is 0.4 → 0, of 5 is 0.5 → 1).
    [InlineData(LicenseMode.PerDeviceYearly, 4, 0)]
    [InlineData(LicenseMode.PerDeviceYearly, 5, 1)]
    [InlineData(LicenseMode.PerDeviceYearly, 10, 1)]
    [InlineData(LicenseMode.PerDeviceYearly, 1000, 100)]
    [InlineData(LicenseMode.PerDeviceDaily, 5, 1)]
    [InlineData(LicenseMode.PerServer, 4, 0)]
    [InlineData(LicenseMode.PerServer, 5, 1)]
    [InlineData(LicenseMode.PerServer, 10, 1)]
    [InlineData(LicenseMode.PerServer, 1000, 100)]
    // Scans and pages: +5 % rounded half up (5 % of 10 is 0.5 → 1, of 4 is 0.2 → 0).
    [InlineData(LicenseMode.PerScan, 4, 0)]
    [InlineData(LicenseMode.PerScan, 5, 0)]
    [InlineData(LicenseMode.PerScan, 10, 1)]
    [InlineData(LicenseMode.PerScan, 1000, 50)]
    [InlineData(LicenseMode.PerPage, 10, 1)]
    [InlineData(LicenseMode.PerPage, 1000, 50)]
    // Concurrent: 1000 extra slices per unit of quantity, over the item's life.
    [InlineData(LicenseMode.PerConcurrentDevice, 4, 4000)]
    [InlineData(LicenseMode.PerConcurrentDevice, 5, 5000)]
    [InlineData(LicenseMode.PerConcurrentInstance, 10, 10000)]
    [InlineData(LicenseMode.PerConcurrentInstance, 1000, 1000000)]
    // Domains: none.
    [InlineData(LicenseMode.PerDomain, 4, 0)]
    [InlineData(LicenseMode.PerDomain, 5, 0)]
    [InlineData(LicenseMode.PerDomain, 10, 0)]
    [InlineData(LicenseMode.PerDomain, 1000, 0)]
    public void Tolerance_is_the_contracts_share_rounded_half_up(LicenseMode mode, long quantity, long tolerance)
    {
        Assert.Equal(tolerance, LicenseModeRules.For(mode).Tolerance(quantity));
    }

    [Theory]
    [InlineData(LicenseMode.PerDeviceYearly, 10, 10, false)] // the 11th device still gets a seat
    [InlineData(LicenseMode.PerDeviceYearly, 10, 11, true)] // the 12th is refused
    [InlineData(LicenseMode.PerScan, 1000, 1049, false)]
    [InlineData(LicenseMode.PerScan, 1000, 1050, true)] // refused once 1050 are counted
    [InlineData(LicenseMode.PerDomain, 5, 4, false)]
    [InlineData(LicenseMode.PerDomain, 5, 5, true)]
    public void Used_up_means_the_count_before_the_request_reached_quantity_plus_tolerance(LicenseMode mode, long quantity, long countBefore, bool usedUp)
    {
        Assert.Equal(usedUp, LicenseModeRules.For(mode).IsUsedUp(countBefore, quantity));
    }

    [Theory]
    [InlineData(LicenseMode.PerDeviceYearly, 365 * 24)]
    [InlineData(LicenseMode.PerDeviceQuarterly, 90 * 24)]
    [InlineData(LicenseMode.PerDeviceMonthly, 30 * 24)]
    [InlineData(LicenseMode.PerDeviceDaily, 24)]
    [InlineData(LicenseMode.PerServer, 365 * 24)]
    [InlineData(LicenseMode.PerDomain, 365 * 24)]
    public void Seats_stay_active_for_the_modes_window(LicenseMode mode, int hours)
    {
        var rules = LicenseModeRules.For(mode);

        Assert.Equal(QuotaBasis.Seats, rules.Basis);
        Assert.Equal(TimeSpan.FromHours(hours), rules.ActiveWindow);
    }

    [Theory]
    [InlineData(LicenseMode.PerConcurrentDevice)]
    [InlineData(LicenseMode.PerConcurrentInstance)]
    public void Concurrent_modes_look_at_the_current_and_the_previous_slice(LicenseMode mode)
    {
        var rules = LicenseModeRules.For(mode);

        Assert.Equal(QuotaBasis.Concurrent, rules.Basis);
        Assert.Equal(TimeSpan.FromMinutes(6), rules.ActiveWindow);
    }

    [Theory]
    [InlineData(LicenseMode.PerDeviceYearly, QuotaBasis.Seats, SeatKeyKind.Device, ErrorCodes.QuotaUsedUp)]
    [InlineData(LicenseMode.PerServer, QuotaBasis.Seats, SeatKeyKind.Device, ErrorCodes.QuotaUsedUp)]
    [InlineData(LicenseMode.PerDomain, QuotaBasis.Seats, SeatKeyKind.Domain, ErrorCodes.NotAllowed)]
    [InlineData(LicenseMode.PerConcurrentDevice, QuotaBasis.Concurrent, SeatKeyKind.Device, ErrorCodes.QuotaUsedUp)]
    [InlineData(LicenseMode.PerConcurrentInstance, QuotaBasis.Concurrent, SeatKeyKind.Instance, ErrorCodes.QuotaUsedUp)]
    [InlineData(LicenseMode.PerScan, QuotaBasis.Count, SeatKeyKind.Device, ErrorCodes.CountQuotaUsedUp)]
    [InlineData(LicenseMode.PerPage, QuotaBasis.Count, SeatKeyKind.Device, ErrorCodes.CountQuotaUsedUp)]
    public void Each_mode_counts_its_own_thing_and_refuses_with_its_code(LicenseMode mode, QuotaBasis basis, SeatKeyKind key, int error)
    {
        var rules = LicenseModeRules.For(mode);

        Assert.Equal(basis, rules.Basis);
        Assert.Equal(key, rules.Key);
        Assert.Equal(error, rules.UsedUpError);
    }

    [Fact]
    public void Reports_keep_device_seats_alive_but_not_domain_seats()
    {
        Assert.True(LicenseModeRules.For(LicenseMode.PerDeviceMonthly).ReportsRefreshSeats);
        Assert.True(LicenseModeRules.For(LicenseMode.PerServer).ReportsRefreshSeats);
        Assert.False(LicenseModeRules.For(LicenseMode.PerDomain).ReportsRefreshSeats);
        Assert.False(LicenseModeRules.For(LicenseMode.PerScan).ReportsRefreshSeats);
        Assert.False(LicenseModeRules.For(LicenseMode.PerConcurrentDevice).ReportsRefreshSeats);
    }

    [Fact]
    public void Per_server_and_per_instance_items_are_for_servers_the_rest_for_any_deployment()
    {
        Assert.Equal([Deployment.Server], LicenseModeRules.For(LicenseMode.PerServer).Deployments);
        Assert.Equal([Deployment.Server], LicenseModeRules.For(LicenseMode.PerConcurrentInstance).Deployments);
        Assert.Equal(Enum.GetValues<Deployment>(), LicenseModeRules.For(LicenseMode.PerDeviceYearly).Deployments);
        Assert.Equal(Enum.GetValues<Deployment>(), LicenseModeRules.For(LicenseMode.PerDomain).Deployments);
    }

    [Theory]
    [InlineData(LicenseMode.PerDeviceYearly, AlertCondition.DeviceQuota, "60,80,100,110")]
    [InlineData(LicenseMode.PerDeviceQuarterly, AlertCondition.DeviceQuota, "60,80,100,110")]
    [InlineData(LicenseMode.PerDeviceMonthly, AlertCondition.DeviceQuota, "60,80,100,110")]
    [InlineData(LicenseMode.PerDeviceDaily, AlertCondition.DeviceQuota, "100,110")]
    [InlineData(LicenseMode.PerServer, AlertCondition.DeviceQuota, "60,80,100,110")]
    [InlineData(LicenseMode.PerDomain, AlertCondition.DeviceQuota, "60,80,100")]
    [InlineData(LicenseMode.PerScan, AlertCondition.CountQuota, "60,80,100,105")]
    [InlineData(LicenseMode.PerPage, AlertCondition.CountQuota, "60,80,100,105")]
    [InlineData(LicenseMode.PerConcurrentDevice, AlertCondition.ConcurrentTolerance, "60,80,100")]
    [InlineData(LicenseMode.PerConcurrentInstance, AlertCondition.ConcurrentTolerance, "60,80,100")]
    public void Alert_condition_and_levels_are_those_of_SPEC_6(LicenseMode mode, AlertCondition condition, string levels)
    {
        var rules = LicenseModeRules.For(mode);

        Assert.Equal(condition, rules.QuotaCondition);
        Assert.Equal(levels.Split(','), rules.Levels.Select(l => l.Name));
        Assert.Equal(mode is LicenseMode.PerConcurrentDevice or LicenseMode.PerConcurrentInstance ? QuotaAlertValue.ToleranceUsedOfTolerance : QuotaAlertValue.UsedOfQuantity, rules.AlertValue);
    }

    [Theory]
    [InlineData(LicenseMode.PerDeviceYearly, "110")]
    [InlineData(LicenseMode.PerServer, "110")]
    [InlineData(LicenseMode.PerScan, "105")]
    public void The_last_level_of_a_mode_with_tolerance_is_tolerance_used_up_not_a_fixed_percentage(LicenseMode mode, string name)
    {
        var last = LicenseModeRules.For(mode).Levels[^1];

        Assert.Equal(name, last.Name);
        Assert.Null(last.Percent);
        Assert.Equal(AlertSeverity.Critical, last.Severity);
    }

    [Fact]
    public void A_domain_items_100_percent_is_critical_because_it_has_no_tolerance()
    {
        var last = LicenseModeRules.For(LicenseMode.PerDomain).Levels[^1];
        var measure = new QuotaMeasure("D1", LicenseMode.PerDomain, 5, 5, 0, 0);

        Assert.Equal(100, last.Percent);
        Assert.Equal(AlertSeverity.Critical, last.Severity);
        Assert.Contains("new domains are refused (error 103)", last.NextStep(measure), StringComparison.Ordinal);
    }

    [Fact]
    public void A_levels_next_step_tells_what_is_left_from_the_measure()
    {
        var rules = LicenseModeRules.For(LicenseMode.PerDeviceYearly);
        var measure = new QuotaMeasure("I1", LicenseMode.PerDeviceYearly, 5, 5, rules.Tolerance(5), 0);

        var atHundred = rules.Levels.Single(l => l.Name == "100").NextStep(measure);

        Assert.Equal("in tolerance: 1 more new devices get a seat, then new devices are refused (error 120); at 120 % new devices are refused", atHundred);
    }

    [Fact]
    public void An_undefined_mode_number_has_no_rules()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LicenseModeRules.For((LicenseMode)99));
    }
}
