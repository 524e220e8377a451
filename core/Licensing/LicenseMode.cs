using Dls.Core.Accounting;
using Dls.Core.Alerts;
using Dls.Core.Protocol;
using Dls.Core.Usage;

namespace Dls.Core.Licensing;

/// <summary>
/// The names of the license modes (SPEC §3 and §7). The names are part of the contract: license files, cmdlets and
/// the wire spell them. Each name has its rules in <see cref="LicenseModeRules"/>, in this same file, and the
/// catalogue refuses to load when a name has no rules or two: adding a mode is one edit of this file (plus its tests).
/// </summary>
/// <remarks>
/// The names stay an enum, not a class, because PowerShell binds, completes and prints enums and the license file
/// parser and the JSON writers treat them as plain names; the rules are the one place that says what a name means.
/// </remarks>
public enum LicenseMode
{
    PerDeviceYearly,
    PerDeviceQuarterly,
    PerDeviceMonthly,
    PerDeviceDaily,
    PerConcurrentDevice,
    PerConcurrentInstance,
    PerScan,
    PerPage,
    PerServer,
    PerDomain,
}

/// <summary>How the ledger counts an item's use against its quantity.</summary>
public enum QuotaBasis
{
    /// <summary>Seats held by a device, server or domain from its first authorization until it lapses after the active window.</summary>
    Seats,

    /// <summary>Devices or instances that reported usage in the same time slice; an authorization alone takes nothing.</summary>
    Concurrent,

    /// <summary>The sum of the counts reported over the item's life.</summary>
    Count,
}

/// <summary>What one seat or one concurrent slot of an item stands for.</summary>
public enum SeatKeyKind
{
    /// <summary>The client's device (its clientUuid).</summary>
    Device,

    /// <summary>The request's registrable domain.</summary>
    Domain,

    /// <summary>One instance (clientUuid/instanceId) of a server process.</summary>
    Instance,
}

/// <summary>Which number an item's quota alert compares with its levels.</summary>
public enum QuotaAlertValue
{
    /// <summary>Used ÷ quantity, in percent.</summary>
    UsedOfQuantity,

    /// <summary>Tolerance used ÷ tolerance, in percent.</summary>
    ToleranceUsedOfTolerance,
}

/// <summary>
/// One level of an item's quota alert (SPEC §6). <see cref="Percent"/> null means "the tolerance is used up", whatever
/// percentage that is after rounding (SPEC §7: "110 %" of quantity 5 is reached at 120 %).
/// </summary>
/// <param name="Name">Stable key kept in the alert level state ("80", "110").</param>
/// <param name="Label">What people read ("80 %").</param>
/// <param name="NextStep">What happens next, told from the item's measure.</param>
public sealed record QuotaLevel(string Name, string Label, double? Percent, AlertSeverity Severity, Func<QuotaMeasure, string> NextStep);

/// <summary>
/// Everything a license mode means, in one place (SPEC §3, §6, §7): what counts against the quantity, the tolerance
/// beyond it (rounded half up), how long a seat stays active, the error a client gets once the tolerance is used up,
/// the deployments the mode is meant for, and the condition and levels of its quota alert. The ledger, the quota
/// meter and the alert rules ask this type; none of them switches on the mode.
/// </summary>
public sealed class LicenseModeRules
{
    private static readonly Deployment[] AnyDeployment = Enum.GetValues<Deployment>();

    private static readonly Deployment[] ServerOnly = [Deployment.Server];

    private static readonly LicenseModeRules[] Catalogue =
    [
        Seat(LicenseMode.PerDeviceYearly, "device", TimeSpan.FromDays(365)),
        Seat(LicenseMode.PerDeviceQuarterly, "device", TimeSpan.FromDays(90)),
        Seat(LicenseMode.PerDeviceMonthly, "device", TimeSpan.FromDays(30)),

        // Daily-active counts swing within a day; only reaching the quantity is worth a message (SPEC §6).
        Seat(LicenseMode.PerDeviceDaily, "device", TimeSpan.FromHours(24), earlyLevels: false),
        Seat(LicenseMode.PerServer, "server", TimeSpan.FromDays(365), ServerOnly),
        new(LicenseMode.PerDomain, QuotaBasis.Seats, SeatKeyKind.Domain, "domain", TimeSpan.FromDays(365), tolerancePercent: 0, toleranceSlicesPerUnit: 0,
            ErrorCodes.NotAllowed, AnyDeployment, AlertCondition.DeviceQuota, QuotaAlertValue.UsedOfQuantity, DomainLevels()),
        Concurrent(LicenseMode.PerConcurrentDevice, SeatKeyKind.Device, "device", AnyDeployment),
        Concurrent(LicenseMode.PerConcurrentInstance, SeatKeyKind.Instance, "instance", ServerOnly),
        Count(LicenseMode.PerScan, "scan"),
        Count(LicenseMode.PerPage, "page"),
    ];

    private static readonly LicenseModeRules[] ByMode = Index(Catalogue);

    private readonly decimal _tolerancePercent;
    private readonly long _toleranceSlicesPerUnit;

    private LicenseModeRules(
        LicenseMode mode,
        QuotaBasis basis,
        SeatKeyKind key,
        string unit,
        TimeSpan activeWindow,
        decimal tolerancePercent,
        long toleranceSlicesPerUnit,
        int usedUpError,
        IReadOnlyList<Deployment> deployments,
        AlertCondition quotaCondition,
        QuotaAlertValue alertValue,
        IReadOnlyList<QuotaLevel> levels)
    {
        Mode = mode;
        Basis = basis;
        Key = key;
        Unit = unit;
        ActiveWindow = activeWindow;
        _tolerancePercent = tolerancePercent;
        _toleranceSlicesPerUnit = toleranceSlicesPerUnit;
        UsedUpError = usedUpError;
        Deployments = deployments;
        QuotaCondition = quotaCondition;
        AlertValue = alertValue;
        Levels = levels;
    }

    /// <summary>Every mode's rules, in the order of <see cref="LicenseMode"/>.</summary>
    public static IReadOnlyList<LicenseModeRules> All => ByMode;

    public LicenseMode Mode { get; }

    /// <summary>What counts against the quantity.</summary>
    public QuotaBasis Basis { get; }

    /// <summary>What one seat or concurrent slot stands for.</summary>
    public SeatKeyKind Key { get; }

    /// <summary>What one unit of the quantity is called ("device", "server", "domain", "instance", "scan", "page").</summary>
    public string Unit { get; }

    /// <summary>The plural of <see cref="Unit"/>.</summary>
    public string Units => Unit + "s";

    /// <summary>
    /// How long a seat stays active after the last contact (365 d, 90 d, 30 d, 24 h); for concurrent modes the
    /// current and the previous slice, for counted modes the same (they hold no seats).
    /// </summary>
    public TimeSpan ActiveWindow { get; }

    /// <summary>The error code (SPEC §4) a client gets once the tolerance is used up.</summary>
    public int UsedUpError { get; }

    /// <summary>
    /// The deployments the mode is meant for (SPEC §3: per-server and per-instance items are for servers). A request
    /// matches only items of its own deployment, so this says which items make sense; it is documented, not enforced
    /// on import, because license files already issued must keep importing.
    /// </summary>
    public IReadOnlyList<Deployment> Deployments { get; }

    /// <summary>The alert condition of an item's quota (SPEC §6).</summary>
    public AlertCondition QuotaCondition { get; }

    /// <summary>Which number the quota alert compares with <see cref="Levels"/>.</summary>
    public QuotaAlertValue AlertValue { get; }

    /// <summary>The quota alert's levels, in rising order of urgency.</summary>
    public IReadOnlyList<QuotaLevel> Levels { get; }

    /// <summary>Whether a usage report keeps the client's seat alive (seats held by the device, not by a domain).</summary>
    public bool ReportsRefreshSeats => Basis == QuotaBasis.Seats && Key == SeatKeyKind.Device;

    /// <summary>The rules of a mode.</summary>
    public static LicenseModeRules For(LicenseMode mode) =>
        (uint)mode < (uint)ByMode.Length ? ByMode[(int)mode] : throw new ArgumentOutOfRangeException(nameof(mode), mode, "Not a license mode.");

    /// <summary>What the mode allows beyond the quantity (SPEC §3 and §7: percentages rounded half up, 10 % of 5 is 1, of 4 is 0).</summary>
    public long Tolerance(long quantity) =>
        _toleranceSlicesPerUnit > 0
            ? _toleranceSlicesPerUnit * quantity
            : (long)Math.Round(quantity * _tolerancePercent / 100m, MidpointRounding.AwayFromZero);

    /// <summary>
    /// Whether the count before a request has reached quantity + tolerance (SPEC §7): with quantity 10 devices 1–11 get
    /// seats and the 12th is refused.
    /// </summary>
    public bool IsUsedUp(long countBefore, long quantity) => countBefore >= quantity + Tolerance(quantity);

    public override string ToString() => Mode.ToString();

    private static LicenseModeRules Seat(LicenseMode mode, string unit, TimeSpan window, Deployment[]? deployments = null, bool earlyLevels = true) =>
        new(mode, QuotaBasis.Seats, SeatKeyKind.Device, unit, window, tolerancePercent: 10, toleranceSlicesPerUnit: 0,
            ErrorCodes.QuotaUsedUp, deployments ?? AnyDeployment, AlertCondition.DeviceQuota, QuotaAlertValue.UsedOfQuantity, SeatLevels(unit + "s", earlyLevels));

    private static LicenseModeRules Concurrent(LicenseMode mode, SeatKeyKind key, string unit, Deployment[] deployments) =>
        new(mode, QuotaBasis.Concurrent, key, unit, TimeSlice.Length * 2, tolerancePercent: 0, toleranceSlicesPerUnit: 1000,
            ErrorCodes.QuotaUsedUp, deployments, AlertCondition.ConcurrentTolerance, QuotaAlertValue.ToleranceUsedOfTolerance, ConcurrentLevels(unit));

    private static LicenseModeRules Count(LicenseMode mode, string unit) =>
        new(mode, QuotaBasis.Count, SeatKeyKind.Device, unit, TimeSlice.Length * 2, tolerancePercent: 5, toleranceSlicesPerUnit: 0,
            ErrorCodes.CountQuotaUsedUp, AnyDeployment, AlertCondition.CountQuota, QuotaAlertValue.UsedOfQuantity, CountLevels(unit + "s"));

    private static QuotaLevel[] SeatLevels(string units, bool earlyLevels)
    {
        string Early(QuotaMeasure m) => $"at 100 % the tolerance of {m.Tolerance} extra {units} begins; at {Full(m)} new {units} are refused (error {ErrorCodes.QuotaUsedUp})";
        QuotaLevel[] early = earlyLevels
            ? [new("60", "60 %", 60, AlertSeverity.Info, Early), new("80", "80 %", 80, AlertSeverity.Warning, Early)]
            : [];
        return
        [
            .. early,
            new("100", "100 %", 100, AlertSeverity.Warning,
                m => $"in tolerance: {Left(m)} more new {units} get a seat, then new {units} are refused (error {ErrorCodes.QuotaUsedUp}); at {Full(m)} new {units} are refused"),
            new("110", "110 %", null, AlertSeverity.Critical,
                _ => $"tolerance used up: new {units} are refused (error {ErrorCodes.QuotaUsedUp}); active ones keep working"),
        ];
    }

    private static QuotaLevel[] DomainLevels()
    {
        var early = $"at 100 % new domains are refused (error {ErrorCodes.NotAllowed})";
        return
        [
            new("60", "60 %", 60, AlertSeverity.Info, _ => early),
            new("80", "80 %", 80, AlertSeverity.Warning, _ => early),
            new("100", "100 %", 100, AlertSeverity.Critical, _ => $"domain quota used up: new domains are refused (error {ErrorCodes.NotAllowed})"),
        ];
    }

    private static QuotaLevel[] CountLevels(string units)
    {
        string Early(QuotaMeasure m) => $"at 100 % the tolerance of {m.Tolerance} {units} begins; at {Full(m)} every client is refused (error {ErrorCodes.CountQuotaUsedUp})";
        return
        [
            new("60", "60 %", 60, AlertSeverity.Info, Early),
            new("80", "80 %", 80, AlertSeverity.Warning, Early),
            new("100", "100 %", 100, AlertSeverity.Warning, m => $"in tolerance: {Left(m)} more {units}, then every client is refused (error {ErrorCodes.CountQuotaUsedUp})"),
            new("105", "105 %", null, AlertSeverity.Critical, _ => $"quota and tolerance used up: every client is refused (error {ErrorCodes.CountQuotaUsedUp})"),
        ];
    }

    private static QuotaLevel[] ConcurrentLevels(string unit)
    {
        string Early(QuotaMeasure m) => $"when the tolerance is used up, authorizations are refused (error {ErrorCodes.QuotaUsedUp}) while {m.Quantity} other {unit}s are active";
        return
        [
            new("60", "60 %", 60, AlertSeverity.Info, Early),
            new("80", "80 %", 80, AlertSeverity.Warning, Early),
            new("100", "100 %", 100, AlertSeverity.Critical,
                m => $"tolerance used up: authorizations are refused (error {ErrorCodes.QuotaUsedUp}) while {m.Quantity} other {unit}s are active"),
        ];
    }

    private static long Left(QuotaMeasure m) => Math.Max(0, m.Quantity + m.Tolerance - m.Used);

    private static string Full(QuotaMeasure m) => AlertRules.Pct(m.Quantity <= 0 ? 0 : (m.Quantity + m.Tolerance) * 100.0 / m.Quantity);

    private static LicenseModeRules[] Index(LicenseModeRules[] catalogue)
    {
        var modes = Enum.GetValues<LicenseMode>();
        var index = new LicenseModeRules[modes.Length];
        foreach (var rules in catalogue)
        {
            var at = (int)rules.Mode;
            if (at < 0 || at >= index.Length || index[at] is not null)
            {
                throw new InvalidOperationException($"License mode {rules.Mode} has rules twice or is not a member of {nameof(LicenseMode)}.");
            }

            index[at] = rules;
        }

        for (var i = 0; i < index.Length; i++)
        {
            if (index[i] is null || (int)modes[i] != i)
            {
                throw new InvalidOperationException($"License mode {modes[i]} has no rules: add them to {nameof(LicenseModeRules)}.");
            }
        }

        return index;
    }
}
