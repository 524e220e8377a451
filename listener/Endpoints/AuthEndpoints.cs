using System.Text.Json.Serialization;
using Dls.Core.Protocol;
using Dls.Listener.Protocol;

namespace Dls.Listener.Endpoints;

/// <summary><c>POST /api/v1/auth</c>: may this client run? (SPEC §4, docs/protocol.md)</summary>
public static class AuthEndpoints
{
    public sealed record AuthAnswer(
        string Authorization,
        string ItemId,
        string Mode,
        string GrantedUntil,
        string CacheUntil,
        int ReportIntervalSeconds,
        string HandshakeUpdateTime,
        string ServerTime,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Warning);

    /// <remarks>
    /// A plain request delegate over the one <see cref="ProtocolService"/>: no parameter binding and no per-request
    /// service scope, which a handler with injected parameters costs on every call of the hottest endpoint.
    /// </remarks>
    public static IEndpointRouteBuilder MapAuth(this IEndpointRouteBuilder routes)
    {
        var protocol = routes.ServiceProvider.GetRequiredService<ProtocolService>();
        var answers = routes.ServiceProvider.GetRequiredService<ProtocolResults.JsonAnswers>();
        routes.MapPost("/api/v1/auth", (RequestDelegate)(http => AuthorizeAsync(http, protocol, answers)));
        return routes;
    }

    /// <remarks>Malformed input and store failures are thrown, and answered by <see cref="Hosting.DlsExceptionHandler"/>.</remarks>
    private static async Task AuthorizeAsync(HttpContext http, ProtocolService protocol, ProtocolResults.JsonAnswers answers)
    {
        var request = await ProtocolResults.ReadAsync(http, protocol, WireFormat.MaxAuthBodyBytes, WireFormat.ReadAuth, http.RequestAborted);
        var outcome = await protocol.AuthorizeAsync(request, http.Connection.RemoteIpAddress, CancellationToken.None);

        if (outcome.Grant is not { } grant)
        {
            await answers.Error(outcome.Error!, outcome.RetryAfter).ExecuteAsync(http);
            return;
        }

        await answers.Ok(
            new AuthAnswer(
                protocol.Signer.Sign(grant, request.ClientUuid),
                grant.ItemId,
                grant.Mode.ToString(),
                AuthorizationSigner.WireTime(grant.GrantedUntil),
                AuthorizationSigner.WireTime(grant.CacheUntil),
                grant.ReportIntervalSeconds,
                AuthorizationSigner.WireTime(grant.HandshakeUpdateTime),
                AuthorizationSigner.WireTime(grant.ServerTime),
                grant.Warning)).ExecuteAsync(http);
    }
}
