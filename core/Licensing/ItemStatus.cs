namespace Dls.Core.Licensing;

/// <summary>An item's state now, from its dates and revocations (SPEC §5 Get-DlsLicenseItem).</summary>
public enum ItemStatus
{
    Active,
    NotYetEffective,
    InGrace,
    Expired,
    Revoked,
}
