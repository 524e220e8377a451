using System.Net;
using System.Text;
using Dls.Core.Server;
using Dls.Core.Storage;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dls.Listener.Tests;

/// <summary>
/// The listener's own Program, hosted in the test process (WebApplicationFactory) over a real store file: the same
/// services, endpoints and exception handler as the process, without a port, a process start or a poll for /healthz.
/// Requests come from a loopback client, as those of a <see cref="ListenerHost"/> on 127.0.0.1 do. Tests of what only a
/// process shows (signals, kills, exit codes, Kestrel's limits, HTTPS) use <see cref="ListenerHost"/>.
/// </summary>
public sealed class InProcessListener : IAsyncDisposable
{
    private readonly Factory _factory;

    private InProcessListener(string folder, string storePath, ServerInfo server, Action<IServiceCollection>? services)
    {
        Folder = folder;
        StorePath = storePath;
        Server = server;
        _factory = new Factory(storePath, Log, services);
        Http = _factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
    }

    public string Folder { get; }

    public string StorePath { get; }

    public ServerInfo Server { get; }

    public HttpClient Http { get; }

    /// <summary>What the listener logged, one line a message (category, level, message, exception).</summary>
    public LogCapture Log { get; } = new();

    /// <summary>A listener over a new store of <paramref name="organizationId"/>; rate limits off unless a test is about them.</summary>
    /// <param name="services">Changes to the listener's services after its own (a part that fails, for one).</param>
    public static InProcessListener Start(string organizationId = "216998", bool rateLimits = false, Action<IServiceCollection>? services = null)
    {
        var (folder, storePath, server) = ListenerHost.NewStore(organizationId, rateLimits);

        return new InProcessListener(folder, storePath, server, services);
    }

    /// <summary>The store the listener serves, opened by the test.</summary>
    public DlsStore OpenStore() => DlsStore.Open(StorePath);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class Factory(string storePath, LogCapture log, Action<IServiceCollection>? services) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            // Production, as administrators run it (Development would add the developer exception page).
            builder.UseEnvironment(Environments.Production);
            builder.UseSetting("Dls:StorePath", storePath);
            builder.ConfigureLogging(logging =>
            {
                logging.ClearProviders();
                logging.AddProvider(log);
            });
            builder.ConfigureServices(collection => collection.AddSingleton<IStartupFilter>(new LoopbackClient()));
            if (services is not null)
            {
                builder.ConfigureTestServices(services);
            }
        }
    }

    /// <summary>The test server leaves the client address empty; a real client of these tests is on 127.0.0.1.</summary>
    private sealed class LoopbackClient : IStartupFilter
    {
        public Action<Microsoft.AspNetCore.Builder.IApplicationBuilder> Configure(Action<Microsoft.AspNetCore.Builder.IApplicationBuilder> next) => app =>
        {
            app.Use(nextMiddleware => context =>
            {
                context.Connection.RemoteIpAddress ??= IPAddress.Loopback;
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}

/// <summary>Keeps every log message of a host, for tests that assert what an administrator would read in the log.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly StringBuilder _text = new();

    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Append(string line)
    {
        lock (_text)
        {
            _text.AppendLine(line);
        }
    }

    private sealed class Logger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information || category.StartsWith("Dls", StringComparison.Ordinal);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                capture.Append($"{logLevel}: {category}: {formatter(state, exception)}{(exception is null ? string.Empty : Environment.NewLine + exception)}");
            }
        }
    }
}
