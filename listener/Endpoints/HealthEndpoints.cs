using Dls.Core;
using Dls.Core.Server;

namespace Dls.Listener.Endpoints;

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
            catch (Exception error) when (error is Core.Errors.DlsException or Microsoft.Data.Sqlite.SqliteException)
            {
                loggers.CreateLogger("Dls.Listener.Health").LogWarning(error, "Health check failed: the store cannot be read");
                return Results.Json(new Health("unavailable", null, null, DlsVersion.Current, false), statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });
        return routes;
    }
}
