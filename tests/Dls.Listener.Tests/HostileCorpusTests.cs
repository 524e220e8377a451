using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Dls.Core.Licensing;
using Dls.Tests;

namespace Dls.Listener.Tests;

/// <summary>
/// Hostile traffic against a real listener process: every request of the corpus gets a 4xx (with the
/// <c>{errorCode, message}</c> body where the API answers), changes none of the tables requests write (a 400 writes
/// nothing, not even statistics), and leaves no stack trace in the listener's log; the listener stays healthy.
/// </summary>
public sealed class HostileCorpusTests
{
    // The tables an auth or a report writes; heartbeats (listener) and alert bookkeeping change on their own.
    private static readonly string[] WrittenTables =
    [
        "auth_event", "usage_batch", "seat", "client_fingerprint", "concurrent_slot", "concurrent_slice",
        "item_counter", "usage_client", "usage_rollup", "usage_device", "usage_device_bits", "usage_seen",
        "usage_instance_seen", "usage_feature",
    ];

    private const string Auth = "api/v1/auth";
    private const string Reports = "api/v1/reports";

    /// <summary>One hostile request. <paramref name="Statuses"/> are the acceptable answers; 0 means "cut off without an answer".</summary>
    public sealed record Case(string Name, HttpMethod Method, string Path, byte[]? Body, string? ContentType = "application/json", bool Chunked = false, int[]? Statuses = null)
    {
        public int[] Expected => Statuses ?? [400];

        public override string ToString() => Name;
    }

    public static IEnumerable<Case> Corpus()
    {
        var auth = AuthText("hostile");
        var record = $$"""{"slice":"{{ProtocolFixture.SliceNow()}}","itemId":"Y","product":"DBR","count":1}""";
        string Report(params string[] records) => $$"""{"clientUuid":"hostile","handshakeCode":"216998-app","batchId":"b-1","records":[{{string.Join(',', records)}}]}""";
        Case PostAuth(string name, string body, int[]? statuses = null) => new(name, HttpMethod.Post, Auth, Encoding.UTF8.GetBytes(body), Statuses: statuses);
        Case PostReport(string name, string body, int[]? statuses = null) => new(name, HttpMethod.Post, Reports, Encoding.UTF8.GetBytes(body), Statuses: statuses);

        // Escapes and encodings.
        yield return PostAuth("lone high surrogate in clientUuid", auth.Replace("\"hostile\"", "\"\\ud800\""));
        yield return PostAuth("lone low surrogate in clientUuid", auth.Replace("\"hostile\"", "\"\\udc00\""));
        yield return PostAuth("lone surrogate in a property name", auth.Replace("\"os\"", "\"o\\ud800s\""));
        yield return PostAuth("lone surrogate in an unknown field", auth.Replace("{", "{\"future\":\"\\udbff\","));
        yield return PostReport("lone surrogate in a report clientUuid", Report(record).Replace("\"hostile\"", "\"\\udfff\""));
        yield return PostReport("lone surrogate in a feature name", Report(record.Replace("}", ",\"features\":{\"q\\ud800\":1}}")));
        yield return new("invalid UTF-8 in a string", HttpMethod.Post, Auth, Splice(auth, "hostile", [0xC3, 0x28]));
        yield return new("overlong UTF-8 encoding", HttpMethod.Post, Auth, Splice(auth, "hostile", [0xC0, 0xAF]));
        yield return new("UTF-8 encoded surrogate", HttpMethod.Post, Reports, Splice(Report(record), "hostile", [0xED, 0xA0, 0x80]));
        yield return new("byte order mark", HttpMethod.Post, Auth, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(auth)]);
        yield return new("UTF-16 body", HttpMethod.Post, Auth, Encoding.Unicode.GetBytes(auth), "application/json; charset=utf-16");
        yield return PostAuth("control character in clientUuid", auth.Replace("\"hostile\"", "\"ho\\u0000stile\""));

        // Shape.
        yield return PostAuth("empty body", string.Empty);
        yield return PostAuth("whitespace body", " \r\n ");
        yield return PostAuth("not JSON", "clientUuid=hostile&product=DBR");
        yield return PostAuth("an array", "[" + auth + "]");
        yield return PostAuth("a string", "\"hostile\"");
        yield return PostAuth("JSON null", "null");
        yield return PostAuth("trailing garbage", auth + "}");
        yield return PostAuth("two objects", auth + auth);
        yield return PostAuth("truncated", auth[..(auth.Length / 2)]);
        yield return PostAuth("a comment", auth.Replace("{", "{/* hi */"));
        yield return PostAuth("trailing comma", auth.Replace("}", ",}"));
        yield return PostAuth("NaN", auth.Replace("}", ",\"instanceCount\":NaN}"));
        yield return PostAuth("deep JSON", auth.Replace("}", ",\"x\":" + new string('[', 4000) + new string(']', 4000) + "}"));
        yield return PostReport("deep JSON in a record", Report(record.Replace("}", ",\"x\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{}}}}}}}")));

        // Types and nulls.
        yield return PostAuth("clientUuid a number", auth.Replace("\"hostile\"", "42"));
        yield return PostAuth("clientUuid an object", auth.Replace("\"hostile\"", "{\"id\":\"hostile\"}"));
        yield return PostAuth("clientUuid an array", auth.Replace("\"hostile\"", "[\"hostile\"]"));
        yield return PostAuth("clientUuid a boolean", auth.Replace("\"hostile\"", "true"));
        yield return PostAuth("clientUuid too long", auth.Replace("\"hostile\"", $"\"{new string('h', 129)}\""));
        yield return PostAuth("instanceCount a string", auth.Replace("}", ",\"instanceCount\":\"2\"}"));
        yield return PostAuth("instanceCount huge", auth.Replace("}", ",\"instanceCount\":1e308}"));
        yield return PostAuth("unknown deployment", auth.Replace("\"Desktop\"", "\"Toaster\""));
        yield return PostAuth("nulls everywhere", """{"handshakeCode":null,"organizationId":null,"clientUuid":null,"product":null,"version":null,"deployment":null,"requestId":null,"instanceCount":null}""");
        yield return PostReport("records null", """{"clientUuid":"hostile","handshakeCode":"216998-app","batchId":"b-1","records":null}""");
        yield return PostReport("a null record", Report("null"));
        yield return PostReport("record fields null", Report("""{"slice":null,"itemId":null,"product":null,"count":null}"""));
        yield return PostReport("records an object", """{"clientUuid":"hostile","handshakeCode":"216998-app","batchId":"b-1","records":{"0":{}}}""");

        // Numbers.
        yield return PostReport("negative count", Report(record.Replace("\"count\":1", "\"count\":-1")));
        yield return PostReport("huge count", Report(record.Replace("\"count\":1", "\"count\":123456789012345678901234567890")));
        yield return PostReport("count over the maximum", Report(record.Replace("\"count\":1", "\"count\":1000000001")));
        yield return PostReport("fractional count", Report(record.Replace("\"count\":1", "\"count\":1.5")));
        yield return PostReport("count with an exponent", Report(record.Replace("\"count\":1", "\"count\":1e3")));
        yield return PostReport("count a string", Report(record.Replace("\"count\":1", "\"count\":\"1\"")));
        yield return PostReport("fractional feature count", Report(record.Replace("}", ",\"features\":{\"qr\":0.5}}")));
        yield return PostReport("slice in the future", Report(record.Replace(ProtocolFixture.SliceNow(), "2099-01-01T00:00:00Z")));
        yield return PostReport("slice at the end of time", Report(record.Replace(ProtocolFixture.SliceNow(), "9999-12-31T23:59:59-14:00")));
        yield return PostReport("slice garbage", Report(record.Replace(ProtocolFixture.SliceNow(), "yesterday")));

        // Duplicates: parsers disagree on which one wins.
        yield return PostReport("duplicate count", Report(record.Replace("\"count\":1", "\"count\":1,\"count\":999")));
        yield return PostAuth("duplicate clientUuid", auth.Replace("}", ",\"clientUuid\":\"other\"}"));
        yield return PostAuth("duplicate clientUuid by escape", auth.Replace("}", ",\"client\\u0055uid\":\"other\"}"));
        yield return PostReport("duplicate feature", Report(record.Replace("}", ",\"features\":{\"qr\":1,\"qr\":2}}")));

        // Sizes. An upload the listener refuses while it is still being sent may end in a closed connection (0)
        // before the client reads the 413; either way nothing is read past the limit.
        yield return PostReport("1001 records", Report(Enumerable.Repeat(record, 1001).ToArray()), [413]);
        yield return PostReport("2 MiB report", Report(record).Replace("b-1", new string('b', 2 * 1024 * 1024)), [413, 0]);
        yield return new("2 MiB chunked report", HttpMethod.Post, Reports, Encoding.UTF8.GetBytes(Report(record).Replace("b-1", new string('b', 2 * 1024 * 1024))), Chunked: true, Statuses: [413, 0]);
        yield return new("20 KiB chunked auth", HttpMethod.Post, Auth, Encoding.UTF8.GetBytes(auth.Replace("}", $",\"pad\":\"{new string('p', 20 * 1024)}\"}}")), Chunked: true, Statuses: [413, 0]);

        // Content types and methods.
        yield return new("text/plain with a valid body", HttpMethod.Post, Auth, Encoding.UTF8.GetBytes(auth), "text/plain");
        yield return new("form content type", HttpMethod.Post, Auth, Encoding.UTF8.GetBytes(auth), "application/x-www-form-urlencoded");
        yield return new("no content type", HttpMethod.Post, Reports, Encoding.UTF8.GetBytes(Report(record)), null);
        yield return new("GET on the auth path", HttpMethod.Get, Auth, null, null, Statuses: [405]);
        yield return new("PUT on the reports path", HttpMethod.Put, Reports, Encoding.UTF8.GetBytes(Report(record)), Statuses: [405]);
        yield return new("DELETE on the reports path", HttpMethod.Delete, Reports, null, null, Statuses: [405]);
    }

    [Fact]
    public async Task The_hostile_corpus_gets_4xx_writes_nothing_and_leaves_no_stack_trace()
    {
        await using var host = await StartAsync();
        var failures = new List<string>();
        foreach (var hostile in Corpus())
        {
            var before = Digest(host);
            var (status, json) = await SendAsync(host, hostile);
            if (!hostile.Expected.Contains(status))
            {
                failures.Add($"{hostile.Name}: HTTP {status}, expected {string.Join(" or ", hostile.Expected)}");
            }
            else if (status is 400 or 413 && !(json is { } error && error.GetProperty("errorCode").GetInt32() == status && error.GetProperty("message").GetString()!.Length > 0))
            {
                failures.Add($"{hostile.Name}: HTTP {status} without an {{errorCode, message}} body");
            }

            if (Digest(host) != before)
            {
                failures.Add($"{hostile.Name}: the store changed");
            }
        }

        // A body announced longer than it is, then the sender closes: cut off, never counted.
        var announced = Digest(host);
        var cutOff = await RawAsync(host, $"POST /{Auth} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"clientUuid\":", closeSending: true, TimeSpan.FromSeconds(20));
        if (cutOff is not (400 or 0) || Digest(host) != announced)
        {
            failures.Add($"announced longer than sent: HTTP {cutOff}, store changed: {Digest(host) != announced}");
        }

        using (var health = await host.Http.GetAsync("healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        // The control: a valid request does change the digest, so "unchanged" above means something.
        var (granted, _) = await ProtocolFixture.PostAsync(host.Http, Auth, ProtocolFixture.AuthBody("control"));
        Assert.Equal(HttpStatusCode.OK, granted);
        Assert.NotEqual(announced, Digest(host));

        // A graceful stop flushes the console logger, so the log is complete when it is read.
        Assert.Equal(0, await host.TerminateAsync());
        failures.AddRange(StackTraceLines(host.Output).Select(line => $"log: {line}"));
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task A_client_that_stops_sending_is_cut_off_without_a_stack_trace()
    {
        await using var host = await StartAsync();
        var before = Digest(host);

        // Announces 100 bytes, sends 13 and keeps the connection open: the minimum body data rate ends it.
        var status = await RawAsync(host, $"POST /{Reports} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"records\":[", closeSending: false, TimeSpan.FromSeconds(30));

        Assert.True(status is 400 or 408 or 0, $"HTTP {status}");
        Assert.Equal(before, Digest(host));
        Assert.Equal(0, await host.TerminateAsync());
        NoStackTrace(host.Output);
    }

    [Fact]
    public async Task Mutated_requests_never_get_a_5xx_or_a_stack_trace()
    {
        await using var host = await StartAsync();
        var random = new Random(20261203);
        var seeds = new[] { AuthText("mutant"), $$$"""{"clientUuid":"mutant","handshakeCode":"216998-app","batchId":"b","records":[{"slice":"{{{ProtocolFixture.SliceNow()}}}","itemId":"Y","product":"DBR","count":1,"features":{"qr":1}}]}""" };
        var snippets = new[] { "\\ud800", "1e3", "-1", "1.5", "null", "[]", "{}", "\"\"", "99999999999999999999", "\"0001-01-01T00:00:00Z\"", "\"9999-12-31T23:59:59Z\"", "\"desktop\"", "\"10.x.y\"", "\" \"", "[[[[[[[[[[1]]]]]]]]]]" };
        var failures = new List<string>();
        // At least 200 requests, and as many more as DLS_FUZZ_SECONDS allows (docs/protocol.md, "Fuzzing").
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("DLS_FUZZ_SECONDS"), out var configured) && configured > 0 ? configured : 3;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 200 || clock.Elapsed < TimeSpan.FromSeconds(seconds); i++)
        {
            var path = i % 2 == 0 ? Auth : Reports;
            var body = Encoding.UTF8.GetBytes(seeds[i % 2]).ToList();
            for (var m = random.Next(1, 4); m > 0; m--)
            {
                var at = random.Next(body.Count + 1);
                switch (random.Next(4))
                {
                    case 0 when at < body.Count:
                        body[at] ^= (byte)(1 << random.Next(8));
                        break;
                    case 1:
                        body.RemoveRange(at, Math.Min(random.Next(1, 16), body.Count - at));
                        break;
                    default:
                        body.InsertRange(at, Encoding.UTF8.GetBytes(snippets[random.Next(snippets.Length)]));
                        break;
                }
            }

            var (status, _) = await SendAsync(host, new Case($"mutant {i}", HttpMethod.Post, path, [.. body]));
            if (status >= 500)
            {
                failures.Add($"{path} {Encoding.UTF8.GetString([.. body])}: HTTP {status}");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
        Assert.Equal(0, await host.TerminateAsync());
        NoStackTrace(host.Output);
    }

    private static async Task<ListenerHost> StartAsync()
    {
        var host = await ListenerHost.StartAsync();
        var store = host.OpenStore();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, "Y", LicenseMode.PerDeviceYearly, 1000, today.AddYears(-1), today.AddYears(1));
        TestCatalog.AddCode(store, "216998-app", ["Y"], isDefault: true);
        return host;
    }

    private static string AuthText(string client) => JsonSerializer.Serialize(ProtocolFixture.AuthBody(client, ("requestId", "r-1")));

    private static byte[] Splice(string text, string after, byte[] bad)
    {
        var at = text.IndexOf(after, StringComparison.Ordinal) + after.Length;
        return [.. Encoding.UTF8.GetBytes(text[..at]), .. bad, .. Encoding.UTF8.GetBytes(text[at..])];
    }

    /// <summary>The HTTP status and the JSON body if there is one; status 0 when the listener cut the connection instead.</summary>
    private static async Task<(int Status, JsonElement? Json)> SendAsync(ListenerHost host, Case hostile)
    {
        using var request = new HttpRequestMessage(hostile.Method, hostile.Path);
        if (hostile.Body is { } body)
        {
            request.Content = hostile.Chunked ? new StreamContent(new MemoryStream(body)) : new ByteArrayContent(body);
            request.Content.Headers.ContentType = null;
            if (hostile.ContentType is { } type)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
            }

            request.Headers.TransferEncodingChunked = hostile.Chunked;
            // A careful client's large upload waits for the go-ahead, so a 413 is answered before the body travels.
            request.Headers.ExpectContinue = body.Length > 64 * 1024;
        }

        try
        {
            using var response = await host.Http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            var json = response.Content.Headers.ContentType?.MediaType == "application/json" ? JsonDocument.Parse(text).RootElement.Clone() : (JsonElement?)null;
            return ((int)response.StatusCode, json);
        }
        catch (HttpRequestException)
        {
            return (0, null);
        }
    }

    /// <summary>Writes raw bytes on a socket and reads the answer's status; 0 when the connection closes without one.</summary>
    private static async Task<int> RawAsync(ListenerHost host, string request, bool closeSending, TimeSpan timeout)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, host.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request));
        if (closeSending)
        {
            client.Client.Shutdown(SocketShutdown.Send);
        }

        using var deadline = new CancellationTokenSource(timeout);
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, deadline.Token)) > 0)
            {
                answer.Append(Encoding.UTF8.GetString(buffer, 0, read));
            }
        }
        catch (IOException)
        {
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The listener neither answered nor closed the connection within {timeout}: {answer}");
        }

        var text = answer.ToString();
        return text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) ? int.Parse(text.AsSpan(9, 3)) : 0;
    }

    private static string Digest(ListenerHost host)
    {
        using var connection = host.OpenStore().OpenConnection();
        var text = new StringBuilder();
        foreach (var table in WrittenTables)
        {
            text.Append("## ").AppendLine(table).AppendLine(StoreDigest.Rows(connection, table));
        }

        return text.ToString();
    }

    private static void NoStackTrace(string log) => Assert.Empty(StackTraceLines(log));

    private static IEnumerable<string> StackTraceLines(string log) =>
        log.Split('\n').Where(line => line.Contains("   at ", StringComparison.Ordinal) || line.Contains("Exception", StringComparison.Ordinal)).Take(20);
}
