namespace Dls.Core.Licensing;

/// <summary>One item as a license file states it (SPEC §2); becomes a <see cref="LicenseItem"/> once imported.</summary>
public sealed record LicenseItemSpec(
    string ItemId,
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
    public LicenseItem ToItem(string licenseId) =>
        new(ItemId, licenseId, Product, Version, Deployment, Edition, Mode, Quantity, StartDate, ExpirationDate, Modules, Revokes);

    /// <summary>Whether an imported item says exactly what this one says.</summary>
    public bool SameAs(LicenseItem item) =>
        item.ItemId == ItemId && item.Product == Product && item.Version == Version && item.Deployment == Deployment
        && item.Edition == Edition && item.Mode == Mode && item.Quantity == Quantity && item.StartDate == StartDate
        && item.ExpirationDate == ExpirationDate && item.Modules.SequenceEqual(Modules) && item.Revokes == Revokes;
}

/// <summary>The signed content of a <c>dls-license/1</c> file (docs/license-file.md).</summary>
public sealed record LicenseDocument(
    string LicenseId,
    string Alias,
    string OrganizationId,
    string ServerUuid,
    DateTimeOffset IssuedAt,
    IReadOnlyList<LicenseItemSpec> Items)
{
    public const string Format = "dls-license/1";

    /// <summary>The alias a license gets when its file names none: <c>DM_{licenseId}_Date{yyyyMMdd}</c> of the issue date.</summary>
    public static string DefaultAlias(string licenseId, DateTimeOffset issuedAt) =>
        $"DM_{licenseId}_Date{issuedAt.UtcDateTime:yyyyMMdd}";
}

/// <summary>
/// The outer JSON object of a license file: what is signed (<see cref="PayloadText"/>, the base64url text as
/// written), the signature and the issuer key id. Parsed but not yet verified.
/// </summary>
public sealed class LicenseEnvelope
{
    internal LicenseEnvelope(string keyId, string payloadText, byte[] payload, byte[] signature)
    {
        KeyId = keyId;
        PayloadText = payloadText;
        Payload = payload;
        Signature = signature;
    }

    public string KeyId { get; }

    /// <summary>The payload's base64url text exactly as in the file: the signature covers these ASCII bytes.</summary>
    public string PayloadText { get; }

    /// <summary>The decoded payload: UTF-8 JSON.</summary>
    public byte[] Payload { get; }

    /// <summary>ES256 signature, IEEE P1363 r‖s (64 bytes).</summary>
    public byte[] Signature { get; }

    /// <summary>Lowercase hex SHA-256 of <see cref="Payload"/>: two files with this value say the same thing.</summary>
    public string PayloadSha256 => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Payload)).ToLowerInvariant();
}
