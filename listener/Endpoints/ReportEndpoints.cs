using Dls.Core.Protocol;
using Dls.Listener.Protocol;

namespace Dls.Listener.Endpoints;

/// <summary><c>POST /api/v1/reports</c>: a client's usage, up to 1000 records a batch (SPEC §4, docs/protocol.md).</summary>
public static class ReportEndpoints
{
    public sealed record ReportAnswerBody(int Accepted, int Duplicates, int Refused, IReadOnlyList<RefusedRecordBody> RefusedRecords, string HandshakeUpdateTime);

    /// <summary>A record counted for nothing, by its index in the batch; the client must not send it again.</summary>
    public sealed record RefusedRecordBody(int Index, int ErrorCode);

    /// <remarks>A plain request delegate over the one <see cref="ProtocolService"/>, as <see cref="AuthEndpoints.MapAuth"/> says why.</remarks>
    public static IEndpointRouteBuilder MapReports(this IEndpointRouteBuilder routes)
    {
        var protocol = routes.ServiceProvider.GetRequiredService<ProtocolService>();
        var answers = routes.ServiceProvider.GetRequiredService<ProtocolResults.JsonAnswers>();
        routes.MapPost("/api/v1/reports", (RequestDelegate)(http => ReportAsync(http, protocol, answers)));
        return routes;
    }

    /// <remarks>Malformed input and store failures are thrown, and answered by <see cref="Hosting.DlsExceptionHandler"/>.</remarks>
    private static async Task ReportAsync(HttpContext http, ProtocolService protocol, ProtocolResults.JsonAnswers answers)
    {
        var request = await ProtocolResults.ReadAsync(http, protocol, WireFormat.MaxReportBodyBytes, WireFormat.ReadReport, http.RequestAborted);

        // Not cancelled when the client goes away: once queued, the batch is either committed or not at all.
        var outcome = await protocol.ReportAsync(request, http.Connection.RemoteIpAddress, CancellationToken.None);

        var result = outcome.Answer is { } answer
            ? answers.Ok(
                new ReportAnswerBody(answer.Accepted, answer.Duplicates, answer.Refused, RefusedRecords(answer.RefusedRecords), AuthorizationSigner.WireTime(answer.HandshakeUpdateTime)))
            : answers.Error(outcome.Error!, outcome.RetryAfter);
        await result.ExecuteAsync(http);
    }

    private static RefusedRecordBody[] RefusedRecords(IReadOnlyList<RefusedRecord> refused)
    {
        if (refused.Count == 0)
        {
            return [];
        }

        var bodies = new RefusedRecordBody[refused.Count];
        for (var i = 0; i < bodies.Length; i++)
        {
            bodies[i] = new RefusedRecordBody(refused[i].Index, refused[i].ErrorCode);
        }

        return bodies;
    }
}
