using Dls.Core.Licensing;

namespace Dls.Core.Accounting;

/// <summary>
/// How much of an item is used now, in the terms of its mode (SPEC §3): active devices, servers or domains;
/// counted scans or pages; devices or instances active in the current slice for concurrent items.
/// <see cref="Tolerance"/> is what the mode allows beyond <see cref="Quantity"/> (devices, counts, or for
/// concurrent items extra device/instance-slices over the item's life) and <see cref="ToleranceUsed"/> how much of it is gone.
/// </summary>
public sealed record QuotaMeasure(string ItemId, LicenseMode Mode, long Quantity, long Used, long Tolerance, long ToleranceUsed)
{
    /// <summary>Used ÷ quantity × 100; passes 100 in tolerance (11 of 10 → 110).</summary>
    public double PercentUsed => Quantity <= 0 ? 0 : Math.Round(Used * 100.0 / Quantity, 1);

    public double PercentToleranceUsed => Tolerance <= 0 ? 0 : Math.Round(ToleranceUsed * 100.0 / Tolerance, 1);
}
