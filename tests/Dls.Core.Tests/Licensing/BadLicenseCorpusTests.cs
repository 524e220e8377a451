using System.Text;
using System.Text.Json.Nodes;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Server;
using Dls.Core.Storage;

using Dls.Tests;

namespace Dls.Core.Tests.Licensing;

/// <summary>
/// A store that holds one license of each of two trusted issuers, for the corpus of bad files to bounce off. It is
/// shared by the corpus: every case must leave it exactly as it was, which each case checks.
/// </summary>
public sealed class CorpusStore : IDisposable
{
    public CorpusStore()
    {
        Store = Temp.Open();
        Uuid = new ServerService(Store, Temp.Clock).Initialize("216998", force: false).Uuid;
        var issuers = new TrustedIssuerService(Store, Temp.Clock);
        issuers.Add("Vendor", Vendor.IssuerPublicKeyPem);
        issuers.Add("Rival", Rival.IssuerPublicKeyPem);
        Good = Vendor.Write(LicenseFiles.Document(Uuid, "L1", items: [LicenseFiles.Item("I1")]));
        Importer.Import(Encoding.ASCII.GetBytes(Good), newCodeName: "app");
        Importer.Import(Rival.Bytes(LicenseFiles.Document(Uuid, "R1", items: [LicenseFiles.Item("R-I1")])));
    }

    public TempStore Temp { get; } = new();

    public DlsStore Store { get; }

    public string Uuid { get; }

    public LicenseFiles Vendor { get; } = new();

    public LicenseFiles Rival { get; } = new();

    /// <summary>An issuer the server does not trust.</summary>
    public LicenseFiles Stranger { get; } = new();

    /// <summary>The vendor's license file already imported (license L1, item I1), with its line end.</summary>
    public string Good { get; }

    public LicenseImporter Importer => new(Store, Temp.Clock);

    /// <summary>A payload that would import cleanly (license C1, item C-I1) after <paramref name="change"/>.</summary>
    public JsonObject Payload(Action<JsonObject>? change = null)
    {
        var payload = new JsonObject
        {
            ["format"] = "dls-license/1",
            ["licenseId"] = "C1",
            ["alias"] = "Corpus",
            ["organizationId"] = "216998",
            ["serverUuid"] = Uuid,
            ["issuedAt"] = "2026-10-01T00:00:00Z",
            ["items"] = new JsonArray(new JsonObject
            {
                ["itemId"] = "C-I1",
                ["product"] = "DBR",
                ["version"] = "10",
                ["deployment"] = "Desktop",
                ["edition"] = "",
                ["mode"] = "PerDeviceYearly",
                ["quantity"] = 10,
                ["startDate"] = "2026-01-01",
                ["expirationDate"] = "2027-12-31",
                ["modules"] = new JsonArray("barcode"),
            }),
        };
        change?.Invoke(payload);
        return payload;
    }

    /// <summary>A correctly signed, canonical file whose payload is exactly <paramref name="json"/>.</summary>
    public byte[] Signed(string json) => Vendor.SignedRaw(json);

    public byte[] Signed(Action<JsonObject> change) => Signed(Payload(change).ToJsonString());

    /// <summary>The good file's envelope parts, to respell.</summary>
    public (string KeyId, string Payload, string Signature) Parts()
    {
        var root = JsonNode.Parse(Good)!.AsObject();
        return ((string)root["keyId"]!, (string)root["payload"]!, (string)root["signature"]!);
    }

    public void Dispose()
    {
        Vendor.Dispose();
        Rival.Dispose();
        Stranger.Dispose();
        Temp.Dispose();
    }
}

/// <summary>
/// Hand-made bad license files (SPEC §5, §7): each is refused with its own ErrorId and leaves the store byte for
/// byte as it was.
/// </summary>
public sealed class BadLicenseCorpusTests(CorpusStore corpus) : IClassFixture<CorpusStore>
{
    private const string Malformed = "LicenseMalformed";

    private static JsonObject Item(JsonObject payload) => payload["items"]!.AsArray()[0]!.AsObject();

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static string Replace(string text, string what, string with)
    {
        Assert.Contains(what, text, StringComparison.Ordinal);
        return text.Replace(what, with, StringComparison.Ordinal);
    }

    /// <summary>The corpus: a name, the ErrorId it must get, and how to make the file from the store's state.</summary>
    private static readonly Dictionary<string, (string ErrorId, Func<CorpusStore, byte[]> Make)> Cases = new()
    {
        // Not a license envelope at all.
        ["empty file"] = (Malformed, _ => []),
        ["only a line end"] = (Malformed, _ => Ascii("\n")),
        ["plain text"] = (Malformed, _ => Ascii("hello")),
        ["a JSON array"] = (Malformed, _ => Ascii("[]")),
        ["a JSON string"] = (Malformed, _ => Ascii("\"dls-license/1\"")),
        ["JSON null"] = (Malformed, _ => Ascii("null")),
        ["deep nesting in the envelope"] = (Malformed, _ => Ascii(new string('[', 10_000) + new string(']', 10_000))),
        ["over one MiB"] = (Malformed, c => Ascii(c.Good.TrimEnd('\n') + new string(' ', LicenseFile.MaxFileBytes))),
        ["UTF-16 encoded"] = (Malformed, c => Encoding.Unicode.GetBytes(c.Good)),
        ["NUL bytes"] = (Malformed, c => [.. Ascii(c.Good), 0]),

        // The envelope's fields.
        ["no format"] = (Malformed, c => Ascii(Replace(c.Good, "\"format\":\"dls-license/1\",", string.Empty))),
        ["format as a number"] = (Malformed, c => Ascii(Replace(c.Good, "\"format\":\"dls-license/1\"", "\"format\":1"))),
        ["another format version"] = ("LicenseFormatUnsupported", c => Ascii(Replace(c.Good, "dls-license/1", "dls-license/2"))),
        ["format with an escaped slash"] = (Malformed, c => Ascii(Replace(c.Good, "dls-license/1", "dls-license\\/1"))),
        ["no signature"] = (Malformed, c => Ascii(LicenseFiles.Envelope(c.Parts().KeyId, c.Parts().Payload, string.Empty).Replace(",\"signature\":\"\"", string.Empty))),
        ["signature as a number"] = (Malformed, c => Ascii($$"""{"format":"dls-license/1","keyId":"{{c.Parts().KeyId}}","payload":"{{c.Parts().Payload}}","signature":5}""")),
        ["an extra envelope field"] = (Malformed, c => Ascii(Replace(c.Good, "}\n", ",\"note\":\"x\"}\n"))),
        ["keyId twice"] = (Malformed, c => Ascii(Replace(c.Good, "\"payload\"", $"\"keyId\":\"{c.Parts().KeyId}\",\"payload\""))),
        ["format twice, the first unsupported"] = (Malformed, c => Ascii(Replace(c.Good, "{\"format\"", "{\"format\":\"dls-license/2\",\"format\""))),
        ["keyId in upper case"] = (Malformed, c => Ascii(Replace(c.Good, c.Parts().KeyId, c.Parts().KeyId.ToUpperInvariant() is var upper && upper != c.Parts().KeyId ? upper : "ABCDEF0123456789"))),
        ["keyId too short"] = (Malformed, c => Ascii(Replace(c.Good, c.Parts().KeyId, c.Parts().KeyId[..15]))),
        ["keyId with a lone surrogate escape"] = (Malformed, c => Ascii(Replace(c.Good, c.Parts().KeyId, "\\ud800" + c.Parts().KeyId[6..]))),
        ["an untrusted issuer"] = ("LicenseIssuerNotTrusted", c => c.Stranger.Bytes(LicenseFiles.Document(c.Uuid, "C1", items: [LicenseFiles.Item("C-I1")]))),

        // Spelling: only the writer's bytes.
        ["a byte order mark"] = (Malformed, c => [.. Encoding.UTF8.Preamble, .. Ascii(c.Good)]),
        ["a CRLF line end"] = (Malformed, c => Ascii(c.Good.TrimEnd('\n') + "\r\n")),
        ["two line ends"] = (Malformed, c => Ascii(c.Good + "\n")),
        ["a leading space"] = (Malformed, c => Ascii(" " + c.Good)),
        ["a space after a colon"] = (Malformed, c => Ascii(Replace(c.Good, "\"keyId\":", "\"keyId\": "))),
        ["pretty-printed"] = (Malformed, c => Ascii(JsonNode.Parse(c.Good)!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }))),
        ["keys in another order"] = (Malformed, c => Ascii($$"""{"keyId":"{{c.Parts().KeyId}}","format":"dls-license/1","payload":"{{c.Parts().Payload}}","signature":"{{c.Parts().Signature}}"}""")),
        ["trailing bytes after the object"] = (Malformed, c => Ascii(c.Good.TrimEnd('\n') + "x")),
        ["a second object"] = (Malformed, c => Ascii(c.Good.TrimEnd('\n') + c.Good)),
        ["an escaped letter in the payload"] = (Malformed, c => Ascii(c.Good.Replace("\"payload\":\"" + c.Parts().Payload[..1], "\"payload\":\"\\u00" + Convert.ToHexString([(byte)c.Parts().Payload[0]]).ToLowerInvariant(), StringComparison.Ordinal))),

        // base64url: unpadded, the alphabet only, no stray bits.
        ["a padded payload"] = (Malformed, c => Ascii(LicenseFiles.Envelope(c.Parts().KeyId, Padded(c.Parts().Payload), c.Parts().Signature))),
        ["a padded signature"] = (Malformed, c => Ascii(LicenseFiles.Envelope(c.Parts().KeyId, c.Parts().Payload, c.Parts().Signature + "=="))),
        ["plain base64 characters in the signature"] = (Malformed, c => Ascii(LicenseFiles.Envelope(c.Parts().KeyId, c.Parts().Payload, Convert.ToBase64String(Base64Url.Decode(c.Parts().Signature)).TrimEnd('=') is var plain && plain.IndexOfAny(['+', '/']) >= 0 ? plain : "+" + plain[1..]))),
        ["a space inside the payload"] = (Malformed, c => Ascii(LicenseFiles.Envelope(c.Parts().KeyId, c.Parts().Payload[..8] + " " + c.Parts().Payload[8..], c.Parts().Signature))),
        ["stray low bits in the signature"] = (Malformed, c => Ascii(LicenseFiles.Envelope(c.Parts().KeyId, c.Parts().Payload, StrayBits(c.Parts().Signature)))),
        ["a 63-byte signature"] = (Malformed, c => Ascii(LicenseFiles.Envelope(c.Parts().KeyId, c.Parts().Payload, Base64Url.Encode(Base64Url.Decode(c.Parts().Signature).AsSpan(0, 63))))),
        ["an empty payload"] = (Malformed, c => Ascii(LicenseFiles.Envelope(c.Parts().KeyId, string.Empty, c.Parts().Signature))),
        ["a payload of impossible length"] = (Malformed, c => Ascii(LicenseFiles.Envelope(c.Parts().KeyId, c.Parts().Payload + "A", c.Parts().Signature))),

        // The signature.
        ["the high-S twin of the signature"] = (Malformed, c => SignatureTwin.Bytes(SignatureTwin.HighSFile(c.Good))),
        ["a changed payload"] = ("LicenseSignatureInvalid", c => Ascii(LicenseFiles.Envelope(c.Parts().KeyId, Base64Url.Encode(Encoding.UTF8.GetBytes(c.Payload().ToJsonString())), c.Parts().Signature))),
        ["another file's signature"] = ("LicenseSignatureInvalid", c =>
        {
            var other = JsonNode.Parse(c.Vendor.SignedRaw(c.Payload().ToJsonString()))!.AsObject();
            return Ascii(LicenseFiles.Envelope(c.Parts().KeyId, c.Parts().Payload, (string)other["signature"]!));
        }),
        ["signed by a stranger under a trusted key id"] = ("LicenseSignatureInvalid", c =>
        {
            var forged = JsonNode.Parse(c.Stranger.SignedRaw(c.Payload().ToJsonString()))!.AsObject();
            return Ascii(LicenseFiles.Envelope(c.Vendor.KeyId, (string)forged["payload"]!, (string)forged["signature"]!));
        }),

        // The signed payload: signed correctly, but not a license.
        ["payload not JSON"] = (Malformed, c => c.Signed("not json")),
        ["payload a JSON array"] = (Malformed, c => c.Signed("[]")),
        ["payload not UTF-8"] = (Malformed, c => SignedBytes(c, [.. "{\"alias\":\""u8, 0xC3, 0x28, .. "\"}"u8])),
        ["payload with a byte order mark"] = (Malformed, c => SignedBytes(c, [.. Encoding.UTF8.Preamble, .. Encoding.UTF8.GetBytes(c.Payload().ToJsonString())])),
        ["payload of another format"] = ("LicenseFormatUnsupported", c => c.Signed(p => p["format"] = "dls-license/2")),
        ["licenseId twice in the payload"] = (Malformed, c => c.Signed(Replace(c.Payload().ToJsonString(), "\"licenseId\":\"C1\"", "\"licenseId\":\"C1\",\"licenseId\":\"L1\""))),
        ["quantity twice in an item"] = (Malformed, c => c.Signed(Replace(c.Payload().ToJsonString(), "\"quantity\":10", "\"quantity\":10,\"quantity\":1000000"))),
        ["deep nesting in the payload"] = (Malformed, c => c.Signed(p => Item(p)["modules"] = JsonNode.Parse(new string('[', 60) + new string(']', 60)))),
        ["a huge quantity"] = (Malformed, c => c.Signed(Replace(c.Payload().ToJsonString(), "\"quantity\":10", "\"quantity\":1" + new string('0', 400)))),
        ["a quantity past long"] = (Malformed, c => c.Signed(Replace(c.Payload().ToJsonString(), "\"quantity\":10", "\"quantity\":9223372036854775808"))),
        ["a quantity in exponent form"] = (Malformed, c => c.Signed(Replace(c.Payload().ToJsonString(), "\"quantity\":10", "\"quantity\":1e1"))),
        ["a negative quantity"] = (Malformed, c => c.Signed(p => Item(p)["quantity"] = -10)),
        ["a quantity as text"] = (Malformed, c => c.Signed(p => Item(p)["quantity"] = "10")),
        ["a licenseId as a number"] = (Malformed, c => c.Signed(p => p["licenseId"] = 1)),
        ["items as an object"] = (Malformed, c => c.Signed(p => p["items"] = new JsonObject())),
        ["modules as a string"] = (Malformed, c => c.Signed(p => Item(p)["modules"] = "barcode")),
        ["alias null"] = (Malformed, c => c.Signed(p => p["alias"] = null)),
        ["a lone surrogate in the alias"] = (Malformed, c => c.Signed(Replace(c.Payload().ToJsonString(), "\"alias\":\"Corpus\"", "\"alias\":\"Cor\\ud800pus\""))),
        ["a lone low surrogate in the edition"] = (Malformed, c => c.Signed(Replace(c.Payload().ToJsonString(), "\"edition\":\"\"", "\"edition\":\"\\udc00\""))),
        ["a lone surrogate in a field name"] = (Malformed, c => c.Signed(Replace(c.Payload().ToJsonString(), "\"alias\":", "\"al\\ud800ias\":"))),
        ["no licenseId"] = (Malformed, c => c.Signed(p => p.Remove("licenseId"))),
        ["no items"] = (Malformed, c => c.Signed(p => p.Remove("items"))),
        ["an item without a mode"] = (Malformed, c => c.Signed(p => Item(p).Remove("mode"))),
        ["an unknown mode"] = (Malformed, c => c.Signed(p => Item(p)["mode"] = "PerGalaxy")),
        ["an issuedAt with an offset"] = (Malformed, c => c.Signed(p => p["issuedAt"] = "2026-10-01T00:00:00+01:00")),
        ["a control character in the alias"] = (Malformed, c => c.Signed(p => p["alias"] = "a\u0007b")),
        ["a trailing comma in the payload"] = (Malformed, c => c.Signed(Replace(c.Payload().ToJsonString(), "\"Corpus\"", "\"Corpus\",,"))),
        ["a comment in the payload"] = (Malformed, c => c.Signed(Replace(c.Payload().ToJsonString(), "{\"format\"", "{/* x */\"format\""))),
        ["trailing bytes after the payload object"] = (Malformed, c => c.Signed(c.Payload().ToJsonString() + "{}")),

        // Valid files that this server must refuse.
        ["bound to another server"] = ("LicenseBoundToOtherServer", c => c.Signed(p => p["serverUuid"] = "00000000-0000-4000-8000-000000000000")),
        ["another organization"] = ("LicenseOrganizationMismatch", c => c.Signed(p => p["organizationId"] = "777")),
        ["an older issue of a held license with other content"] = ("LicenseSuperseded", c => c.Vendor.Bytes(LicenseFiles.Document(c.Uuid, "L1", issuedAt: new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero), items: [LicenseFiles.Item("I1", quantity: 99)]))),
        ["an item id of another license"] = ("LicenseItemConflict", c => c.Vendor.Bytes(LicenseFiles.Document(c.Uuid, "C1", items: [LicenseFiles.Item("I1")]))),
        ["another issuer's newer file for a held license"] = (LicenseImporter.OwnedByAnotherIssuer, c => c.Rival.Bytes(LicenseFiles.Document(c.Uuid, "L1", issuedAt: new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero), items: [LicenseFiles.Item("I1", quantity: 1000)]))),
        ["an item revoking another issuer's item"] = (LicenseImporter.RevokesForeignItem, c => c.Vendor.Bytes(LicenseFiles.Document(c.Uuid, "C1", items: [LicenseFiles.Item("C-I1", revokes: "R-I1")]))),
    };

    public static TheoryData<string> Names => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void A_bad_file_is_refused_with_its_error_id_and_changes_nothing(string name)
    {
        var (errorId, make) = Cases[name];
        var file = make(corpus);
        var before = StoreDigest.Of(corpus.Temp.Path);

        var error = Assert.Throws<DlsException>(() => corpus.Importer.Import(file, newCodeName: "corpus"));

        Assert.True(error.ErrorId == errorId, $"{name}: expected {errorId}, got {error.ErrorId}: {error.Message}");
        Assert.Equal(before, StoreDigest.Of(corpus.Temp.Path));
    }

    [Fact]
    public void The_corpus_store_still_takes_a_good_file()
    {
        // Guards the corpus against passing falsely: the fixture's payload imports when nothing is wrong with it.
        var plan = corpus.Importer.Preview(corpus.Signed(_ => { }), newCodeName: "corpus");
        Assert.Equal(LicenseImportAction.Add, plan.Action);
    }

    /// <summary>Padded as plain base64 would be; a length that needs none gets a full quad of '=' (refused either way).</summary>
    private static string Padded(string text) => text + new string('=', 4 - text.Length % 4);

    private static string StrayBits(string signature)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        // 64 bytes → 86 characters: the last one carries 2 bits and its low 4 bits must be zero.
        var last = Alphabet.IndexOf(signature[^1], StringComparison.Ordinal);
        return signature[..^1] + Alphabet[(last & ~0xF) | 1];
    }

    private static byte[] SignedBytes(CorpusStore c, byte[] payload)
    {
        var text = Base64Url.Encode(payload);
        var signature = Base64Url.Encode(EcKeys.SignLowS(c.Vendor.Issuer, Encoding.ASCII.GetBytes(text)));
        return Ascii(LicenseFiles.Envelope(c.Vendor.KeyId, text, signature));
    }
}
