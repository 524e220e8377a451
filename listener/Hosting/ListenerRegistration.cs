using System.Diagnostics;
using Dls.Core;
using Dls.Core.Listeners;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Dls.Listener.Hosting;

/// <summary>
/// Records this process in the store once Kestrel listens, and removes the record on a graceful stop,
/// so Get-DlsListener and Stop-DlsListener in any PowerShell session find it.
/// </summary>
public sealed class ListenerRegistration(
    IServer server,
    IHostApplicationLifetime lifetime,
    ListenerRegistry registry,
    ILogger<ListenerRegistration> logger) : IHostedService
{
    private readonly List<string> _urls = [];

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
            catch (Exception error) when (error is Core.Errors.DlsException or Microsoft.Data.Sqlite.SqliteException)
            {
                logger.LogWarning(error, "Could not remove the record of {Url} from the store", url);
            }
        }

        return Task.CompletedTask;
    }

    private void Register()
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        using var self = Process.GetCurrentProcess();
        foreach (var address in addresses)
        {
            var url = ListenerRegistry.NormalizeUrl(address.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal));
            registry.Register(url, Environment.ProcessId, self.StartTime.ToUniversalTime(), DlsVersion.Current);
            _urls.Add(url);
            logger.LogInformation("DLS listener {Version} serving {Url} (process {ProcessId})", DlsVersion.Current, url, Environment.ProcessId);
        }
    }
}
