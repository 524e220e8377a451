using Dls.Core;
using Dls.Core.Server;

namespace Dls.Listener.Endpoints;

/// <summary>
/// <c>GET /healthz</c> (SPEC §4): <c>{status, uuid, role, version, storeOk}</c>, 200 when the listener can serve and 503
/// when its store cannot be used. Reporting a failing store is this endpoint's answer, not an error, so it is decided
/// here rather than in <see cref="Hosting.DlsExceptionHandler"/>.
/// </summary>
public static class HealthEndpoints
{
    public sealed record Health(string Status, string? Uuid, string? Role, string Version, bool StoreOk);

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/healthz", (ServerService server, ILoggerFactory loggers) =>
        {
            try
            {
                var info = server.Get();
                return Results.Json(new Health("ok", info.Uuid, info.Role.ToString(), DlsVersion.Current, true));
            }
            catch (Core.Errors.DlsException error)
            {
                loggers.CreateLogger("Dls.Listener.Health").LogWarning("Health check failed: the store cannot be read: {ErrorId}: {Message}", error.ErrorId, error.Message);
                return Results.Json(new Health("unavailable", null, null, DlsVersion.Current, false), statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });
        return routes;
    }
}
