namespace Dls.Listener.Endpoints;

/// <summary>
/// <c>GET /openapi.json</c>: the OpenAPI 3 description of the SDK protocol, written by hand next to
/// docs/protocol.md and embedded in the listener (document generation needs .NET 9; the listener targets .NET 8).
/// </summary>
public static class OpenApiEndpoints
{
    private static readonly Lazy<byte[]> Document = new(() =>
    {
        using var stream = typeof(OpenApiEndpoints).Assembly.GetManifestResourceStream("Dls.Listener.openapi.json")
            ?? throw new InvalidOperationException("openapi.json is not embedded in the listener.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    public static IEndpointRouteBuilder MapOpenApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/openapi.json", () => Results.Bytes(Document.Value, "application/json"));
        return routes;
    }
}
