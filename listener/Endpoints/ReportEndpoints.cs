using Dls.Core.Protocol;
using Dls.Listener.Protocol;

namespace Dls.Listener.Endpoints;

/// <summary><c>POST /api/v1/reports</c>: a client's usage, up to 1000 records a batch (SPEC §4, docs/protocol.md).</summary>
public static class ReportEndpoints
{
    public sealed record ReportAnswerBody(int Accepted, int Duplicates, string HandshakeUpdateTime);

    public static IEndpointRouteBuilder MapReports(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/v1/reports", ReportAsync);
        return routes;
    }

    private static async Task<IResult> ReportAsync(HttpContext http, ProtocolService protocol, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        ReportRequest request;
        try
        {
            using var body = await ProtocolResults.ReadBodyAsync(http, WireFormat.MaxReportBodyBytes, cancellationToken);
            request = WireFormat.ReadReport(body.Memory);
        }
        catch (ProtocolException error)
        {
            return ProtocolResults.Error(error.ToError());
        }

        ReportOutcome outcome;
        try
        {
            // Not cancelled when the client goes away: once queued, the batch is either committed or not at all.
            outcome = await protocol.ReportAsync(request, CancellationToken.None);
        }
        catch (Exception error) when (error is Microsoft.Data.Sqlite.SqliteException or Core.Errors.DlsException)
        {
            return ProtocolResults.StoreUnavailable(loggers.CreateLogger("Dls.Listener.Reports"), error);
        }

        return outcome.Answer is { } answer
            ? Results.Json(new ReportAnswerBody(answer.Accepted, answer.Duplicates, AuthorizationSigner.WireTime(answer.HandshakeUpdateTime)))
            : ProtocolResults.Error(outcome.Error!);
    }
}
