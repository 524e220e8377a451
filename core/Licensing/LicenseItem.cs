namespace Dls.Core.Licensing;

/// <summary>
/// One item of an imported license: the unit of quota (SPEC §2). Dates are UTC calendar dates: the item is
/// usable from the start of <see cref="StartDate"/> through the end of <see cref="ExpirationDate"/>, then
/// <see cref="GraceDays"/> days of grace.
/// </summary>
public sealed record LicenseItem(
    string ItemId,
    string LicenseId,
    string Product,
    string Version,
    Deployment Deployment,
    string Edition,
    LicenseMode Mode,
    long Quantity,
    DateOnly StartDate,
    DateOnly ExpirationDate,
    IReadOnlyList<string> Modules,
    string? Revokes)
{
    public const int GraceDays = 7;

    /// <summary>The first moment the item grants.</summary>
    public DateTimeOffset UsableFrom => new(StartDate.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    /// <summary>The end of the expiry day (exclusive): from here on only the grace period remains.</summary>
    public DateTimeOffset ExpiresAt => new(ExpirationDate.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    /// <summary>The end of the grace period (exclusive): the last usable moment is just before it.</summary>
    public DateTimeOffset GraceEndsAt => ExpiresAt.AddDays(GraceDays);

    /// <summary>Status from the dates alone; revocation is known to the catalog, which passes it in.</summary>
    public ItemStatus StatusAt(DateTimeOffset now, bool revoked) =>
        revoked ? ItemStatus.Revoked
        : now < UsableFrom ? ItemStatus.NotYetEffective
        : now < ExpiresAt ? ItemStatus.Active
        : now < GraceEndsAt ? ItemStatus.InGrace
        : ItemStatus.Expired;
}
