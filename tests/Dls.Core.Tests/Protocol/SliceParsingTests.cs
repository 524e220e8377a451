using System.Globalization;
using System.Text;
using Dls.Core.Protocol;

namespace Dls.Core.Tests.Protocol;

/// <summary>
/// A record's slice is read from its bytes when it has the common ISO-8601 shape; these hold that reading to the
/// general parser it stands in for: whatever it accepts, DateTimeOffset.TryParse accepts as the same instant.
/// </summary>
public sealed class SliceParsingTests
{
    [Theory]
    [InlineData("2026-11-01T11:57:00Z")]
    [InlineData("2026-11-01T11:57:00.1Z")]
    [InlineData("2026-11-01T11:57:00.1234567Z")]
    [InlineData("2026-11-01T11:57:00.1234567+00:00")]
    [InlineData("2026-11-01T11:57:00.123+05:30")]
    [InlineData("2026-11-01T00:00:00-14:00")]
    [InlineData("2026-11-01T23:59:59+14:00")]
    [InlineData("2024-02-29T12:00:00Z")]
    [InlineData("0001-01-01T00:00:00Z")]
    [InlineData("9999-12-31T23:59:59.9999999Z")]
    public void Common_shapes_are_read_as_the_general_parser_reads_them(string text)
    {
        Assert.True(WireFormat.TryParseIsoTime(Encoding.ASCII.GetBytes(text), out var fast));
        Assert.Equal(General(text), fast);
        Assert.Equal(TimeSpan.Zero, fast.Offset);
    }

    [Theory]
    [InlineData("2026-11-01T11:57:00")]
    [InlineData("2026-11-01 11:57:00Z")]
    [InlineData("2026-11-01t11:57:00z")]
    [InlineData("2026-11-01T11:57:00.12345678Z")]
    [InlineData("2026-11-01T11:57:00.Z")]
    [InlineData("2026-11-01T11:57:60Z")]
    [InlineData("2026-11-01T24:00:00Z")]
    [InlineData("2026-02-29T12:00:00Z")]
    [InlineData("2026-13-01T12:00:00Z")]
    [InlineData("0000-01-01T00:00:00Z")]
    [InlineData("2026-11-01T11:57:00+14:01")]
    [InlineData("2026-11-01T11:57:00+0530")]
    [InlineData("0001-01-01T00:00:00+01:00")]
    [InlineData("9999-12-31T23:59:59-01:00")]
    [InlineData("2026-11-01T11:57:00ZZ")]
    public void Other_shapes_are_left_to_the_general_parser(string text)
    {
        Assert.False(WireFormat.TryParseIsoTime(Encoding.ASCII.GetBytes(text), out _));
    }

    [Fact]
    public void Random_times_and_mutations_never_disagree_with_the_general_parser()
    {
        var random = new Random(20261203);
        const string alphabet = "0123456789-:.TZ+ z";
        for (var i = 0; i < 20_000; i++)
        {
            var ticks = (long)(random.NextDouble() * DateTime.MaxValue.Ticks);
            var text = new DateTime(ticks, DateTimeKind.Utc).ToString(random.Next(3) switch
            {
                0 => "yyyy-MM-dd'T'HH:mm:ss'Z'",
                1 => "yyyy-MM-dd'T'HH:mm:ss.fff'Z'",
                _ => "yyyy-MM-dd'T'HH:mm:ss.fffffff'+00:00'",
            }, CultureInfo.InvariantCulture);
            if (random.Next(2) == 0)
            {
                var chars = text.ToCharArray();
                chars[random.Next(chars.Length)] = alphabet[random.Next(alphabet.Length)];
                text = new string(chars);
            }

            if (WireFormat.TryParseIsoTime(Encoding.ASCII.GetBytes(text), out var fast))
            {
                Assert.Equal(General(text), fast);
            }
        }
    }

    [Fact]
    public void A_report_reads_the_same_instants_whichever_way_its_slices_are_written()
    {
        var body = """
            {"clientUuid":"c","handshakeCode":"216998-app","batchId":"b","records":[
            {"slice":"2026-11-01T11:57:00.1234567+02:00","itemId":"Y","product":"DBR","count":1},
            {"slice":"2026-11-01T09:57:00Z","itemId":"Y","product":"DBR","count":1},
            {"slice":"2026-11-01T09:57:00","itemId":"Y","product":"DBR","count":1},
            {"slice":"2026-11-01T09:57:00\u005A","itemId":"Y","product":"DBR","count":1},
            {"slice":"2026-11-01T11:57:00.1234567\u002B02:00","itemId":"Y","product":"DBR","count":1},
            {"slice":"Sun, 01 Nov 2026 09:57:00 GMT","itemId":"Y","product":"DBR","count":1}]}
            """;

        var records = WireFormat.ReadReport(Encoding.UTF8.GetBytes(body)).Records;

        Assert.Equal(6, records.Count);
        Assert.All(records, r => Assert.Equal(records[1].Slice, r.Slice));
    }

    [Fact]
    public void A_lone_surrogate_escape_in_a_slice_is_refused_as_before()
    {
        var body = """{"clientUuid":"c","handshakeCode":"216998-app","batchId":"b","records":[{"slice":"2026-11-01T09:57:00\uD800","itemId":"Y","product":"DBR","count":1}]}""";

        var error = Assert.Throws<ProtocolException>(() => WireFormat.ReadReport(Encoding.UTF8.GetBytes(body)));

        Assert.Equal(400, error.ErrorCode);
        Assert.StartsWith("records[0].slice holds an invalid \\u escape", error.Message);
    }

    private static DateTimeOffset General(string text)
    {
        Assert.True(DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time), text);
        return time;
    }
}
