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

    public static IEndpointRouteBuilder MapAuth(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/v1/auth", AuthorizeAsync);
        return routes;
    }

    /// <remarks>Malformed input and store failures are thrown, and answered by <see cref="Hosting.DlsExceptionHandler"/>.</remarks>
    private static async Task<IResult> AuthorizeAsync(HttpContext http, ProtocolService protocol, CancellationToken cancellationToken)
    {
        var request = await ProtocolResults.ReadAsync(http, protocol, WireFormat.MaxAuthBodyBytes, WireFormat.ReadAuth, cancellationToken);
        var outcome = await protocol.AuthorizeAsync(request, http.Connection.RemoteIpAddress, CancellationToken.None);

        if (outcome.Grant is not { } grant)
        {
            return ProtocolResults.Error(outcome.Error!, outcome.RetryAfter);
        }

        return Results.Json(new AuthAnswer(
            protocol.Signer.Sign(grant, request.ClientUuid),
            grant.ItemId,
            grant.Mode.ToString(),
            AuthorizationSigner.WireTime(grant.GrantedUntil),
            AuthorizationSigner.WireTime(grant.CacheUntil),
            grant.ReportIntervalSeconds,
            AuthorizationSigner.WireTime(grant.HandshakeUpdateTime),
            AuthorizationSigner.WireTime(grant.ServerTime),
            grant.Warning));
    }
}
