using Dls.Core.Storage;
using System.Diagnostics;
using Dls.Core;
using Dls.Core.Listeners;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Dls.Listener.Hosting;

/// <summary>
/// Records this process in the store once Kestrel listens (its URLs, role and machine), and removes the record on a
/// graceful stop, so Get-DlsListener and Stop-DlsListener in any PowerShell session find it. The heartbeat that keeps
/// the record alive is <see cref="ListenerHeartbeat"/>'s.
/// </summary>
public sealed class ListenerRegistration(
    IServer server,
    IHostApplicationLifetime lifetime,
    ListenerRegistry registry,
    ServingState serving,
    ILogger<ListenerRegistration> logger) : IHostedService
{
    private volatile string[] _urls = [];

    /// <summary>The URLs this process recorded (none before Kestrel listens).</summary>
    public IReadOnlyList<string> Urls => _urls;

    /// <summary>When this process started, as recorded (a recycled process id is told apart by it).</summary>
    public DateTimeOffset ProcessStartedAt { get; } = StartTime();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(Register);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var url in _urls)
        {
            try
            {
                registry.Unregister(url, Environment.ProcessId);
            }
            catch (Exception error) when (error is Core.Errors.DlsException || DlsStore.IsEngineFailure(error))
            {
                logger.LogWarning(error, "Could not remove the record of {Url} from the store", url);
            }
        }

        _urls = [];
        return Task.CompletedTask;
    }

    private void Register()
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var urls = new List<string>();
        foreach (var address in addresses)
        {
            var url = ListenerRegistry.NormalizeUrl(address.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal));
            registry.Register(url, Environment.ProcessId, ProcessStartedAt, DlsVersion.Current, serving.Role, serving.Serving);
            urls.Add(url);
            logger.LogInformation("DLS listener {Version} serving {Url} (process {ProcessId})", DlsVersion.Current, url, Environment.ProcessId);
        }

        _urls = [.. urls];
        logger.LogInformation("Role {Role}: {State}", serving.Role, serving.Serving ? "serving" : "standing by (answering 100) while a main listener of the store is alive");
    }

    private static DateTimeOffset StartTime()
    {
        using var self = Process.GetCurrentProcess();
        return self.StartTime.ToUniversalTime();
    }
}
