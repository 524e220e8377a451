namespace Dls.Core.Licensing;

/// <summary>How an item's quantity is counted (SPEC §3). The names are part of the contract.</summary>
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

public enum Deployment
{
    Browser,
    Mobile,
    Desktop,
    Server,
    Embedded,
}

/// <summary>An item's state now, from its dates and revocations (SPEC §5 Get-DlsLicenseItem).</summary>
public enum ItemStatus
{
    Active,
    NotYetEffective,
    InGrace,
    Expired,
    Revoked,
}
