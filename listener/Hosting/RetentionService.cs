using Dls.Core.Usage;

namespace Dls.Listener.Hosting;

/// <summary>
/// Purges what retention bounds (raw records, per-device and slice/hour rows; see UsageRetention) once a day. Runs beside the
/// request path: it deletes in small transactions, so SDK clients barely notice.
/// </summary>
public sealed class RetentionService(UsageRetention retention, TimeProvider time, ILogger<RetentionService> logger) : BackgroundService
{
    private static readonly TimeSpan FirstRunDelay = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan Every = TimeSpan.FromDays(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(FirstRunDelay, time, stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    var result = retention.Purge(time.GetUtcNow(), stoppingToken);
                    logger.LogInformation(
                        "Usage retention: removed {UsageRecords} usage records, {AuthorizationEvents} authorization events, {DeviceRows} device rows and {RollupRows} slice, hour and day-set rows older than {Cutoff:u}",
                        result.UsageRecords, result.AuthorizationEvents, result.DeviceRows, result.RollupRows, result.Cutoff);
                }
                catch (Exception error) when (error is Dls.Core.Errors.DlsException or Microsoft.Data.Sqlite.SqliteException)
                {
                    logger.LogWarning(error, "Usage retention purge failed; it is tried again tomorrow");
                }

                await Task.Delay(Every, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
