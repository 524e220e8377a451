using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dls.Core.Crypto;
using static Dls.Listener.Tests.ProtocolFixture;

namespace Dls.Listener.Tests;

/// <summary>The SDK protocol against the listener's own pipeline, hosted in the test process (SPEC §4, docs/protocol.md).</summary>
public sealed class ProtocolTests(ProtocolFixture fixture) : IClassFixture<ProtocolFixture>
{
    private InProcessListener Host => fixture.Host;

    public static TheoryData<string, int, int> Refusals => new()
    {
        // name, HTTP status, errorCode
        { "unknown code", 404, 101 },
        { "wrong password", 401, 102 },
        { "missing password", 401, 102 },
        { "domain not allowed", 403, 103 },
        { "no matching item", 404, 104 },
        { "expired", 403, 111 },
        { "not yet effective", 403, 112 },
        { "revoked", 403, 113 },
        { "device quota", 409, 120 },
        { "no default code", 404, 121 },
        { "code of another organization", 403, 122 },
        { "neither code nor organization", 400, 123 },
        { "scan quota", 409, 130 },
        { "clone", 409, 151 },
        { "missing clientUuid", 400, 400 },
        { "unknown deployment", 400, 400 },
        { "version is a number", 400, 400 },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Each_refusal_has_its_error_code_and_http_status(string name, int status, int errorCode)
    {
        var client = $"{name.Replace(' ', '-')}-{Guid.NewGuid():N}";
        var body = name switch
        {
            "unknown code" => AuthBody(client, ("handshakeCode", "216998-nope")),
            "wrong password" => AuthBody(client, ("handshakeCode", "216998-locked"), ("sessionPassword", "nope")),
            "missing password" => AuthBody(client, ("handshakeCode", "216998-locked")),
            "domain not allowed" => AuthBody(client, ("handshakeCode", "216998-web"), ("deployment", "Browser"), ("product", "DOM"), ("domain", "evil.org")),
            "no matching item" => AuthBody(client, ("product", "DWT")),
            "expired" => AuthBody(client, ("product", "OLD")),
            "not yet effective" => AuthBody(client, ("product", "FUT")),
            "revoked" => AuthBody(client, ("product", "RVK")),
            "device quota" => AuthBody(client, ("product", "ONE")),
            "no default code" => AuthBody(client, ("handshakeCode", null), ("organizationId", "777")),
            "code of another organization" => AuthBody(client, ("handshakeCode", "777-x"), ("organizationId", "216998")),
            "neither code nor organization" => AuthBody(client, ("handshakeCode", null)),
            "scan quota" => AuthBody(client, ("product", "SCN")),
            "clone" => AuthBody(client, ("os", "Windows")),
            "missing clientUuid" => AuthBody(client, ("clientUuid", null)),
            "unknown deployment" => AuthBody(client, ("deployment", "Toaster")),
            "version is a number" => AuthBody(client, ("version", 10)),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
        switch (name)
        {
            case "device quota":
                var (taken, _) = await PostAsync(Host.Http, "api/v1/auth", AuthBody("the-one-" + client, ("product", "ONE")));
                Assert.True(taken == HttpStatusCode.OK || taken == HttpStatusCode.Conflict);
                break;
            case "scan quota":
                await AuthorizeAsync(Host.Http, "scanner-" + client, "SCN");
                var (reported, _) = await PostAsync(Host.Http, "api/v1/reports", Report("scanner-" + client, Guid.NewGuid().ToString(), "216998-app", ("SCAN", 11)));
                Assert.Equal(HttpStatusCode.OK, reported);
                break;
            case "clone":
                var (first, _) = await PostAsync(Host.Http, "api/v1/auth", AuthBody(client, ("os", "Linux")));
                Assert.Equal(HttpStatusCode.OK, first);
                break;
        }

        var (actual, json) = await PostAsync(Host.Http, "api/v1/auth", body);

        Assert.Equal(status, (int)actual);
        Assert.Equal(errorCode, json.GetProperty("errorCode").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(json.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task A_grant_carries_a_token_that_verifies_with_the_server_public_key()
    {
        var client = $"verify-{Guid.NewGuid():N}";
        var (status, json) = await PostAsync(Host.Http, "api/v1/auth", AuthBody(client, ("sessionPassword", "pw"), ("handshakeCode", "216998-locked")));

        Assert.Equal(HttpStatusCode.OK, status);
        var token = json.GetProperty("authorization").GetString()!;
        var parts = token.Split('.');
        Assert.Equal(3, parts.Length);
        using var key = ECDsa.Create();
        key.ImportFromPem(Host.Server.PublicKey);
        Assert.True(key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.Decode(parts[2]), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        using var header = JsonDocument.Parse(Base64Url.Decode(parts[0]));
        Assert.Equal("ES256", header.RootElement.GetProperty("alg").GetString());
        using var claims = JsonDocument.Parse(Base64Url.Decode(parts[1]));
        var c = claims.RootElement;
        Assert.Equal(client, c.GetProperty("clientUuid").GetString());
        Assert.Equal(Host.Server.Uuid, c.GetProperty("serverUuid").GetString());
        foreach (var field in new[] { "itemId", "mode", "grantedUntil", "cacheUntil", "handshakeUpdateTime", "serverTime" })
        {
            Assert.Equal(json.GetProperty(field).GetString(), c.GetProperty(field).GetString());
        }

        Assert.Equal("Y", json.GetProperty("itemId").GetString());
        Assert.Equal("PerDeviceYearly", json.GetProperty("mode").GetString());
        Assert.Equal(180, json.GetProperty("reportIntervalSeconds").GetInt32());
        var serverTime = json.GetProperty("serverTime").GetDateTimeOffset();
        Assert.Equal(serverTime.AddDays(7), json.GetProperty("cacheUntil").GetDateTimeOffset());
        Assert.False(json.TryGetProperty("warning", out _));

        // A changed byte breaks the signature.
        var tampered = Base64Url.Decode(parts[1]);
        tampered[10] ^= 1;
        Assert.False(key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + Base64Url.Encode(tampered)), Base64Url.Decode(parts[2]), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
    }

    [Fact]
    public async Task An_item_in_grace_grants_with_a_warning()
    {
        var (status, json) = await PostAsync(Host.Http, "api/v1/auth", AuthBody($"grace-{Guid.NewGuid():N}", ("product", "GRC")));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("grace", json.GetProperty("warning").GetString());
    }

    [Fact]
    public async Task A_re_sent_report_batch_is_answered_200_with_every_record_a_duplicate()
    {
        var client = $"reporter-{Guid.NewGuid():N}";
        await AuthorizeAsync(Host.Http, client);
        var batch = Report(client, "batch-1", "216998-app", ("Y", 3), ("Y", 4));

        var (first, firstJson) = await PostAsync(Host.Http, "api/v1/reports", batch);
        var (again, againJson) = await PostAsync(Host.Http, "api/v1/reports", batch);
        var (next, nextJson) = await PostAsync(Host.Http, "api/v1/reports", Report(client, "batch-2", "216998-app", ("Y", 5)));

        Assert.Equal((HttpStatusCode.OK, 2, 0), (first, firstJson.GetProperty("accepted").GetInt32(), firstJson.GetProperty("duplicates").GetInt32()));
        Assert.Equal((HttpStatusCode.OK, 0, 2), (again, againJson.GetProperty("accepted").GetInt32(), againJson.GetProperty("duplicates").GetInt32()));
        Assert.Equal((HttpStatusCode.OK, 1, 0), (next, nextJson.GetProperty("accepted").GetInt32(), nextJson.GetProperty("duplicates").GetInt32()));
        Assert.True(firstJson.TryGetProperty("handshakeUpdateTime", out _));
        Assert.Equal(12, RawRecordsOf(client).Sum(r => r.Count));
    }

    [Fact]
    public async Task A_report_for_an_unknown_code_is_refused_101()
    {
        var (status, json) = await PostAsync(Host.Http, "api/v1/reports", Report("r", "b", "216998-nope", ("Y", 1)));
        Assert.Equal((HttpStatusCode.NotFound, 101), (status, json.GetProperty("errorCode").GetInt32()));
    }

    [Fact]
    public async Task A_1001_record_batch_is_refused_413_and_records_nothing_while_1000_are_accepted()
    {
        var client = $"big-{Guid.NewGuid():N}";
        await AuthorizeAsync(Host.Http, client);
        var (tooMany, json) = await PostAsync(Host.Http, "api/v1/reports", Report(client, "b1", "216998-app", Enumerable.Repeat(("Y", 1L), 1001).ToArray()));
        Assert.Equal((HttpStatusCode.RequestEntityTooLarge, 413), (tooMany, json.GetProperty("errorCode").GetInt32()));
        Assert.Empty(RawRecordsOf(client));

        var (ok, okJson) = await PostAsync(Host.Http, "api/v1/reports", Report(client, "b1", "216998-app", Enumerable.Repeat(("Y", 1L), 1000).ToArray()));
        Assert.Equal((HttpStatusCode.OK, 1000), (ok, okJson.GetProperty("accepted").GetInt32()));
        Assert.Equal(1000, RawRecordsOf(client).Count);
    }

    [Theory]
    [InlineData("api/v1/reports", 5 * 1024 * 1024)]
    [InlineData("api/v1/auth", 17 * 1024)]
    public async Task An_oversized_body_is_refused_413_and_the_listener_stays_healthy(string path, int size)
    {
        var body = "{\"clientUuid\":\"" + new string('x', size) + "\"}";

        // Expect: 100-continue, as a careful client sends a large body: the listener answers 413 before the body
        // travels. (Without it the answer can race the upload and the client sees its connection closed mid-send.)
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        using var response = await Host.Http.SendAsync(request);
        var status = response.StatusCode;
        var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal(413, json.GetProperty("errorCode").GetInt32());
        using var health = await Host.Http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Theory]
    [InlineData("api/v1/auth", "{\"clientUuid\": ")]
    [InlineData("api/v1/auth", "not json")]
    [InlineData("api/v1/auth", "[1, 2]")]
    [InlineData("api/v1/auth", "")]
    [InlineData("api/v1/auth", "{\"a\":[[[[[[[[[[[[1]]]]]]]]]]]]}")]
    [InlineData("api/v1/reports", "{\"clientUuid\":\"c\",\"handshakeCode\":\"216998-app\",\"batchId\":\"b\",\"records\":[{\"slice\":\"yesterday\",\"itemId\":\"Y\",\"product\":\"DBR\",\"count\":1}]}")]
    [InlineData("api/v1/reports", "{\"clientUuid\":\"c\",\"handshakeCode\":\"216998-app\",\"batchId\":\"b\",\"records\":[{\"slice\":\"2026-01-01T00:00:00Z\",\"itemId\":\"Y\",\"product\":\"DBR\",\"count\":-1}]}")]
    [InlineData("api/v1/reports", "{\"clientUuid\":\"c\",\"handshakeCode\":\"216998-app\",\"batchId\":\"b\",\"records\":{}}")]
    [InlineData("api/v1/reports", "{\"clientUuid\":\"c\",\"handshakeCode\":\"216998-app\",\"batchId\":\"b\",\"records\":[{\"slice\":\"2099-01-01T00:00:00Z\",\"itemId\":\"Y\",\"product\":\"DBR\",\"count\":1}]}")]
    public async Task Malformed_input_is_refused_400_and_writes_nothing(string path, string body)
    {
        var before = Dls.Core.Usage.RawUsage.Batches(Host.OpenStore()).Count;
        var (status, json) = await PostRawAsync(Host.Http, path, body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(400, json.GetProperty("errorCode").GetInt32());
        Assert.Equal(before, Dls.Core.Usage.RawUsage.Batches(Host.OpenStore()).Count);
    }

    [Fact]
    public async Task Malformed_messages_name_the_field()
    {
        var (_, json) = await PostAsync(Host.Http, "api/v1/auth", AuthBody("x", ("clientUuid", null)));
        Assert.Contains("clientUuid", json.GetProperty("message").GetString());
        var (_, typeJson) = await PostAsync(Host.Http, "api/v1/auth", AuthBody("x", ("instanceCount", "many")));
        Assert.Contains("instanceCount", typeJson.GetProperty("message").GetString());
    }

    [Fact]
    public async Task The_openapi_document_describes_both_endpoints()
    {
        using var response = await Host.Http.GetAsync("openapi.json");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("3.", json.RootElement.GetProperty("openapi").GetString());
        var paths = json.RootElement.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/v1/auth", out _));
        Assert.True(paths.TryGetProperty("/api/v1/reports", out _));
    }

    [Fact]
    public async Task The_home_page_lists_the_license_items_with_use_and_status()
    {
        var html = await Host.Http.GetStringAsync("/");

        Assert.Contains("License items", html);
        Assert.Contains("<code>REV</code>", html);
        Assert.Contains("Revoked", html);
        Assert.Contains("NotYetEffective", html);
        Assert.Contains("PerScan", html);
    }

    /// <summary>The raw records the store keeps for the client (every batch it acknowledged).</summary>
    private List<Dls.Core.Usage.RawUsageRecord> RawRecordsOf(string client) =>
        Dls.Core.Usage.RawUsage.Batches(Host.OpenStore()).Where(b => b.ClientUuid == client).SelectMany(b => b.Records).ToList();
}
