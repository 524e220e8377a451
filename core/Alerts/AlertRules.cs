using System.Globalization;
using Dls.Core.Accounting;
using Dls.Core.Licensing;

namespace Dls.Core.Alerts;

/// <summary>One level of a condition: reached when the value is ≥ <see cref="Threshold"/> (≤ for a falling value such as days left).</summary>
/// <param name="Name">Stable key kept in the level state ("80", "110", "7d").</param>
/// <param name="Label">What people read ("80 %", "7 days").</param>
internal sealed record AlertLevel(string Name, string Label, double Threshold, AlertSeverity Severity, string NextStep);

/// <summary>A condition's value in one check, with its levels in rising order of urgency.</summary>
internal sealed record ConditionReading(
    string Key,
    AlertCondition Condition,
    string Target,
    string ItemId,
    string Product,
    IReadOnlyList<string> HandshakeCodes,
    double Value,
    string ValueText,
    bool Falling,
    IReadOnlyList<AlertLevel> Levels)
{
    public bool Reached(AlertLevel level) => Falling ? Value <= level.Threshold : Value >= level.Threshold;

    public AlertFinding FindingAt(AlertLevel level) =>
        new(Condition, level.Label, level.Severity, Target, ItemId, Product, HandshakeCodes, Math.Round(Value, 1), ValueText, level.NextStep);
}

/// <summary>
/// The conditions and levels of SPEC §6, as pure functions of the measured values. An item's quota levels come
/// from its mode's <see cref="LicenseModeRules"/>; levels that the tolerance defines (110 % devices, 105 % scans)
/// are reached when the tolerance is used up, which for rounded tolerances is not always exactly that percentage
/// (quantity 5: tolerance 1 seat, used up at 120 %).
/// </summary>
internal static class AlertRules
{
    public static readonly TimeSpan FailureWindow = TimeSpan.FromHours(1);

    private static readonly double[] FailureLevels = [10, 20, 40, 60, 80, 100];

    public static IEnumerable<ConditionReading> Readings(IEnumerable<ItemReading> items, IEnumerable<CodeAuthorizations> codes, DateTimeOffset now)
    {
        foreach (var reading in items)
        {
            if (reading.Revoked)
            {
                // A revoked item never grants: its quota and expiry no longer matter.
                continue;
            }

            var quota = QuotaReading(reading);
            if (quota is not null)
            {
                yield return quota;
            }

            yield return ExpiryReading(reading, now);
        }

        foreach (var code in codes)
        {
            yield return FailureReading(code);
        }
    }

    internal static ConditionReading? QuotaReading(ItemReading reading)
    {
        var item = reading.Item;
        var m = reading.Measure;
        if (m.Quantity <= 0)
        {
            return null;
        }

        var rules = LicenseModeRules.For(item.Mode);
        double value;
        string text;
        if (rules.AlertValue == QuotaAlertValue.ToleranceUsedOfTolerance)
        {
            if (m.Tolerance <= 0)
            {
                return null;
            }

            value = Percent(m.ToleranceUsed, m.Tolerance);
            text = $"{Pct(value)} of tolerance ({m.ToleranceUsed} of {m.Tolerance} extra {rules.Unit}-slices; {m.Used} of {m.Quantity} {rules.Units} active now)";
        }
        else
        {
            value = Percent(m.Used, m.Quantity);
            text = $"{Pct(value)} ({m.Used} of {m.Quantity} {rules.Units})";
        }

        // A level without a percentage is "tolerance used up", whatever percentage that is after rounding.
        var full = Percent(m.Quantity + m.Tolerance, m.Quantity);
        var levels = rules.Levels
            .Select(level => new AlertLevel(level.Name, level.Label, level.Percent ?? full, level.Severity, level.NextStep(m)))
            .ToList();
        return Reading(reading, rules.QuotaCondition, value, text, levels);
    }

    internal static ConditionReading ExpiryReading(ItemReading reading, DateTimeOffset now)
    {
        var item = reading.Item;
        var expiry = item.ExpirationDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var graceEnd = item.ExpirationDate.AddDays(LicenseItem.GraceDays).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var daysLeft = (item.ExpiresAt - now).TotalDays;
        var before = $"expires at the end of {expiry} (UTC); then {LicenseItem.GraceDays} days of grace until {graceEnd}, after which every client is refused (error 111)";
        string text;
        if (daysLeft <= 0)
        {
            text = now < item.GraceEndsAt ? $"expired on {expiry}, in grace until {graceEnd}" : $"expired on {expiry}, grace ended {graceEnd}";
        }
        else if (daysLeft < 1)
        {
            text = $"{Math.Ceiling(daysLeft * 24):0} hours left (expires at the end of {expiry})";
        }
        else
        {
            text = $"{Math.Floor(daysLeft):0} days left (expires at the end of {expiry})";
        }

        return Reading(reading, AlertCondition.Expiry, daysLeft, text,
            [
                new("30d", "30 days", 30, AlertSeverity.Info, before),
                new("7d", "7 days", 7, AlertSeverity.Warning, before),
                new("1d", "1 day", 1, AlertSeverity.Critical, before),
                new("0d", "expired", 0, AlertSeverity.Critical,
                    $"in grace until the end of {graceEnd}: authorizations carry a warning; after that every client is refused (error 111)"),
            ],
            falling: true);
    }

    internal static ConditionReading FailureReading(CodeAuthorizations code)
    {
        var value = code.Total == 0 ? 0 : Percent(code.Failed, code.Total);
        var target = code.HandshakeCode.Length == 0 ? "(no code)" : code.HandshakeCode;
        var next = code.HandshakeCode.Length == 0
            ? "clients ask with a handshake code that does not exist or with none (errors 101, 123): check their license keys"
            : "clients of this code are being refused: see Get-DlsUsage -By Code and the listener log for the error codes";
        var levels = FailureLevels
            .Select(l => new AlertLevel(
                l.ToString(CultureInfo.InvariantCulture),
                Pct(l),
                l,
                l >= 80 ? AlertSeverity.Critical : l >= 40 ? AlertSeverity.Warning : AlertSeverity.Info,
                next))
            .ToList();
        return new ConditionReading(
            "failures:" + code.HandshakeCode,
            AlertCondition.FailedAuthorizations,
            target,
            string.Empty,
            string.Empty,
            code.HandshakeCode.Length == 0 ? [] : [code.HandshakeCode],
            value,
            $"{Pct(value)} ({code.Failed} of {code.Total} refused in the last hour)",
            Falling: false,
            levels);
    }

    private static ConditionReading Reading(ItemReading reading, AlertCondition condition, double value, string text, IReadOnlyList<AlertLevel> levels, bool falling = false) =>
        new(
            KeyOf(condition, reading.Item.ItemId),
            condition,
            reading.Item.ItemId,
            reading.Item.ItemId,
            reading.Item.Product,
            reading.HandshakeCodes,
            value,
            text,
            falling,
            levels);

    private static string KeyOf(AlertCondition condition, string target) => condition switch
    {
        AlertCondition.Expiry => "expiry:" + target,
        AlertCondition.FailedAuthorizations => "failures:" + target,
        _ => "quota:" + target,
    };

    private static double Percent(long part, long whole) => whole <= 0 ? 0 : part * 100.0 / whole;

    internal static string Pct(double value) =>
        Math.Round(value, 1).ToString(value % 1 == 0 ? "0" : "0.#", CultureInfo.InvariantCulture) + " %";
}
