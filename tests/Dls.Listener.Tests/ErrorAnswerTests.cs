using System.Net;
using System.Text.Json;
using Dls.Core.Errors;
using Dls.Core.Storage;
using Dls.Listener.Endpoints;
using Dls.Listener.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Dls.Listener.Tests;

/// <summary>
/// Errors that no endpoint catches become their answers in one place (DlsExceptionHandler), through the listener's
/// real pipeline: a part of the home page that fails stands for any part of the listener that throws.
/// </summary>
public sealed class ErrorAnswerTests
{
    public static TheoryData<string, int, bool> StoreFailures => new()
    {
        // ErrorId, HTTP status, whether the answer says when to retry
        { ErrorIds.StoreBusy, 503, true },
        { ErrorIds.StoreUnavailable, 503, true },
        { ErrorIds.StoreReadOnly, 503, false },
        { ErrorIds.StoreFull, 503, false },
        { ErrorIds.StoreCorrupt, 503, false },
    };

    [Theory]
    [MemberData(nameof(StoreFailures))]
    public async Task A_store_that_cannot_be_used_is_answered_503_without_its_path_and_logged_once_with_its_error_id(string errorId, int status, bool retry)
    {
        var path = "/secret/place/dls.db";
        await using var host = InProcessListener.Start(services: s => s.AddSingleton<IHomeSection>(new Failing(() =>
            new DlsException(errorId, ErrorKindOf(errorId), $"The DLS store '{path}' failed.", path))));

        using var response = await host.Http.GetAsync("/");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(body);
        Assert.Equal(503, json.RootElement.GetProperty("errorCode").GetInt32());
        Assert.Equal(DlsExceptionHandler.StoreUnavailableMessage, json.RootElement.GetProperty("message").GetString());
        Assert.DoesNotContain(path, body);
        Assert.Equal(retry, response.Headers.RetryAfter is not null);
        if (retry)
        {
            Assert.Equal(DlsExceptionHandler.StoreRetryAfter, response.Headers.RetryAfter!.Delta);
        }

        var logged = Assert.Single(host.Log.Text.Split('\n'), line => line.Contains(errorId, StringComparison.Ordinal));
        Assert.Contains("503", logged);
        Assert.DoesNotContain("   at ", host.Log.Text);
    }

    [Fact]
    public async Task An_engine_failure_that_escaped_core_is_still_the_store_s_and_answered_503()
    {
        // SQLITE_BUSY (5), as a commit of the writer meets it while another process holds the store.
        await using var host = InProcessListener.Start(services: s => s.AddSingleton<IHomeSection>(new Failing(() =>
            new Microsoft.Data.Sqlite.SqliteException("database is locked", 5))));

        using var response = await host.Http.GetAsync("/");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(503, json.RootElement.GetProperty("errorCode").GetInt32());
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Contains(ErrorIds.StoreBusy, host.Log.Text);
    }

    [Fact]
    public async Task A_fault_of_the_listener_is_answered_500_with_a_generic_message_and_its_stack_trace_goes_to_the_log_once()
    {
        await using var host = InProcessListener.Start(services: s => s.AddSingleton<IHomeSection>(new Failing(() =>
            new InvalidOperationException("internal detail: the widget at 0x1234 broke"))));

        using var response = await host.Http.GetAsync("/");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        using var json = JsonDocument.Parse(body);
        Assert.Equal(500, json.RootElement.GetProperty("errorCode").GetInt32());
        Assert.Equal(DlsExceptionHandler.InternalErrorMessage, json.RootElement.GetProperty("message").GetString());
        Assert.DoesNotContain("widget", body);
        Assert.DoesNotContain(" at ", body);

        // One line says which request failed; the exception with its stack trace follows it, once.
        var log = host.Log.Text;
        Assert.Single(log.Split('\n'), line => line.Contains("answered 500", StringComparison.Ordinal));
        Assert.Single(log.Split('\n'), line => line.Contains("internal detail: the widget", StringComparison.Ordinal));
        Assert.Contains("   at ", log);

        // The listener goes on serving.
        using var health = await host.Http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Malformed_input_is_answered_by_the_handler_in_the_wire_format_and_not_logged()
    {
        await using var host = InProcessListener.Start();

        var (status, json) = await ProtocolFixture.PostRawAsync(host.Http, "api/v1/auth", "{\"clientUuid\": ");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(400, json.GetProperty("errorCode").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(json.GetProperty("message").GetString()));
        Assert.Equal(["errorCode", "message"], json.EnumerateObject().Select(p => p.Name));
        Assert.DoesNotContain("Exception", host.Log.Text);
    }

    private static DlsErrorKind ErrorKindOf(string errorId) => errorId switch
    {
        ErrorIds.StoreBusy or ErrorIds.StoreUnavailable => DlsErrorKind.ResourceUnavailable,
        ErrorIds.StoreReadOnly => DlsErrorKind.PermissionDenied,
        ErrorIds.StoreFull => DlsErrorKind.LimitsExceeded,
        _ => DlsErrorKind.InvalidData,
    };

    /// <summary>A home page section that throws what it is given.</summary>
    private sealed class Failing(Func<Exception> error) : IHomeSection
    {
        public string Render() => throw error();
    }
}
