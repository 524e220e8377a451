using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Dls.Listener.Endpoints;
using Dls.Listener.Protocol;
using static Dls.Listener.Tests.ProtocolFixture;

namespace Dls.Listener.Tests;

/// <summary>
/// The answers are written by generated serializers into the response in one piece; these hold every body to the
/// bytes the reflection serializer with the web defaults (what <c>Results.Json</c> used before) gives for the same
/// values, field order, casing and left-out nulls included, and the headers to what clients got before.
/// </summary>
public sealed class AnswerFormatTests(ProtocolFixture fixture) : IClassFixture<ProtocolFixture>
{
    // What Results.Json and WriteAsJsonAsync serialize with by default: the web defaults and ASP.NET Core's relaxed
    // escaping (a quote or an accent is written as itself, not as \u0027).
    private static readonly JsonSerializerOptions Reflection = new(JsonSerializerDefaults.Web) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private InProcessListener Host => fixture.Host;

    [Fact]
    public async Task A_grant_is_the_json_it_was()
    {
        var text = await PostOkAsync("api/v1/auth", AuthBody($"format-{Guid.NewGuid():N}"));

        Assert.Equal(
            ["authorization", "itemId", "mode", "grantedUntil", "cacheUntil", "reportIntervalSeconds", "handshakeUpdateTime", "serverTime"],
            Names(text));
        Assert.Equal(Reserialized<AuthEndpoints.AuthAnswer>(text), text);
    }

    [Fact]
    public async Task A_grant_with_a_warning_is_the_json_it_was()
    {
        var text = await PostOkAsync("api/v1/auth", AuthBody($"format-grace-{Guid.NewGuid():N}", ("product", "GRC")));

        Assert.Equal("warning", Names(text)[^1]);
        Assert.Equal(Reserialized<AuthEndpoints.AuthAnswer>(text), text);
    }

    [Fact]
    public async Task A_report_answer_with_refused_records_is_the_json_it_was()
    {
        var client = $"format-report-{Guid.NewGuid():N}";
        await AuthorizeAsync(Host.Http, client);

        var text = await PostOkAsync("api/v1/reports", Report(client, Guid.NewGuid().ToString(), "216998-app", ("Y", 2), ("NO-SUCH-ITEM", 1)));

        Assert.Equal(["accepted", "duplicates", "refused", "refusedRecords", "handshakeUpdateTime"], Names(text));
        using var json = JsonDocument.Parse(text);
        Assert.Equal(["index", "errorCode"], json.RootElement.GetProperty("refusedRecords")[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal(Reserialized<ReportEndpoints.ReportAnswerBody>(text), text);
    }

    [Theory]
    [InlineData("""{"clientUuid":"c","product":"DBR","version":"1","deployment":"Desktop","requestId":"r","handshakeCode":"216998-nope"}""", 404)]
    [InlineData("""{"clientUuid":"c","product":"DBR","version":"1","deployment":"Toaster","requestId":"r"}""", 400)]
    [InlineData("""{"clientUuid":"c", "clientUuid":"d"}""", 400)]
    public async Task Error_answers_are_the_json_they_were(string body, int status)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await Host.Http.PostAsync("api/v1/auth", content);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(["errorCode", "message"], Names(text));
        Assert.Equal(Reserialized<ProtocolResults.ErrorAnswer>(text), text);
    }

    private async Task<string> PostOkAsync(string path, object body)
    {
        using var response = await Host.Http.PostAsJsonAsync(path, body);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, Encoding.UTF8.GetString(bytes));
        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        return Encoding.UTF8.GetString(bytes);
    }

    private static string[] Names(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
    }

    private static string Reserialized<T>(string json) => JsonSerializer.Serialize(JsonSerializer.Deserialize<T>(json, Reflection), Reflection);
}
