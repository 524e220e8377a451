using Dls.Core;
using Dls.Core.Server;

namespace Dls.Listener.Endpoints;

/// <summary>
/// <c>GET /healthz</c> (SPEC §4): <c>{status, uuid, role, version, storeOk, serving}</c>, 200 when the listener can serve
/// and 503 when its store cannot be used. <c>role</c> is this listener's (<c>--role</c>, SPEC §7); <c>serving</c> says
/// whether it answers auth and report requests now (false: a standby while a main listener of its store is alive; it
/// is healthy, and takes over when the main dies). Reporting a failing store is this endpoint's answer, not an error, so it is decided
/// here rather than in <see cref="Hosting.DlsExceptionHandler"/>.
/// </summary>
public static class HealthEndpoints
{
    public sealed record Health(string Status, string? Uuid, string? Role, string Version, bool StoreOk, bool Serving);

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/healthz", (ServerService server, Hosting.ServingState state, ILoggerFactory loggers) =>
        {
            try
            {
                var info = server.Get();
                return Results.Json(new Health("ok", info.Uuid, state.Role.ToString(), DlsVersion.Current, true, state.Serving));
            }
            catch (Core.Errors.DlsException error)
            {
                loggers.CreateLogger("Dls.Listener.Health").LogWarning("Health check failed: the store cannot be read: {ErrorId}: {Message}", error.ErrorId, error.Message);
                return Results.Json(new Health("unavailable", null, state.Role.ToString(), DlsVersion.Current, false, false), statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });
        return routes;
    }
}
