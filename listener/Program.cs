using Dls.Core.Errors;
using Dls.Core.Listeners;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Listener;
using Dls.Listener.Endpoints;
using Dls.Listener.Hosting;
using Dls.Listener.Protocol;
using Microsoft.Extensions.Options;

// Composition only: options, services, endpoints. The rules live in core.
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory,
});
builder.Configuration.AddCommandLine(args, new Dictionary<string, string>
{
    ["--store"] = "Dls:StorePath",
    ["--log-format"] = "Dls:LogFormat",
    ["--certificate"] = "Dls:CertificatePath",
    ["--certificate-key"] = "Dls:CertificateKeyPath",
    ["--role"] = "Dls:Role",
});
var urls = builder.Configuration["urls"];
if (string.IsNullOrEmpty(urls))
{
    urls = "http://127.0.0.1:48080";
    builder.WebHost.UseUrls(urls);
}

var options = builder.Configuration.GetSection(ListenerOptions.Section).Get<ListenerOptions>() ?? new ListenerOptions();
if (!ServingState.TryParseRole(options.Role, out _))
{
    Console.Error.WriteLine($"dls-listener: --role must be Main or Standby, not '{options.Role}'.");
    return 2;
}

// Under systemd (a Type=notify unit, docs/operations.md): READY=1 once serving, STOPPING=1 on SIGTERM. Before the
// console format below, which it would otherwise replace. Does nothing when systemd is not the parent.
builder.Services.AddSystemd();
builder.Logging.ClearProviders();
// Per-request lines from ASP.NET Core would cost more than the request on the hot path; DLS logs what matters itself.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
// DlsExceptionHandler logs what an administrator needs once; the middleware's own line would repeat it with a stack trace.
builder.Logging.AddFilter("Microsoft.AspNetCore.Diagnostics.ExceptionHandlerMiddleware", LogLevel.None);
if (string.Equals(options.LogFormat, "json", StringComparison.OrdinalIgnoreCase))
{
    builder.Logging.AddJsonConsole(o => o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ");
}
else
{
    builder.Logging.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.UseUtcTimestamp = true;
        o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
    });
}

builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Limits.MaxRequestBodySize = ListenerLimits.MaxRequestBodyBytes;
    kestrel.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
    kestrel.Limits.MaxRequestLineSize = 8 * 1024;
    kestrel.Limits.MaxConcurrentConnections = ListenerLimits.MaxConnections;
    kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(15);
    kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(2);
    // A client that trickles its body slower than this is cut off rather than holding a connection.
    kestrel.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(240, TimeSpan.FromSeconds(5));
    kestrel.Limits.Http2.MaxStreamsPerConnection = 100;
});
if (!builder.WebHost.UseDlsHttps(options, urls, Console.Error))
{
    return 2;
}

builder.Services.AddSingleton(TimeProvider.System);
// The store and the options come from configuration when the host is built, so a test host (WebApplicationFactory)
// can give its own; the store is opened and checked below, before anything listens.
builder.Services.AddOptions<ListenerOptions>().BindConfiguration(ListenerOptions.Section);
builder.Services.AddSingleton(provider => DlsStore.Open(provider.GetRequiredService<IOptions<ListenerOptions>>().Value.StorePath));
builder.Services.AddSingleton<ServerService>();
builder.Services.AddSingleton<ListenerRegistry>();
builder.Services.AddSingleton(provider => ServingState.For(
    provider.GetRequiredService<IOptions<ListenerOptions>>().Value.Role, provider.GetRequiredService<ServerService>()));
builder.Services.AddSingleton<ListenerTasks>();
builder.Services.AddSingleton<ListenerStatusPage>();
builder.Services.AddSingleton<Dls.Listener.Protection.AbuseGuard>();
builder.Services.AddHostedService<ProtectionSettingsService>();
builder.Services.AddSingleton<ProtocolService>();
builder.Services.AddSingleton<IHomeSection, LicenseItemsSection>();
builder.Services.AddSingleton<ListenerRegistration>();
builder.Services.AddHostedService(provider => provider.GetRequiredService<ListenerRegistration>());
builder.Services.AddHostedService<ListenerHeartbeat>();
builder.Services.AddHostedService<AlertService>();
builder.Services.AddSingleton<Dls.Core.Usage.UsageRetention>();
builder.Services.AddHostedService<RetentionService>();
builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(10));
builder.Services.AddExceptionHandler<DlsExceptionHandler>();
// Answers and error bodies (Results.Json, WriteAsJsonAsync) are serialized by generated code, not by reflection.
builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, ListenerJsonContext.Default));
builder.Services.AddSingleton(services => new ProtocolResults.JsonAnswers(services.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions));
// As a Windows service: answers the service control manager and logs to the Event Log. Does nothing elsewhere.
builder.Services.AddWindowsService();

var app = builder.Build();
try
{
    // Open the store, check the signing key (sealed with the key file beside the store) and start the writer now,
    // so a missing store or a foreign key file is said here, in one line, not as a stack trace of the first request.
    var server = app.Services.GetRequiredService<ServerService>();
    server.Get();
    server.LoadSigningKey().Dispose();
    app.Services.GetRequiredService<ProtocolService>();
}
catch (DlsException error)
{
    Console.Error.WriteLine($"dls-listener: {error.Message}");
    return 2;
}

// Every error becomes its answer in DlsExceptionHandler; the empty pipeline is the middleware's required fallback.
app.UseExceptionHandler(static _ => { });
app.MapHealth();
app.MapHome();
app.MapAuth();
app.MapReports();
app.MapOpenApi();

try
{
    await app.RunAsync();
    return 0;
}
catch (IOException error) when (error.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException || error.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
{
    Console.Error.WriteLine($"dls-listener: cannot listen on {urls}: {error.Message}");
    return 3;
}

/// <summary>The listener's entry point; public so that tests can host it in their own process (WebApplicationFactory).</summary>
public partial class Program;
