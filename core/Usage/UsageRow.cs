namespace Dls.Core.Usage;

/// <summary>How long each row of <c>Get-DlsUsage</c> is: one 3-minute slice, hour, day, month, or the whole range.</summary>
public enum UsageInterval
{
    Slice,
    Hour,
    Day,
    Month,
    Total,
}

/// <summary>What a row of <c>Get-DlsUsage</c> is about.</summary>
public enum UsageGrouping
{
    /// <summary>One row per handshake code (a code's devices are counted once even when they use several of its items).</summary>
    Code,

    /// <summary>One row per license item (over every code, unless a handshake code is asked for).</summary>
    Item,

    /// <summary>One row per device, summed over its codes and items (the code and item columns show the filters asked for, else are empty).</summary>
    Device,

    /// <summary>One row per reported feature.</summary>
    Feature,
}

/// <summary>
/// One row of usage statistics. <see cref="PeriodStart"/> and <see cref="PeriodEnd"/> (exclusive, UTC) are the part of
/// the period inside the range asked for. A column the grouping does not use is empty (null).
/// </summary>
/// <param name="UsageCount">The sum of the counts reported (named so that it does not hide PowerShell's <c>.Count</c> of an array of rows).</param>
/// <param name="Devices">Distinct devices that reported usage in the period.</param>
/// <param name="PeakConcurrent">The most devices that reported usage in one 3-minute slice of the period.</param>
/// <param name="PeakInstances">The most instances (device + instance id) that reported usage in one slice.</param>
/// <param name="Authorizations">Authorization requests, granted or refused.</param>
/// <param name="FailedAuthorizations">Refused authorization requests.</param>
public sealed record UsageRow(
    DateTime PeriodStart,
    DateTime PeriodEnd,
    string? HandshakeCode,
    string? ItemId,
    string? ClientUuid,
    string? Feature,
    long UsageCount,
    long? Devices,
    long? PeakConcurrent,
    long? PeakInstances,
    long? Authorizations,
    long? FailedAuthorizations);
