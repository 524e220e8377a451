using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Listener.Protection;

namespace Dls.Listener.Hosting;

/// <summary>
/// Keeps the rate limits in step with the store's settings (Set-DlsServer -NewSeatsPerMinute, ...): read at start and
/// every few seconds after, so a change made from any PowerShell session applies without a restart.
/// </summary>
public sealed class ProtectionSettingsService(DlsStore store, AbuseGuard guard, TimeProvider time, ILogger<ProtectionSettingsService> logger) : BackgroundService
{
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(2);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        Apply(ProtectionSettings.Read(store));
        return base.StartAsync(cancellationToken);
    }

    private void Apply(ProtectionSettings settings)
    {
        if (guard.Apply(settings))
        {
            logger.LogInformation(
                "Protection: at most {NewSeats} new seats a minute per address ({NewSeatsPerCode} per code), {Failures} failures a minute per address ({FailuresPerCode} per code), records up to {MaxCount} (0 = no limit)",
                settings.NewSeatsPerMinute, settings.NewSeatsPerMinutePerCode, settings.FailedAuthorizationsPerMinute, settings.FailedAuthorizationsPerMinutePerCode, settings.MaxCountPerSlice);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(Every, time, stoppingToken);
                try
                {
                    Apply(ProtectionSettings.Read(store));
                }
                catch (Exception error) when (error is Dls.Core.Errors.DlsException || DlsStore.IsEngineFailure(error))
                {
                    logger.LogWarning("Reading the protection settings failed ({Message}); the previous ones stay in force", error.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
