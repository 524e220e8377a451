using Dls.Core.Errors;
using Dls.Core.Listeners;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Listener;
using Dls.Listener.Endpoints;
using Dls.Listener.Hosting;
using Dls.Listener.Protocol;

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
});
var urls = builder.Configuration["urls"];
if (string.IsNullOrEmpty(urls))
{
    urls = "http://127.0.0.1:48080";
    builder.WebHost.UseUrls(urls);
}

var options = builder.Configuration.GetSection(ListenerOptions.Section).Get<ListenerOptions>() ?? new ListenerOptions();
// Under systemd (a Type=notify unit, docs/operations.md): READY=1 once serving, STOPPING=1 on SIGTERM. Before the
// console format below, which it would otherwise replace. Does nothing when systemd is not the parent.
builder.Services.AddSystemd();
builder.Logging.ClearProviders();
// Per-request lines from ASP.NET Core would cost more than the request on the hot path; DLS logs what matters itself.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
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

DlsStore store;
try
{
    store = DlsStore.Open(options.StorePath);
    new ServerService(store, TimeProvider.System).Get();

    // The signing key is sealed with the key file beside the store: a missing or foreign file is said here, in
    // one line, rather than as a stack trace from the first service that signs.
    new ServerService(store, TimeProvider.System).LoadSigningKey().Dispose();
}
catch (DlsException error)
{
    Console.Error.WriteLine($"dls-listener: {error.Message}");
    return 2;
}
catch (Microsoft.Data.Sqlite.SqliteException error)
{
    Console.Error.WriteLine($"dls-listener: the store '{options.StorePath}' cannot be used: {error.Message}");
    return 2;
}

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton(store);
builder.Services.AddSingleton<ServerService>();
builder.Services.AddSingleton<ListenerRegistry>();
builder.Services.AddSingleton<ListenerStatusPage>();
builder.Services.AddSingleton<Dls.Listener.Protection.AbuseGuard>();
builder.Services.AddHostedService<ProtectionSettingsService>();
builder.Services.AddSingleton<ProtocolService>();
builder.Services.AddSingleton<IHomeSection, LicenseItemsSection>();
builder.Services.AddHostedService<ListenerRegistration>();
builder.Services.AddHostedService<AlertService>();
builder.Services.AddSingleton<Dls.Core.Usage.UsageRetention>();
builder.Services.AddHostedService<RetentionService>();
builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(10));
// As a Windows service: answers the service control manager and logs to the Event Log. Does nothing elsewhere.
builder.Services.AddWindowsService();

var app = builder.Build();
// Start the writer and load the signing key now, not on the first client's request.
app.Services.GetRequiredService<ProtocolService>();
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
