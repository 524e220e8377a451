using System.Net;
using System.Text;
using Dls.Core;
using Dls.Core.Server;

namespace Dls.Listener.Endpoints;

/// <summary>The home page: what a person opening the listener's URL in a browser wants to know.</summary>
public static class HomeEndpoints
{
    public static IEndpointRouteBuilder MapHome(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/", (HttpContext http, ServerService server, ListenerStatusPage status) =>
        {
            var info = server.Get();
            return Results.Content(status.Render(info, ShowsDetails(info, http.Connection.RemoteIpAddress)), "text/html; charset=utf-8");
        });
        return routes;
    }

    /// <summary>
    /// Strangers see only what activation needs (SPEC §4): the organization and the license items are shown to
    /// clients on this machine, and to others only when the administrator turns it on (Set-DlsServer -PublicHomePage).
    /// </summary>
    public static bool ShowsDetails(ServerInfo server, IPAddress? client) =>
        server.PublicHomePage || (client is not null && IPAddress.IsLoopback(client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client));
}

/// <summary>Renders the home page; sections for licenses and usage are contributed by <see cref="IHomeSection"/>s.</summary>
public sealed class ListenerStatusPage(IEnumerable<IHomeSection> sections, TimeProvider time)
{
    private readonly DateTimeOffset _startedAt = time.GetUtcNow();

    /// <param name="everything">Whether to show the organization and the license items (else UUID, version and status only).</param>
    public string Render(ServerInfo server, bool everything = true)
    {
        static string E(string? text) => WebUtility.HtmlEncode(text ?? string.Empty);
        var html = new StringBuilder();
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>DLS license server</title>
            <style>
            body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1f2328}
            h1{font-size:1.5rem;margin-bottom:.25rem} h2{font-size:1.1rem;margin-top:2rem}
            table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #d0d7de}
            th{background:#f6f8fa;font-weight:600} code{font-size:1rem;background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}
            .ok{color:#1a7f37;font-weight:600} .muted{color:#656d76}
            </style></head><body>
            <h1>DLS license server</h1>
            <p class="muted">Self-hosted license tracking</p>
            <table>
            """);
        html.Append($"<tr><th>Server UUID</th><td><code id=\"uuid\">{E(server.Uuid)}</code></td></tr>");
        if (everything)
        {
            html.Append($"<tr><th>Organization</th><td id=\"organization\">{(server.OrganizationId.Length == 0 ? "<span class=\"muted\">not set</span>" : E(server.OrganizationId))}</td></tr>");
        }

        html.Append($"<tr><th>Role</th><td>{E(server.Role.ToString())}</td></tr>");
        html.Append($"<tr><th>Version</th><td id=\"version\">{E(DlsVersion.Current)}</td></tr>");
        html.Append($"<tr><th>Listener</th><td><span class=\"ok\">running</span> since {E(_startedAt.ToString("u"))}</td></tr>");
        html.Append("</table>");
        if (!everything)
        {
            html.Append("<p class=\"muted\" id=\"private\">License details are shown on this server's own machine only.</p>");
        }

        foreach (var section in everything ? sections : [])
        {
            html.Append(section.Render());
        }

        html.Append("</body></html>");
        return html.ToString();
    }
}

/// <summary>A block of the home page (license items at a glance, for instance), as already-encoded HTML.</summary>
public interface IHomeSection
{
    string Render();
}
