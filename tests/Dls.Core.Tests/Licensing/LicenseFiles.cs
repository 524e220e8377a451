using System.Security.Cryptography;
using System.Text;
using Dls.Core.Crypto;
using Dls.Core.Licensing;

namespace Dls.Core.Tests.Licensing;

/// <summary>An issuer key and a builder of real license files for tests.</summary>
public sealed class LicenseFiles : IDisposable
{
    public ECDsa Issuer { get; } = EcKeys.Create();

    public string IssuerPublicKeyPem => EcKeys.PublicKeyPem(Issuer.ExportSubjectPublicKeyInfo());

    public string KeyId => EcKeys.KeyId(Issuer.ExportSubjectPublicKeyInfo());

    public static LicenseItemSpec Item(
        string itemId,
        string expiration = "2027-12-31",
        long quantity = 10,
        LicenseMode mode = LicenseMode.PerDeviceYearly,
        string start = "2026-01-01",
        string? revokes = null) =>
        new(itemId, "DBR", "10", Deployment.Desktop, string.Empty, mode, quantity, DateOnly.Parse(start), DateOnly.Parse(expiration), ["barcode"], revokes);

    public static LicenseDocument Document(string serverUuid, string licenseId = "L1", string organizationId = "216998", DateTimeOffset? issuedAt = null, params LicenseItemSpec[] items) =>
        new(licenseId, LicenseDocument.DefaultAlias(licenseId, issuedAt ?? new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero)), organizationId, serverUuid,
            issuedAt ?? new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero), items.Length == 0 ? [Item("I1")] : items);

    public string Write(LicenseDocument document) => LicenseFile.Write(document, Issuer);

    public byte[] Bytes(LicenseDocument document) => Encoding.UTF8.GetBytes(Write(document));

    /// <summary>A file whose payload is exactly <paramref name="payloadJson"/>, correctly signed.</summary>
    public byte[] SignedRaw(string payloadJson, string format = "dls-license/1")
    {
        var payload = Base64Url.Encode(Encoding.UTF8.GetBytes(payloadJson));
        var signature = Base64Url.Encode(EcKeys.SignLowS(Issuer, Encoding.ASCII.GetBytes(payload)));
        return Encoding.UTF8.GetBytes($$"""{"format":"{{format}}","keyId":"{{KeyId}}","payload":"{{payload}}","signature":"{{signature}}"}""");
    }

    /// <summary>A file with the given envelope parts, as the writer would spell it (no line end).</summary>
    public static string Envelope(string keyId, string payload, string signature, string format = "dls-license/1") =>
        $$"""{"format":"{{format}}","keyId":"{{keyId}}","payload":"{{payload}}","signature":"{{signature}}"}""";

    public void Dispose() => Issuer.Dispose();
}
