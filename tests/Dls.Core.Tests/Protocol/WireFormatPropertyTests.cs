using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using CsCheck;
using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Usage;

namespace Dls.Core.Tests.Protocol;

/// <summary>
/// Property-based runs of the wire parsers: for any bytes at all they return a request or refuse with 400/413,
/// and what a client writes is what the server reads. Each property runs for DLS_FUZZ_SECONDS (default 3) seconds,
/// so CI stays bounded and a person can run it for hours (docs/protocol.md, "Fuzzing").
/// </summary>
public sealed class WireFormatPropertyTests
{
    private static readonly int Seconds = int.TryParse(Environment.GetEnvironmentVariable("DLS_FUZZ_SECONDS"), out var seconds) && seconds > 0 ? seconds : 3;

    private static readonly string[] FieldNames =
    [
        "handshakeCode", "organizationId", "sessionPassword", "clientUuid", "product", "version", "deployment", "edition",
        "domain", "appId", "processName", "instanceId", "instanceCount", "os", "sdkVersion", "requestId", "batchId",
        "records", "slice", "itemId", "count", "features",
    ];

    // What hostile or broken clients put where a value belongs.
    private static readonly string[] HostileValues =
    [
        "\"\\ud800\"", "\"\\udc00\"", "\"a\\udbff\\udbffb\"", "\"\\u0000\"", "\"\\u\"", "\"\\x\"", "1e3", "1E+3", "1.5", "-1", "-0", "0.0",
        "99999999999999999999999999", "-99999999999999999999999999", "1e999", "NaN", "true", "false", "null", "[]", "{}",
        "[[[[[[[[[[[[1]]]]]]]]]]]]", "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}", "\"\"", "\" \"",
        "\"Desktop\"", "\"2026-11-01T11:57:00Z\"", "\"9999-12-31T23:59:59-14:00\"", "\"0001-01-01T00:00:00+14:00\"",
        "[{\"slice\":\"2026-11-01T11:57:00Z\",\"itemId\":\"Y\",\"product\":\"P\",\"count\":1}]",
    ];

    // Pieces of text that need escaping, are multi-byte, or pair surrogates: what valid clients send.
    private static readonly Gen<string> Text = Gen.OneOf("a", "Z", "0", "-", " ", "\"", "\\", "/", "é", "中", "€", "😀", "<", "&", "'", "+", ".")
        .Array[0, 24].Select(pieces => "x" + string.Concat(pieces));

    private static readonly Gen<string?> OptionalText = Gen.Select(Gen.Bool, Text, (present, text) => present ? text : null);

    [Fact]
    public void Random_bytes_are_read_or_refused_400_or_413()
    {
        Gen.Byte.Array[0, 600].Sample(ReadsOrRefuses, time: Seconds);
    }

    [Fact]
    public void Random_json_ish_text_is_read_or_refused_400_or_413()
    {
        // Bytes from JSON's own alphabet reach the parser's inner states far more often than uniform bytes do.
        Gen.OneOf("{", "}", "[", "]", "\"", ":", ",", "\\", "u", "d", "8", "0", "1", "e", "E", ".", "-", "+", " ", "t", "n", "\"count\"", "\"records\"", "\"clientUuid\"", "\xff", "\uFEFF")
            .Array[0, 120]
            .Select(pieces => Encoding.UTF8.GetBytes(string.Concat(pieces)))
            .Sample(ReadsOrRefuses, time: Seconds);
    }

    [Fact]
    public void Random_json_values_are_read_or_refused_400_or_413()
    {
        Gen.Frequency((1, Json(10)), (3, Object(10)))
            .Select(Encoding.UTF8.GetBytes)
            .Sample(ReadsOrRefuses, time: Seconds);
    }

    [Fact]
    public void Mutated_auth_bodies_are_read_or_refused_400_or_413()
    {
        Gen.Select(Auths, Mutations.Array[1, 4], (auth, mutations) => Mutate(Write(auth.Request, auth.Style), mutations))
            .Sample(ReadsOrRefuses, time: Seconds);
    }

    [Fact]
    public void Mutated_reports_are_read_or_refused_400_or_413()
    {
        Gen.Select(Reports, Mutations.Array[1, 4], (report, mutations) => Mutate(Write(report.Request, report.Style), mutations))
            .Sample(ReadsOrRefuses, time: Seconds);
    }

    [Fact]
    public void Valid_auth_requests_read_back_as_written()
    {
        Auths.Sample(auth => Assert.Equal(auth.Request, WireFormat.ReadAuth(Write(auth.Request, auth.Style))), time: Seconds);
    }

    [Fact]
    public void Valid_reports_read_back_as_written()
    {
        Reports.Sample(
            report =>
            {
                var read = WireFormat.ReadReport(Write(report.Request, report.Style));
                Assert.Equal((report.Request.ClientUuid, report.Request.HandshakeCode, report.Request.BatchId), (read.ClientUuid, read.HandshakeCode, read.BatchId));
                Assert.Equal(report.Request.Records.Count, read.Records.Count);
                for (var i = 0; i < read.Records.Count; i++)
                {
                    var (sent, got) = (report.Request.Records[i], read.Records[i]);
                    Assert.Equal((TimeSlice.StartOf(sent.Slice), sent.ItemId, sent.Product, sent.Count, sent.InstanceId), (got.Slice, got.ItemId, got.Product, got.Count, got.InstanceId));
                    Assert.Equal(sent.Features?.OrderBy(f => f.Key, StringComparer.Ordinal), got.Features?.OrderBy(f => f.Key, StringComparer.Ordinal));
                }
            },
            time: Seconds);
    }

    /// <summary>The property every input must hold: a request, or a refusal a client can be answered with.</summary>
    private static void ReadsOrRefuses(byte[] body)
    {
        Refusable(() => WireFormat.ReadAuth(body));
        Refusable(() => WireFormat.ReadReport(body));
    }

    private static void Refusable(Func<object> read)
    {
        try
        {
            Assert.NotNull(read());
        }
        catch (ProtocolException error) when (error.ErrorCode is ErrorCodes.Malformed or ErrorCodes.TooLarge && error.Message.Length > 0)
        {
        }
    }

    /// <summary>How a valid client may spell the same request: escaping everything non-ASCII or nothing, nulls written or left out, deployment in any case.</summary>
    private sealed record Style(bool EscapeAll, bool WriteNulls, bool LowerCase);

    private static readonly Gen<Style> Styles = Gen.Select(Gen.Bool, Gen.Bool, Gen.Bool, (a, b, c) => new Style(a, b, c));

    private static readonly Gen<(AuthRequest Request, Style Style)> Auths =
        Gen.Select(OptionalText.Array[16], Text.Array[5], Gen.Enum<Deployment>(), Gen.Int[1, WireFormat.MaxInstanceCount], Styles, (optional, required, deployment, instances, style) => (
            new AuthRequest(optional[0], optional[1], optional[2], required[0], required[1], required[2], deployment, optional[3], optional[4], optional[5], optional[6], optional[7], instances, optional[8], optional[9], required[3]),
            style));

    private static readonly Gen<UsageRecord> Records =
        Gen.Select(Gen.Long[0, 200_000 * 3 * 60], Text, Text, Gen.Long[0, WireFormat.MaxCount], OptionalText, Gen.Select(Text, Gen.Long[0, WireFormat.MaxCount]).Array[0, 5], Gen.Bool,
            (seconds, itemId, product, count, instanceId, features, hasFeatures) => new UsageRecord(
                new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(seconds),
                itemId,
                product,
                count,
                instanceId,
                hasFeatures ? features.DistinctBy(f => f.Item1).ToDictionary(f => f.Item1, f => f.Item2, StringComparer.Ordinal) : null));

    private static readonly Gen<(ReportRequest Request, Style Style)> Reports =
        Gen.Select(Text, Text, Text, Records.Array[0, 20], Styles, (client, code, batch, records, style) => (new ReportRequest(client, code, batch, records), style));

    /// <summary>A change to bytes: flip, insert, delete, truncate, swap a value's type, slip in a surrogate escape.</summary>
    private sealed record Mutation(int Kind, int Position, int Length, byte Value, string Snippet);

    private static readonly Gen<Mutation> Mutations =
        Gen.Select(Gen.Int[0, 6], Gen.Int[0, int.MaxValue], Gen.Int[1, 64], Gen.Byte, Gen.OneOf(HostileValues), (kind, position, length, value, snippet) => new Mutation(kind, position, length, value, snippet));

    private static byte[] Mutate(byte[] body, Mutation[] mutations)
    {
        var bytes = body.ToList();
        foreach (var mutation in mutations)
        {
            var at = bytes.Count == 0 ? 0 : mutation.Position % (bytes.Count + 1);
            switch (mutation.Kind)
            {
                case 0 when bytes.Count > 0:
                    bytes[at % bytes.Count] ^= (byte)(1 << (mutation.Value % 8));
                    break;
                case 1:
                    bytes.Insert(at, mutation.Value);
                    break;
                case 2:
                    bytes.RemoveRange(at, Math.Min(mutation.Length, bytes.Count - at));
                    break;
                case 3:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 4:
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(mutation.Snippet));
                    break;
                case 5:
                    SwapValue(bytes, mutation.Position, mutation.Snippet);
                    break;
                case 6:
                    var quotes = Enumerable.Range(0, bytes.Count).Where(i => bytes[i] == (byte)'"').ToList();
                    if (quotes.Count > 0)
                    {
                        bytes.InsertRange(quotes[mutation.Position % quotes.Count] + 1, Encoding.ASCII.GetBytes(mutation.Value % 2 == 0 ? "\\ud800" : "\\udfff"));
                    }

                    break;
            }
        }

        return [.. bytes];
    }

    /// <summary>Replaces the value after one <c>":</c> with another JSON text (a number for a string, an array for a count...).</summary>
    private static void SwapValue(List<byte> bytes, int pick, string replacement)
    {
        var colons = Enumerable.Range(0, Math.Max(0, bytes.Count - 1)).Where(i => bytes[i] == (byte)'"' && bytes[i + 1] == (byte)':').ToList();
        if (colons.Count == 0)
        {
            return;
        }

        var start = colons[pick % colons.Count] + 2;
        var end = start;
        if (end < bytes.Count && bytes[end] == (byte)'"')
        {
            end++;
            while (end < bytes.Count && bytes[end] != (byte)'"')
            {
                end += bytes[end] == (byte)'\\' ? 2 : 1;
            }

            end = Math.Min(end + 1, bytes.Count);
        }
        else
        {
            while (end < bytes.Count && bytes[end] is not ((byte)',' or (byte)'}' or (byte)']'))
            {
                end++;
            }
        }

        bytes.RemoveRange(start, end - start);
        bytes.InsertRange(start, Encoding.UTF8.GetBytes(replacement));
    }

    private static Gen<string> Json(int depth) =>
        depth == 0 ? Scalar : Gen.Frequency((4, Scalar), (1, Array(depth)), (1, Object(depth)));

    private static Gen<string> Array(int depth) =>
        Json(depth - 1).Array[0, 4].Select(values => $"[{string.Join(',', values)}]");

    private static Gen<string> Object(int depth) =>
        Gen.Select(Key, Json(depth - 1)).Array[0, 6].Select(properties => $"{{{string.Join(',', properties.Select(p => $"{p.Item1}:{p.Item2}"))}}}");

    private static readonly Gen<string> Key = Gen.Frequency(
        (4, Gen.OneOf(FieldNames).Select(name => $"\"{name}\"")),
        (1, Text.Select(name => JsonSerializer.Serialize(name))),
        (1, Gen.OneOf("\"\\ud800\"", "\"count\\udc00\"", "\"c\\u006fun\\u0074\"", "\"\"")));

    private static readonly Gen<string> Scalar = Gen.Frequency(
        (3, Gen.OneOf(HostileValues)),
        (2, Text.Select(text => JsonSerializer.Serialize(text))),
        (2, Gen.Long.Select(number => number.ToString(CultureInfo.InvariantCulture))),
        (1, Gen.Double.Select(number => double.IsFinite(number) ? number.ToString("R", CultureInfo.InvariantCulture) : "0")));

    private static byte[] Write(AuthRequest request, Style style) => Written(style, writer =>
    {
        Property(writer, style, "handshakeCode", request.HandshakeCode);
        Property(writer, style, "organizationId", request.OrganizationId);
        Property(writer, style, "sessionPassword", request.SessionPassword);
        Property(writer, style, "clientUuid", request.ClientUuid);
        Property(writer, style, "product", request.Product);
        Property(writer, style, "version", request.Version);
        Property(writer, style, "deployment", style.LowerCase ? request.Deployment.ToString().ToLowerInvariant() : request.Deployment.ToString());
        Property(writer, style, "edition", request.Edition);
        Property(writer, style, "domain", request.Domain);
        Property(writer, style, "appId", request.AppId);
        Property(writer, style, "processName", request.ProcessName);
        Property(writer, style, "instanceId", request.InstanceId);
        writer.WriteNumber("instanceCount", request.InstanceCount);
        Property(writer, style, "os", request.Os);
        Property(writer, style, "sdkVersion", request.SdkVersion);
        Property(writer, style, "requestId", request.RequestId);
        writer.WriteString("aNewerField", "ignored");
    });

    private static byte[] Write(ReportRequest request, Style style) => Written(style, writer =>
    {
        writer.WriteStartArray("records");
        foreach (var record in request.Records)
        {
            writer.WriteStartObject();
            writer.WriteString("slice", record.Slice.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            writer.WriteString("itemId", record.ItemId);
            writer.WriteString("product", record.Product);
            writer.WriteNumber("count", record.Count);
            Property(writer, style, "instanceId", record.InstanceId);
            if (record.Features is { } features)
            {
                writer.WriteStartObject("features");
                foreach (var (name, count) in features)
                {
                    writer.WriteNumber(name, count);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        Property(writer, style, "clientUuid", request.ClientUuid);
        Property(writer, style, "handshakeCode", request.HandshakeCode);
        Property(writer, style, "batchId", request.BatchId);
    });

    private static byte[] Written(Style style, Action<Utf8JsonWriter> properties)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = style.EscapeAll ? JavaScriptEncoder.Default : JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            properties(writer);
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }

    private static void Property(Utf8JsonWriter writer, Style style, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
        else if (style.WriteNulls)
        {
            writer.WriteNull(name);
        }
    }
}
