using Dls.Core.Alerts;
using Dls.Core.Storage;

namespace Dls.Listener.Hosting;

/// <summary>
/// Checks the alert conditions every 10 minutes (SPEC §6) and works the delivery outbox every minute, so a
/// failed e-mail or webhook is retried on its back-off schedule. Runs beside the request pipeline: a slow or
/// dead SMTP server never holds up an authorization. Intervals bind from Dls:Alerts (for tests and operators).
/// </summary>
public sealed class AlertService(DlsStore store, TimeProvider time, IConfiguration configuration, ILogger<AlertService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var section = configuration.GetSection("Dls:Alerts");
        var checkInterval = section.GetValue("CheckInterval", TimeSpan.FromMinutes(10));
        var outboxInterval = section.GetValue("OutboxInterval", TimeSpan.FromMinutes(1));
        var firstCheck = section.GetValue("FirstCheckDelay", TimeSpan.FromSeconds(30));
        var manager = new AlertManager(store, time);
        var nextCheck = time.GetUtcNow() + firstCheck;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (time.GetUtcNow() >= nextCheck)
                {
                    nextCheck = time.GetUtcNow() + checkInterval;
                    await RunAsync("check", async () =>
                    {
                        var result = await manager.CheckAsync(stoppingToken);
                        if (result.NotificationId is { } id)
                        {
                            logger.LogInformation(
                                "Alert notification {Id}: {Conditions}; delivered on {Delivered} of {Channels} channels",
                                id,
                                string.Join("; ", result.Findings.Select(f => $"{f.Condition} {f.Target} {f.Level}")),
                                result.Deliveries.Count(d => d.Delivered),
                                result.Deliveries.Count);
                        }
                    });
                }

                await RunAsync("outbox", async () =>
                {
                    foreach (var failed in (await manager.ProcessOutboxAsync(stoppingToken)).Where(d => !d.Delivered))
                    {
                        logger.LogWarning("Alert notification {Id} not delivered by {Channel} (attempt {Attempts}): {Error}", failed.NotificationId, failed.Channel, failed.Attempts, failed.Error);
                    }
                });

                var wait = nextCheck - time.GetUtcNow();
                await Task.Delay(wait < outboxInterval ? (wait > TimeSpan.Zero ? wait : TimeSpan.Zero) : outboxInterval, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RunAsync(string what, Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            // The store may be busy or the settings unreadable: log and try again next round, never stop the listener.
            logger.LogError(error, "Alert {What} failed", what);
        }
    }
}
