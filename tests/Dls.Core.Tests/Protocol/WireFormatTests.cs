using System.Text;
using Dls.Core.Licensing;
using Dls.Core.Protocol;

namespace Dls.Core.Tests.Protocol;

/// <summary>
/// Each kind of malformed input docs/protocol.md names ("Malformed input"): a 400 whose message names the field,
/// or 413 for size; never any other exception.
/// </summary>
public sealed class WireFormatTests
{
    private const string Auth = """{"handshakeCode":"216998-app","clientUuid":"c-1","product":"DBR","version":"10.4.2000","deployment":"Desktop","os":"Linux","requestId":"r-1"}""";

    private const string Record = """{"slice":"2026-11-01T11:57:00Z","itemId":"Y","product":"DBR","count":3}""";

    [Fact]
    public void A_valid_auth_body_is_read_field_by_field()
    {
        var request = WireFormat.ReadAuth(Bytes("""{"clientUuid":"c-1","product":"DBR","version":"10","deployment":"server","requestId":"r","instanceCount":4,"edition":"Pro","newerField":{"x":[1,2,{"y":null}]}}"""));

        Assert.Equal(("c-1", "DBR", "10", Deployment.Server, "r", 4, "Pro"), (request.ClientUuid, request.Product, request.Version, request.Deployment, request.RequestId, request.InstanceCount, request.Edition));
        Assert.Null(request.HandshakeCode);
    }

    [Fact]
    public void A_valid_report_is_read_with_its_records_and_features()
    {
        var request = WireFormat.ReadReport(Bytes(Report("""{"slice":"2026-11-01T11:58:10Z","itemId":"Y","product":"DBR","count":37,"features":{"qr":30,"pdf417":7},"instanceId":"w-3"}""")));

        var record = Assert.Single(request.Records);
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 11, 57, 0, TimeSpan.Zero), record.Slice);
        Assert.Equal(("Y", "DBR", 37L, "w-3"), (record.ItemId, record.Product, record.Count, record.InstanceId));
        Assert.Equal(30, record.Features!["qr"]);
        Assert.Equal(("c", "216998-app", "b"), (request.ClientUuid, request.HandshakeCode, request.BatchId));
    }

    [Fact]
    public void Escaped_names_and_surrogate_pairs_are_read_as_the_text_they_spell()
    {
        var request = WireFormat.ReadAuth(Bytes(Auth.Replace("\"clientUuid\":\"c-1\"", "\"client\\u0055uid\":\"c-\\ud83d\\ude00\"")));

        Assert.Equal("c-\U0001F600", request.ClientUuid);
    }

    public static TheoryData<string, string> MalformedAuth => new()
    {
        // Lone surrogates, high and low, in values and in names (the listener used to answer these 500).
        { Auth.Replace("\"c-1\"", "\"\\ud800\""), "clientUuid holds an invalid \\u escape" },
        { Auth.Replace("\"c-1\"", "\"x\\udc00y\""), "clientUuid holds an invalid \\u escape" },
        { Auth.Replace("\"Linux\"", "\"\\ud800\\u0041\""), "os holds an invalid \\u escape" },
        { Auth.Replace("\"os\"", "\"o\\ud800s\""), "the body (a property name) holds an invalid \\u escape" },
        { Auth.Replace("}", ",\"future\":\"\\udfff\"}"), "future holds an invalid \\u escape" },
        { Auth.Replace("}", ",\"future\":{\"\\ud800\":1}}"), "future (a property name) holds an invalid \\u escape" },
        // Wrong types.
        { Auth.Replace("\"c-1\"", "42"), "clientUuid must be a string" },
        { Auth.Replace("\"c-1\"", "[\"c-1\"]"), "clientUuid" },
        { Auth.Replace("\"c-1\"", "{}"), "clientUuid" },
        { Auth.Replace("\"c-1\"", "true"), "clientUuid" },
        { Auth.Replace("}", ",\"instanceCount\":\"2\"}"), "instanceCount" },
        { Auth.Replace("}", ",\"instanceCount\":1.5}"), "instanceCount" },
        { Auth.Replace("}", ",\"instanceCount\":1e3}"), "instanceCount" },
        { Auth.Replace("}", ",\"instanceCount\":0}"), "instanceCount" },
        { Auth.Replace("}", ",\"instanceCount\":99999999999999999999999}"), "instanceCount" },
        // Missing, blank, too long, control characters, unknown deployment.
        { Auth.Replace("\"clientUuid\":\"c-1\",", string.Empty), "clientUuid" },
        { Auth.Replace("\"c-1\"", "null"), "clientUuid" },
        { Auth.Replace("\"c-1\"", "\"   \""), "clientUuid is required" },
        { Auth.Replace("\"c-1\"", $"\"{new string('u', 129)}\""), "clientUuid" },
        { Auth.Replace("\"c-1\"", "\"c\\u0000\""), "clientUuid contains control characters" },
        { Auth.Replace("\"Desktop\"", "\"Toaster\""), "deployment" },
        { Auth.Replace("\"Desktop\"", "\"1\""), "deployment" },
        // Duplicates: parsers disagree on which one wins, so neither does.
        { Auth.Replace("}", ",\"clientUuid\":\"c-2\"}"), "clientUuid appears twice" },
        { Auth.Replace("}", ",\"client\\u0055uid\":\"c-2\"}"), "clientUuid appears twice" },
        { Auth.Replace("}", ",\"x\":1,\"x\":2}"), "x appears twice" },
        // The body as a whole.
        { "", "empty" },
        { "  \r\n", "empty" },
        { "[1]", "JSON object" },
        { "\"text\"", "JSON object" },
        { "null", "JSON object" },
        { Auth + " {}", "JSON" },
        { Auth + "x", "JSON" },
        { "\uFEFF" + Auth, "byte order mark" },
        { Auth[..40], "JSON" },
        { Auth.Replace("}", ",}"), "JSON" },
        { Auth.Replace("}", ",\"x\":[[[[[[[[1]]]]]]]]}"), "x[0][0][0][0][0][0][0] nests JSON deeper than 8" },
        { "{\"a\":" + new string('[', 5000) + new string(']', 5000) + "}", "a[0][0][0][0][0][0][0] nests JSON deeper" },
        { "{/*c*/}", "JSON" },
    };

    [Theory]
    [MemberData(nameof(MalformedAuth))]
    public void Malformed_auth_bodies_are_refused_400_naming_the_field(string body, string named)
    {
        var error = Assert.Throws<ProtocolException>(() => WireFormat.ReadAuth(Bytes(body)));

        Assert.Equal(ErrorCodes.Malformed, error.ErrorCode);
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> MalformedReports => new()
    {
        { Report(Record.Replace("3", "-1")), "records[0].count must be an integer between 0 and 1000000000" },
        { Report(Record.Replace("3", "1000000001")), "records[0].count must be an integer between 0 and" },
        { Report(Record.Replace("3", "1.5")), "records[0].count must be an integer" },
        { Report(Record.Replace("3", "3.0")), "records[0].count must be an integer" },
        { Report(Record.Replace("3", "1e3")), "records[0].count must be an integer" },
        { Report(Record.Replace("3", "1E+3")), "records[0].count must be an integer" },
        { Report(Record.Replace("3", "-0.0")), "records[0].count must be an integer" },
        { Report(Record.Replace("3", "123456789012345678901234567890")), "records[0].count must be an integer" },
        { Report(Record.Replace("3", "\"3\"")), "records[0].count must be an integer" },
        { Report(Record.Replace("3", "true")), "records[0].count must be an integer" },
        { Report(Record.Replace("3", "[3]")), "records[0].count must be an integer" },
        { Report(Record.Replace(",\"count\":3", string.Empty)), "records[0].count is required" },
        { Report(Record, Record.Replace("\"count\":3", "\"count\":1,\"count\":999")), "records[1].count appears twice" },
        { Report(Record, Record, Record, Record.Replace("\"Y\"", "\"\\ud800\"")), "records[3].itemId holds an invalid \\u escape" },
        { Report(Record.Replace("}", ",\"features\":{\"q\\udc00r\":1}}")), "records[0].features (a name) holds an invalid \\u escape" },
        { Report(Record.Replace("}", ",\"features\":{\"qr\":1,\"qr\":2}}")), "records[0].features.qr appears twice" },
        { Report(Record.Replace("}", ",\"features\":{\"qr\":1.5}}")), "records[0].features.qr must be an integer" },
        { Report(Record.Replace("}", ",\"features\":{\"qr\":\"1\"}}")), "records[0].features.qr must be an integer" },
        { Report(Record.Replace("}", ",\"features\":{\"qr\":null}}")), "records[0].features.qr must be an integer" },
        { Report(Record.Replace("}", ",\"features\":{\"\":1}}")), "records[0].features has a name" },
        { Report(Record.Replace("}", ",\"features\":[1]}")), "records[0].features must be an object" },
        { Report(Record.Replace("}", $",\"features\":{{{string.Join(',', Enumerable.Range(0, 65).Select(i => $"\"f{i}\":1"))}}}}}")), "records[0].features holds more than 64" },
        { Report(Record.Replace("\"2026-11-01T11:57:00Z\"", "\"yesterday\"")), "records[0].slice" },
        { Report(Record.Replace("\"2026-11-01T11:57:00Z\"", "20261101")), "records[0].slice must be a string" },
        { Report("1"), "records[0] must be a JSON object" },
        { Report("null"), "records[0] must be a JSON object" },
        { Report(Record, Record.Replace("}", ",\"x\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{}}}}}}}")), "records[1].x.a.b.c.d.e nests JSON deeper than 8" },
        { "{\"clientUuid\":\"c\",\"handshakeCode\":\"h\",\"batchId\":\"b\",\"records\":{}}", "records is required and must be an array" },
        { "{\"clientUuid\":\"c\",\"handshakeCode\":\"h\",\"batchId\":\"b\",\"records\":null}", "records is required and must be an array" },
        { "{\"clientUuid\":\"c\",\"handshakeCode\":\"h\",\"batchId\":\"b\"}", "records is required" },
        { "{\"clientUuid\":\"c\",\"handshakeCode\":\"h\",\"records\":[]}", "batchId is required" },
        { "{\"clientUuid\":\"c\",\"handshakeCode\":\"h\",\"batchId\":\"b\",\"records\":[],\"records\":[]}", "records appears twice" },
    };

    [Theory]
    [MemberData(nameof(MalformedReports))]
    public void Malformed_reports_are_refused_400_naming_the_field(string body, string named)
    {
        var error = Assert.Throws<ProtocolException>(() => WireFormat.ReadReport(Bytes(body)));

        Assert.Equal(ErrorCodes.Malformed, error.ErrorCode);
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0xFF })]
    [InlineData(new byte[] { 0xC3 })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    [InlineData(new byte[] { 0xC0, 0xAF })]
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })]
    public void Invalid_utf8_anywhere_in_the_body_is_refused_400(byte[] bad)
    {
        foreach (var at in new[] { Auth.IndexOf("c-1", StringComparison.Ordinal), Auth.IndexOf("\"os\"", StringComparison.Ordinal) + 2, Auth.Length - 1 })
        {
            var body = Encoding.UTF8.GetBytes(Auth[..at]).Concat(bad).Concat(Encoding.UTF8.GetBytes(Auth[at..])).ToArray();

            var error = Assert.Throws<ProtocolException>(() => WireFormat.ReadAuth(body));

            Assert.Equal(ErrorCodes.Malformed, error.ErrorCode);
            Assert.Contains($"not valid UTF-8 (at byte {at})", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_batch_of_1001_records_is_413_and_1000_are_read()
    {
        Assert.Equal(1000, WireFormat.ReadReport(Bytes(Report(Enumerable.Repeat(Record, 1000).ToArray()))).Records.Count);

        var error = Assert.Throws<ProtocolException>(() => WireFormat.ReadReport(Bytes(Report(Enumerable.Repeat(Record, 1001).ToArray()))));
        Assert.Equal(ErrorCodes.TooLarge, error.ErrorCode);
    }

    [Fact]
    public void Bodies_over_the_limit_are_413_before_anything_is_parsed()
    {
        Assert.Equal(ErrorCodes.TooLarge, Assert.Throws<ProtocolException>(() => WireFormat.ReadAuth(new byte[WireFormat.MaxAuthBodyBytes + 1])).ErrorCode);
        Assert.Equal(ErrorCodes.TooLarge, Assert.Throws<ProtocolException>(() => WireFormat.ReadReport(new byte[WireFormat.MaxReportBodyBytes + 1])).ErrorCode);
    }

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("-0", 0L)]
    [InlineData("1000000000", 1_000_000_000L)]
    public void Counts_at_the_bounds_are_read(string written, long read)
    {
        var request = WireFormat.ReadReport(Bytes(Report(Record.Replace("3", written))));

        Assert.Equal(read, request.Records[0].Count);
    }

    [Fact]
    public void Null_optional_fields_and_null_features_are_absent()
    {
        var auth = WireFormat.ReadAuth(Bytes(Auth.Replace("}", ",\"edition\":null,\"instanceCount\":null,\"domain\":null}")));
        var report = WireFormat.ReadReport(Bytes(Report(Record.Replace("}", ",\"features\":null,\"instanceId\":null}"))));

        Assert.Equal((null, 1, null), (auth.Edition, auth.InstanceCount, auth.Domain));
        Assert.Null(report.Records[0].Features);
    }

    private static string Report(params string[] records) =>
        $$"""{"clientUuid":"c","handshakeCode":"216998-app","batchId":"b","records":[{{string.Join(',', records)}}]}""";

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
