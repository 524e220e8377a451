using Dls.Core.Storage;
using Dls.Core.Listeners;
using Dls.Core.Usage;

namespace Dls.Listener.Hosting;

/// <summary>
/// Purges what retention bounds (raw records, per-device and slice/hour rows; see UsageRetention) once a day, once
/// across all the listeners of the store: each looks every <c>CheckInterval</c> whether the day's purge is due and runs
/// it only after claiming it (<see cref="ListenerTasks"/>), so two listeners never purge the same day. Runs beside the
/// request path: it deletes in small transactions, so SDK clients barely notice. Intervals bind from Dls:Retention
/// (FirstRunDelay, CheckInterval, Interval; for tests and operators).
/// </summary>
public sealed class RetentionService(
    UsageRetention retention, ListenerTasks tasks, TimeProvider time, IConfiguration configuration, ILogger<RetentionService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var section = configuration.GetSection("Dls:Retention");
        var firstRun = section.GetValue("FirstRunDelay", TimeSpan.FromMinutes(2));
        var checkEvery = section.GetValue("CheckInterval", TimeSpan.FromMinutes(10));
        var every = section.GetValue("Interval", TimeSpan.FromDays(1));
        var holder = $"{Environment.MachineName}:{Environment.ProcessId}";
        try
        {
            await Task.Delay(firstRun, time, stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    if (tasks.TryClaim(ListenerTasks.Retention, every, holder))
                    {
                        var result = retention.Purge(time.GetUtcNow(), stoppingToken);
                        logger.LogInformation(
                            "Usage retention: removed {UsageRecords} usage records, {AuthorizationEvents} authorization events, {DeviceRows} device rows and {RollupRows} slice, hour and day-set rows older than {Cutoff:u}",
                            result.UsageRecords, result.AuthorizationEvents, result.DeviceRows, result.RollupRows, result.Cutoff);
                    }
                }
                catch (Exception error) when (error is Dls.Core.Errors.DlsException || DlsStore.IsEngineFailure(error))
                {
                    // The claim is taken: the next purge is a day later, by whichever listener claims it then.
                    logger.LogWarning(error, "Usage retention purge failed; it is tried again at the next interval");
                }

                await Task.Delay(checkEvery, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
