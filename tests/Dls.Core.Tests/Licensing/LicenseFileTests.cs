using System.Text;
using System.Text.Json.Nodes;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Licensing;

namespace Dls.Core.Tests.Licensing;

public sealed class LicenseFileTests : IDisposable
{
    private const string Uuid = "0b9e4a52-7d35-4c1e-9a43-8f4a2c6d1e70";
    private readonly LicenseFiles _files = new();

    public void Dispose() => _files.Dispose();

    private byte[]? Trusted(string keyId) => keyId == _files.KeyId ? _files.Issuer.ExportSubjectPublicKeyInfo() : null;

    private static string ErrorOf(Action action) => Assert.Throws<DlsException>(action).ErrorId;

    private static string Payload(Action<JsonObject> change)
    {
        var payload = new JsonObject
        {
            ["format"] = "dls-license/1",
            ["licenseId"] = "L1",
            ["alias"] = "Demo",
            ["organizationId"] = "216998",
            ["serverUuid"] = Uuid,
            ["issuedAt"] = "2026-10-01T00:00:00Z",
            ["items"] = new JsonArray(new JsonObject
            {
                ["itemId"] = "I1",
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
        change(payload);
        return payload.ToJsonString();
    }

    private static JsonObject FirstItem(JsonObject payload) => payload["items"]!.AsArray()[0]!.AsObject();

    [Fact]
    public void A_written_file_reads_back_to_the_same_document()
    {
        var document = LicenseFiles.Document(Uuid, items: [
            LicenseFiles.Item("I1", "2027-06-30", 25, LicenseMode.PerConcurrentInstance),
            LicenseFiles.Item("I2", "2027-12-31", 1000, LicenseMode.PerScan, revokes: "OLD-1") with { Edition = "Professional", Deployment = Deployment.Server, Modules = [] },
        ]);

        var (envelope, read) = LicenseFile.Open(_files.Bytes(document), Trusted);

        Assert.Equal(_files.KeyId, envelope.KeyId);
        Assert.Equal((document.LicenseId, document.Alias, document.OrganizationId, document.ServerUuid, document.IssuedAt),
            (read.LicenseId, read.Alias, read.OrganizationId, read.ServerUuid, read.IssuedAt));
        Assert.Equal(2, read.Items.Count);
        Assert.All(document.Items.Zip(read.Items), pair => Assert.True(pair.First.SameAs(pair.Second.ToItem("L1")), pair.First.ItemId));
    }

    [Fact]
    public void The_file_is_one_canonical_line_with_unpadded_base64url()
    {
        var text = _files.Write(LicenseFiles.Document(Uuid));

        Assert.EndsWith("}\n", text);
        Assert.Single(text.TrimEnd('\n').Split('\n'));
        var envelope = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(["format", "keyId", "payload", "signature"], envelope.Select(p => p.Key));
        Assert.Equal("dls-license/1", (string?)envelope["format"]);
        Assert.DoesNotContain('=', (string)envelope["payload"]!);
        Assert.Equal(64, Base64Url.Decode((string)envelope["signature"]!).Length);
    }

    [Fact]
    public void Any_flipped_byte_anywhere_in_the_file_is_refused()
    {
        var file = _files.Bytes(LicenseFiles.Document(Uuid));
        var refused = new[] { "LicenseMalformed", "LicenseFormatUnsupported", "LicenseSignatureInvalid", "LicenseIssuerNotTrusted" };
        foreach (var mask in new byte[] { 0x01, 0x20, 0x80 })
        {
            for (var i = 0; i < file.Length; i++)
            {
                var tampered = (byte[])file.Clone();
                tampered[i] ^= mask;
                var error = Assert.Throws<DlsException>(() => LicenseFile.Open(tampered, Trusted));
                Assert.Contains(error.ErrorId, refused);
            }
        }
    }

    [Fact]
    public void A_changed_payload_character_is_a_signature_failure()
    {
        var text = _files.Write(LicenseFiles.Document(Uuid));
        var start = text.IndexOf("\"payload\":\"", StringComparison.Ordinal) + 11;
        var tampered = text[..(start + 5)] + (text[start + 5] == 'A' ? 'B' : 'A') + text[(start + 6)..];

        Assert.Equal("LicenseSignatureInvalid", ErrorOf(() => LicenseFile.Open(Encoding.UTF8.GetBytes(tampered), Trusted)));
    }

    [Fact]
    public void A_signature_with_stray_low_bits_is_refused_although_it_decodes_to_the_same_bytes()
    {
        var text = _files.Write(LicenseFiles.Document(Uuid)).TrimEnd('\n');
        var end = text.LastIndexOf('"');
        var last = text[end - 1];
        // 64 bytes → 86 characters: the last one carries 2 bits; its low 4 bits are unused.
        var stray = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".IndexOf(last) & ~0xF) | 1];
        var tampered = text[..(end - 1)] + stray + text[end..];

        Assert.Equal("LicenseMalformed", ErrorOf(() => LicenseFile.Open(Encoding.UTF8.GetBytes(tampered), Trusted)));
    }

    [Fact]
    public void A_reformatted_envelope_is_refused()
    {
        var text = _files.Write(LicenseFiles.Document(Uuid));
        var pretty = JsonNode.Parse(text)!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });

        Assert.Equal("LicenseMalformed", ErrorOf(() => LicenseFile.Open(Encoding.UTF8.GetBytes(pretty), Trusted)));
    }

    [Fact]
    public void The_line_is_accepted_with_its_one_line_end_or_without_it_and_in_no_other_spelling()
    {
        var text = _files.Write(LicenseFiles.Document(Uuid));
        var line = text.TrimEnd('\n');

        Assert.Equal("L1", LicenseFile.Open(Encoding.ASCII.GetBytes(text), Trusted).Document.LicenseId);
        Assert.Equal("L1", LicenseFile.Open(Encoding.ASCII.GetBytes(line), Trusted).Document.LicenseId);
        Assert.Equal("LicenseMalformed", ErrorOf(() => LicenseFile.Open(Encoding.ASCII.GetBytes(line + "\r\n"), Trusted)));
        Assert.Equal("LicenseMalformed", ErrorOf(() => LicenseFile.Open(Encoding.ASCII.GetBytes(text + "\n"), Trusted)));
        Assert.Equal("LicenseMalformed", ErrorOf(() => LicenseFile.Open(Encoding.UTF8.GetPreamble().Concat(Encoding.ASCII.GetBytes(text)).ToArray(), Trusted)));
    }

    [Fact]
    public void Another_format_is_unsupported_and_an_unknown_key_untrusted()
    {
        Assert.Equal("LicenseFormatUnsupported", ErrorOf(() => LicenseFile.Open(_files.SignedRaw(Payload(_ => { }), "dls-license/2"), Trusted)));
        Assert.Equal("LicenseFormatUnsupported", ErrorOf(() => LicenseFile.Open(_files.SignedRaw(Payload(p => p["format"] = "dls-license/2")), Trusted)));
        Assert.Equal("LicenseIssuerNotTrusted", ErrorOf(() => LicenseFile.Open(_files.Bytes(LicenseFiles.Document(Uuid)), _ => null)));
    }

    [Fact]
    public void A_file_signed_by_another_key_with_a_trusted_key_id_does_not_verify()
    {
        using var other = new LicenseFiles();
        var file = other.Bytes(LicenseFiles.Document(Uuid));

        Assert.Equal("LicenseSignatureInvalid", ErrorOf(() => LicenseFile.Open(file, _ => _files.Issuer.ExportSubjectPublicKeyInfo())));
    }

    [Fact]
    public void A_missing_alias_defaults_to_DM_licenseId_Date()
    {
        var (_, document) = LicenseFile.Open(_files.SignedRaw(Payload(p => p.Remove("alias"))), Trusted);

        Assert.Equal("DM_L1_Date20261001", document.Alias);
    }

    [Fact]
    public void The_sample_payload_itself_is_accepted()
    {
        Assert.Equal("L1", LicenseFile.Open(_files.SignedRaw(Payload(_ => { })), Trusted).Document.LicenseId);
    }

    public static TheoryData<string, Action<JsonObject>> BadPayloads => new()
    {
        { "unknown field", p => p["extra"] = 1 },
        { "no serverUuid", p => p.Remove("serverUuid") },
        { "uppercase uuid", p => p["serverUuid"] = Uuid.ToUpperInvariant() },
        { "number as id", p => p["licenseId"] = 5 },
        { "long license id", p => p["licenseId"] = new string('x', 65) },
        { "bad id character", p => p["licenseId"] = "L 1" },
        { "organization with dash", p => p["organizationId"] = "21-6998" },
        { "local issuedAt", p => p["issuedAt"] = "2026-10-01T00:00:00+02:00" },
        { "control character in alias", p => p["alias"] = "a\u0001b" },
        { "no items", p => p["items"] = new JsonArray() },
        { "items not array", p => p["items"] = "I1" },
        { "mode in other case", p => FirstItem(p)["mode"] = "perdeviceyearly" },
        { "mode as number", p => FirstItem(p)["mode"] = "3" },
        { "mode list", p => FirstItem(p)["mode"] = "PerScan,PerPage" },
        { "unknown deployment", p => FirstItem(p)["deployment"] = "Cloud" },
        { "dotted version", p => FirstItem(p)["version"] = "10.4" },
        { "bad date", p => FirstItem(p)["startDate"] = "2026-13-01" },
        { "short date", p => FirstItem(p)["startDate"] = "2026-1-1" },
        { "expiry before start", p => FirstItem(p)["expirationDate"] = "2025-12-31" },
        { "zero quantity", p => FirstItem(p)["quantity"] = 0 },
        { "fractional quantity", p => FirstItem(p)["quantity"] = 1.5 },
        { "quantity as text", p => FirstItem(p)["quantity"] = "10" },
        { "huge quantity", p => FirstItem(p)["quantity"] = LicenseFile.MaxQuantity + 1 },
        { "product with space", p => FirstItem(p)["product"] = "D BR" },
        { "long edition", p => FirstItem(p)["edition"] = new string('e', 65) },
        { "nested module", p => FirstItem(p)["modules"] = new JsonArray(new JsonArray("x")) },
        { "module twice", p => FirstItem(p)["modules"] = new JsonArray("a", "a") },
        { "revokes itself", p => FirstItem(p)["revokes"] = "I1" },
        { "revokes its own license's item", p =>
            {
                var second = FirstItem(p).DeepClone().AsObject();
                second["itemId"] = "I2";
                second["revokes"] = "I1";
                p["items"]!.AsArray().Add(second);
            } },
        { "item twice", p => p["items"]!.AsArray().Add(FirstItem(p).DeepClone()) },
        { "too many items", p =>
            {
                var items = new JsonArray();
                for (var i = 0; i <= LicenseFile.MaxItems; i++)
                {
                    var item = FirstItem(p).DeepClone().AsObject();
                    item["itemId"] = $"I{i}";
                    items.Add(item);
                }

                p["items"] = items;
            } },
    };

    [Theory]
    [MemberData(nameof(BadPayloads))]
    public void A_signed_payload_that_breaks_a_rule_is_malformed(string rule, Action<JsonObject> change)
    {
        var error = Assert.Throws<DlsException>(() => LicenseFile.Open(_files.SignedRaw(Payload(change)), Trusted));
        Assert.True(error.ErrorId == "LicenseMalformed", $"{rule}: {error.ErrorId} {error.Message}");
    }

    [Fact]
    public void A_duplicated_field_is_malformed()
    {
        var json = Payload(_ => { }).Replace("\"alias\":\"Demo\"", "\"alias\":\"Demo\",\"alias\":\"Other\"", StringComparison.Ordinal);
        Assert.Equal("LicenseMalformed", ErrorOf(() => LicenseFile.Open(_files.SignedRaw(json), Trusted)));
    }

    [Fact]
    public void A_payload_nested_too_deeply_is_malformed()
    {
        var json = Payload(p => FirstItem(p)["modules"] = JsonNode.Parse("[[[[[[\"deep\"]]]]]]"));
        Assert.Equal("LicenseMalformed", ErrorOf(() => LicenseFile.Open(_files.SignedRaw(json), Trusted)));
    }

    [Fact]
    public void A_file_over_one_MiB_is_refused_before_it_is_parsed()
    {
        var file = new byte[LicenseFile.MaxFileBytes + 1];
        Array.Fill(file, (byte)' ');
        Assert.Equal("LicenseMalformed", ErrorOf(() => LicenseFile.Open(file, Trusted)));
    }

    [Fact]
    public void Not_JSON_at_all_is_malformed()
    {
        Assert.Equal("LicenseMalformed", ErrorOf(() => LicenseFile.Open("hello"u8.ToArray(), Trusted)));
        Assert.Equal("LicenseMalformed", ErrorOf(() => LicenseFile.Open("[]"u8.ToArray(), Trusted)));
        Assert.Equal("LicenseMalformed", ErrorOf(() => LicenseFile.Open([], Trusted)));
    }

    [Fact]
    public void Writing_an_invalid_document_is_refused()
    {
        var document = LicenseFiles.Document(Uuid, items: [LicenseFiles.Item("I1", expiration: "2025-01-01", start: "2026-01-01")]);
        Assert.Equal("LicenseInvalid", ErrorOf(() => _files.Write(document)));
    }

    [Fact]
    public void Writing_an_alias_that_is_not_valid_UTF16_is_refused()
    {
        var document = LicenseFiles.Document(Uuid) with { Alias = "Demo \ud800" };
        Assert.Equal("LicenseInvalid", ErrorOf(() => _files.Write(document)));
    }
}
