using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Licensing;

namespace Dls.Core.Tests.Licensing;

/// <summary>
/// Property runs of the license reader (SPEC §7, docs/license-file.md): whatever bytes arrive, the reader either
/// accepts the one canonical spelling of a validly signed license or throws a <see cref="DlsException"/>, never
/// anything else; and what the writer writes, the reader reads back. Each property runs for <see cref="Seconds"/>
/// seconds (<c>DLS_FUZZ_SECONDS</c>, default 2) on
/// one thread; set the variable higher for a long run by hand (docs/license-file.md has the command).
/// </summary>
public sealed class LicenseParserPropertyTests : IDisposable
{
    private const string Uuid = "0b9e4a52-7d35-4c1e-9a43-8f4a2c6d1e70";

    private static readonly int Seconds =
        int.TryParse(Environment.GetEnvironmentVariable("DLS_FUZZ_SECONDS"), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 ? seconds : 2;

    private static readonly string[] ReaderRefusals = ["LicenseMalformed", "LicenseFormatUnsupported", "LicenseIssuerNotTrusted", "LicenseSignatureInvalid"];

    // Bytes that matter to JSON, base64url and line handling, mixed into the random ones.
    private static readonly byte[] Interesting = "=\n\r\t \\\"{}[],:-_+/Aa0\u007f"u8.ToArray().Concat(new byte[] { 0x00, 0x80, 0xC3, 0xEF, 0xBB, 0xBF, 0xFF }).ToArray();

    private static readonly Gen<byte> AnyByte = Weighted((3, Gen.Byte), (2, Gen.OneOf(Interesting)));

    private readonly LicenseFiles _files = new();
    private readonly byte[] _file;
    private readonly string _line;
    private readonly string _payloadJson;

    public LicenseParserPropertyTests()
    {
        var document = LicenseFiles.Document(Uuid, "FUZZ-1", items: [
            LicenseFiles.Item("F1", "2027-06-30", 25, LicenseMode.PerConcurrentInstance),
            LicenseFiles.Item("F2", "2027-12-31", 1000, LicenseMode.PerScan, revokes: "OLD-1") with { Edition = "Pro", Deployment = Deployment.Server },
        ]);
        var text = _files.Write(document);
        _file = Encoding.ASCII.GetBytes(text);
        _line = text.TrimEnd('\n');
        _payloadJson = Encoding.UTF8.GetString(Base64Url.Decode((string)JsonNode.Parse(_line)!["payload"]!));
    }

    public void Dispose() => _files.Dispose();

    private byte[]? Trusted(string keyId) => keyId == _files.KeyId ? _files.Issuer.ExportSubjectPublicKeyInfo() : null;

    /// <summary>The file and the file without its line end are the only spellings that may be accepted.</summary>
    private bool IsCanonical(ReadOnlySpan<byte> candidate) =>
        candidate.SequenceEqual(_file) || candidate.SequenceEqual(_file.AsSpan(0, _file.Length - 1));

    /// <summary>Accepted exactly when canonical; otherwise refused by the reader with one of its own ids.</summary>
    private void AssertOnlyCanonicalAccepted(byte[] candidate)
    {
        if (IsCanonical(candidate))
        {
            Assert.Equal("FUZZ-1", LicenseFile.Open(candidate, Trusted).Document.LicenseId);
            return;
        }

        var error = Assert.Throws<DlsException>(() => LicenseFile.Open(candidate, Trusted));
        Assert.Contains(error.ErrorId, ReaderRefusals);
    }

    /// <summary>For input that is not derived from a good file: reading may succeed or refuse, but never crash.</summary>
    private void AssertReadsOrRefuses(byte[] candidate)
    {
        try
        {
            LicenseFile.Open(candidate, Trusted);
        }
        catch (DlsException error)
        {
            Assert.Contains(error.ErrorId, ReaderRefusals);
        }
    }

    private static void Run<T>(Gen<T> gen, Action<T> property, Func<T, string>? print = null) =>
        gen.Sample(property, time: Seconds, threads: 1, print: print);

    private static string Show(byte[] bytes) => Encoding.Latin1.GetString(bytes).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal);

    [Fact]
    public void Every_single_byte_edit_of_a_valid_file_is_refused_unless_the_bytes_stay_canonical()
    {
        // 0 replace, 1 insert, 2 delete, 3 truncate: one byte-level edit anywhere in the file.
        var edits = Gen.Select(Gen.Int[0, 3], Gen.Int[0, _file.Length], AnyByte).Select(edit => Edit(_file, edit.Item1, edit.Item2, edit.Item3));

        Run(edits, AssertOnlyCanonicalAccepted, Show);
    }

    [Fact]
    public void Random_bytes_are_refused_with_a_DlsException()
    {
        var bytes = Weighted(
            (1, Gen.Byte.Array[0, 2048]),
            (2, AnyByte.Array[0, 256]),
            (1, AnyByte.Array[1, 32].Select(tail => (byte[])[.. "{\"format\":\"dls-license/1\","u8, .. tail])));

        Run(bytes, AssertOnlyCanonicalAccepted, Show);
    }

    [Fact]
    public void Random_JSON_as_the_envelope_never_throws_anything_but_a_DlsException()
    {
        var good = JsonNode.Parse(_line)!;
        var envelopes = Weighted(
            (2, Json(4)),
            (3, Gen.Select(
                AnyOf(Gen.Const("\"dls-license/1\""), JsonString),
                AnyOf(Gen.Const($"\"{_files.KeyId}\""), Json(1)),
                AnyOf(Gen.Const($"\"{(string)good["payload"]!}\""), Base64ish, Json(1)),
                AnyOf(Gen.Const($"\"{(string)good["signature"]!}\""), Base64ish, Json(1)))
                .Select(f => $$"""{"format":{{f.Item1}},"keyId":{{f.Item2}},"payload":{{f.Item3}},"signature":{{f.Item4}}}""")));

        Run(envelopes, text => AssertOnlyCanonicalAccepted(Encoding.UTF8.GetBytes(text)));
    }

    [Fact]
    public void Random_and_mutated_payloads_correctly_signed_never_throw_anything_but_a_DlsException()
    {
        var fields = new[] { "format", "licenseId", "alias", "organizationId", "serverUuid", "issuedAt", "items" };
        var payloadBytes = Encoding.UTF8.GetBytes(_payloadJson);
        var itemFields = new[] { "itemId", "product", "version", "deployment", "edition", "mode", "quantity", "startDate", "expirationDate", "modules", "revokes" };
        var payloads = Weighted(
            (1, Json(5).Select(Encoding.UTF8.GetBytes)),
            (3, Gen.Select(Gen.OneOf(fields), Json(3)).Select(f => Encoding.UTF8.GetBytes(Replace(JsonNode.Parse(_payloadJson)!.AsObject(), f.Item1, f.Item2)))),
            (3, Gen.Select(Gen.OneOf(itemFields), Json(2)).Select(f =>
            {
                var payload = JsonNode.Parse(_payloadJson)!.AsObject();
                return Encoding.UTF8.GetBytes(Replace(payload["items"]!.AsArray()[0]!.AsObject(), f.Item1, f.Item2, payload));
            })),
            (3, Gen.Select(Gen.Int[0, 3], Gen.Int[0, payloadBytes.Length], AnyByte).Select(edit => Edit(payloadBytes, edit.Item1, edit.Item2, edit.Item3))));

        Run(payloads, payload => AssertReadsOrRefuses(Sign(payload)), Show);
    }

    [Fact]
    public void A_re_encoded_variant_of_a_valid_file_is_refused_as_malformed()
    {
        var root = JsonNode.Parse(_line)!.AsObject();
        var parts = root.Select(p => (p.Key, Value: (string)p.Value!)).ToArray();
        var variants = AnyOf(
            // Whitespace JSON allows, where JSON allows it.
            Gen.Select(Gen.Int[0, _line.Length], Gen.OneOf(" ", "\t", "\n", "\r\n", "  ")).Select(w =>
            {
                var (at, space) = w;
                var structural = Enumerable.Range(0, _line.Length + 1).Where(i => i == 0 || i == _line.Length || "{}:,".Contains(_line[i - 1], StringComparison.Ordinal) || (i < _line.Length && "{}:,".Contains(_line[i], StringComparison.Ordinal))).ToArray();
                var position = structural[at % structural.Length];
                return _line[..position] + space + _line[position..];
            }).Where(text => text != _line + "\n"), // the one line end the writer itself adds
            // The same four fields in another order.
            Gen.Shuffle(parts).Where(order => !order.SequenceEqual(parts)).Select(order =>
                "{" + string.Join(",", order.Select(p => $"\"{p.Key}\":\"{p.Value}\"")) + "}"),
            // A character of a value written as a JSON escape.
            Gen.Select(Gen.Int[0, parts.Length - 1], Gen.Int[0, 1000]).Select(e =>
            {
                var (field, at) = e;
                var value = parts[field].Value;
                var position = at % value.Length;
                var escaped = value[..position] + $"\\u{(int)value[position]:x4}" + value[(position + 1)..];
                return _line.Replace($"\"{parts[field].Key}\":\"{value}\"", $"\"{parts[field].Key}\":\"{escaped}\"", StringComparison.Ordinal);
            }),
            // Padding, as plain base64 writes it.
            Gen.OneOf("payload", "signature").Select(field =>
            {
                var value = parts.Single(p => p.Key == field).Value;
                return _line.Replace($"\"{value}\"", $"\"{value}{new string('=', 4 - value.Length % 4)}\"", StringComparison.Ordinal);
            }),
            // The other valid signature of the same payload, the byte order mark, and a CRLF line end.
            Gen.OneOf(SignatureTwin.HighSFile(_line), "\uFEFF" + _line, _line + "\r\n"));

        Run(variants, text =>
        {
            var error = Assert.Throws<DlsException>(() => LicenseFile.Open(Encoding.UTF8.GetBytes(text), Trusted));
            Assert.Equal("LicenseMalformed", error.ErrorId);
        });
    }

    [Fact]
    public void Every_document_the_writer_accepts_reads_back_the_same_from_its_canonical_low_S_file()
    {
        const string IdChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";
        var id = Gen.Char[IdChars].Array[1, 64].Select(chars => new string(chars));
        // Free text: quotes, backslashes, non-ASCII and surrogate pairs, which the writer must escape and the reader undo.
        var text = Gen.OneOf("a", "Z", " ", "\"", "\\", "/", "é", "日本", "😀", "<>&'", "+", "\u2028").Array[1, 20].Select(string.Concat)
            .Where(t => t.Length <= LicenseFile.MaxAliasLength);
        var date = Gen.Int[0, 20 * 365].Select(days => new DateOnly(2020, 1, 1).AddDays(days));
        var item = Gen.Select(id, Gen.OneOf("DBR", "DWT", "DLR", "X_1"), Gen.Int[1, 999999], Gen.Enum<Deployment>(), Gen.Enum<LicenseMode>(), Gen.Long[1, LicenseFile.MaxQuantity], date, Gen.Int[0, 3650])
            .Select(f => new LicenseItemSpec(f.Item1, f.Item2, f.Item3.ToString(CultureInfo.InvariantCulture), f.Item4, string.Empty, f.Item5, f.Item6, f.Item7, f.Item7.AddDays(f.Item8), [], null));
        var documents = Gen.Select(id, text, Gen.Int[0, 100_000_000], item.Array[1, 3])
            .Where(f => f.Item4.Select(i => i.ItemId).Distinct().Count() == f.Item4.Length)
            .Select(f => new LicenseDocument(f.Item1, f.Item2, "216998", Uuid, new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(f.Item3), f.Item4));

        Run(documents, document =>
        {
            var file = Encoding.ASCII.GetBytes(_files.Write(document));
            var (envelope, read) = LicenseFile.Open(file, Trusted);
            Assert.True(EcKeys.IsLowS(envelope.Signature));
            Assert.Equal((document.LicenseId, document.Alias, document.IssuedAt), (read.LicenseId, read.Alias, read.IssuedAt));
            Assert.All(document.Items.Zip(read.Items), pair => Assert.True(pair.First.SameAs(pair.Second.ToItem(document.LicenseId))));
        });
    }

    /// <summary>One byte-level edit: 0 replaces the byte at <paramref name="at"/>, 1 inserts before it, 2 deletes it, 3 cuts the bytes from it on.</summary>
    private static byte[] Edit(byte[] bytes, int kind, int at, byte value)
    {
        var position = Math.Min(at, bytes.Length - 1);
        return kind switch
        {
            0 => [.. bytes[..position], bytes[position] == value ? (byte)(value ^ 0x01) : value, .. bytes[(position + 1)..]],
            1 => [.. bytes[..at], value, .. bytes[at..]],
            2 => [.. bytes[..position], .. bytes[(position + 1)..]],
            _ => bytes[..position],
        };
    }

    private static Gen<T> Weighted<T>(params (int Weight, Gen<T> Gen)[] choices) =>
        Gen.Frequency(choices.Select(c => (c.Weight, (IGen<T>)c.Gen)).ToArray());

    private static Gen<T> AnyOf<T>(params Gen<T>[] gens) => Gen.OneOf(gens.Select(g => (IGen<T>)g).ToArray());

    private byte[] Sign(byte[] payload)
    {
        var text = Base64Url.Encode(payload);
        return Encoding.ASCII.GetBytes(LicenseFiles.Envelope(_files.KeyId, text, Base64Url.Encode(EcKeys.SignLowS(_files.Issuer, Encoding.ASCII.GetBytes(text)))));
    }

    /// <summary>The payload with one field's value replaced by raw JSON text (which may be invalid JSON on purpose).</summary>
    private static string Replace(JsonObject target, string field, string rawValue, JsonObject? root = null)
    {
        const string Marker = "\"__fuzz_marker__\"";
        target[field] = "__fuzz_marker__";
        return (root ?? target).ToJsonString().Replace(Marker, rawValue, StringComparison.Ordinal);
    }

    // JSON text, valid or nearly so, with the awkward corners: escapes, lone surrogates, huge and odd numbers,
    // duplicate and license-like keys, non-ASCII and raw control characters.
    private static readonly Gen<string> JsonString = Gen.OneOf(
            "a", "Z", "0", "-", "_", "=", " ", "é", "\u0001", "\\\"", "\\\\", "\\/", "\\u0041", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\n", "\\x",
            "dls-license/1", "L1", "I1", "216998", Uuid, "2026-10-01T00:00:00Z", "2026-01-01", "PerScan", "Desktop", "DBR", "10")
        .Array[0, 6].Select(parts => "\"" + string.Concat(parts) + "\"");

    private static readonly Gen<string> Number = AnyOf(
        Gen.OneOf("0", "-0", "1", "-1", "10", "1.5", "1e400", "-1e400", "1E2", "9223372036854775808", "1000000000001", "00", "0x10", "NaN", "1" + new string('0', 500)),
        Gen.Long.Select(n => n.ToString(CultureInfo.InvariantCulture)),
        Gen.Double.Select(d => d.ToString("R", CultureInfo.InvariantCulture)));

    private static readonly Gen<string> Scalar = Weighted(
        (1, Gen.OneOf("null", "true", "false", "", "\"")),
        (2, Number),
        (4, JsonString));

    private static readonly Gen<string> Key = Weighted(
        (3, Gen.OneOf("format", "keyId", "payload", "signature", "licenseId", "alias", "items", "itemId", "quantity", "mode", "modules", "revokes")
            .Select(k => $"\"{k}\"")),
        (1, JsonString));

    private static readonly Gen<string> Base64ish = Gen.Char["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ "]
        .Array[0, 120].Select(chars => "\"" + new string(chars) + "\"");

    private static Gen<string> Json(int depth) => depth == 0 ? Scalar : Weighted(
        (2, Scalar),
        (1, Json(depth - 1).Array[0, 4].Select(values => "[" + string.Join(",", values) + "]")),
        (2, Gen.Select(Key, Json(depth - 1)).Array[0, 5].Select(pairs => "{" + string.Join(",", pairs.Select(p => p.Item1 + ":" + p.Item2)) + "}")));
}
