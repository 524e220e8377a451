using Dls.Core.Protocol;
using Dls.Listener.Protocol;

namespace Dls.Listener.Endpoints;

/// <summary><c>POST /api/v1/reports</c>: a client's usage, up to 1000 records a batch (SPEC §4, docs/protocol.md).</summary>
public static class ReportEndpoints
{
    public sealed record ReportAnswerBody(int Accepted, int Duplicates, int Refused, IReadOnlyList<RefusedRecordBody> RefusedRecords, string HandshakeUpdateTime);

    /// <summary>A record counted for nothing, by its index in the batch; the client must not send it again.</summary>
    public sealed record RefusedRecordBody(int Index, int ErrorCode);

    public static IEndpointRouteBuilder MapReports(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/v1/reports", ReportAsync);
        return routes;
    }

    /// <remarks>Malformed input and store failures are thrown, and answered by <see cref="Hosting.DlsExceptionHandler"/>.</remarks>
    private static async Task<IResult> ReportAsync(HttpContext http, ProtocolService protocol, CancellationToken cancellationToken)
    {
        var request = await ProtocolResults.ReadAsync(http, protocol, WireFormat.MaxReportBodyBytes, WireFormat.ReadReport, cancellationToken);

        // Not cancelled when the client goes away: once queued, the batch is either committed or not at all.
        var outcome = await protocol.ReportAsync(request, http.Connection.RemoteIpAddress, CancellationToken.None);

        return outcome.Answer is { } answer
            ? Results.Json(new ReportAnswerBody(
                answer.Accepted,
                answer.Duplicates,
                answer.Refused,
                answer.RefusedRecords.Select(r => new RefusedRecordBody(r.Index, r.ErrorCode)).ToList(),
                AuthorizationSigner.WireTime(answer.HandshakeUpdateTime)))
            : ProtocolResults.Error(outcome.Error!, outcome.RetryAfter);
    }
}
