// Bare Kestrel: POST /api/v1/auth and /api/v1/reports read the whole body and answer 200 with a fixed JSON body.
// bench/Dls.Bench drives it side by side with the listener, so the listener's rate reads as a fraction of what the
// web server alone does on the same cores with the same client. Takes --urls like the listener (port 0 for any).
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
// No logging at all: the listener also turns off ASP.NET Core's per-request lines, and here nothing else would log.
builder.Logging.ClearProviders();
// The listener sends no Server header either; the answers should cost the same bytes of framing.
builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
if (string.IsNullOrEmpty(builder.Configuration["urls"]))
{
    builder.WebHost.UseUrls("http://127.0.0.1:48081");
}

var app = builder.Build();
app.MapPost("/api/v1/auth", (HttpContext http) => Answer(http, FixedAnswers.Auth));
app.MapPost("/api/v1/reports", (HttpContext http) => Answer(http, FixedAnswers.Report));

await app.StartAsync();
// The same announcement shape as the listener's, read back by the bench (port 0 becomes the bound port here).
foreach (var address in app.Urls)
{
    Console.WriteLine($"bare Kestrel serving {address.TrimEnd('/')}/ (process {Environment.ProcessId})");
}

await app.WaitForShutdownAsync();
return 0;

static async Task Answer(HttpContext http, byte[] body)
{
    // Read the body to its end, as the listener must before it can parse it; the bytes are dropped.
    var reader = http.Request.BodyReader;
    while (true)
    {
        var read = await reader.ReadAsync();
        reader.AdvanceTo(read.Buffer.End);
        if (read.IsCompleted)
        {
            break;
        }
    }

    http.Response.StatusCode = StatusCodes.Status200OK;
    http.Response.ContentType = "application/json";
    http.Response.ContentLength = body.Length;
    await http.Response.Body.WriteAsync(body);
}

/// <summary>Answers shaped like the listener's, fixed: nothing is computed per request.</summary>
internal static class FixedAnswers
{
    public static readonly byte[] Auth = "{\"itemId\":\"DEV\",\"mode\":\"PerDeviceYearly\",\"reportIntervalSeconds\":180}"u8.ToArray();

    public static readonly byte[] Report = "{\"accepted\":0,\"duplicates\":0,\"refused\":0,\"refusedRecords\":[]}"u8.ToArray();
}
