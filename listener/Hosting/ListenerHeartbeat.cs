using Dls.Core.Storage;
using Dls.Core;
using Dls.Core.Listeners;
using Dls.Core.Server;
using Dls.Listener.Protocol;

namespace Dls.Listener.Hosting;

/// <summary>
/// Every second (<see cref="ListenerLiveness.HeartbeatInterval"/>): writes this listener's heartbeat, reads the other
/// listeners of the store and decides (<see cref="ServingRule"/>) whether it serves and whether it is alone. Another
/// listener is alive while its heartbeat is recent, unless it is recorded on this machine and its process is gone
/// (<see cref="LocalProcess"/>): a main killed beside its standby is replaced at the standby's next beat. A standby
/// that takes over first rolls up what a main that died left waiting and reloads the grants the main recorded
/// (<see cref="ProtocolService.PrepareToServe"/>), then serves. A main that starts beside another main waits
/// <see cref="SettleTime"/> before serving, so that the other has seen it and rolled up what it kept waiting.
/// </summary>
public sealed class ListenerHeartbeat(
    ListenerRegistry registry,
    ListenerRegistration registration,
    ServingState state,
    ProtocolService protocol,
    TimeProvider time,
    ILogger<ListenerHeartbeat> logger) : BackgroundService
{
    /// <summary>How long a main that finds another main alive waits before serving: a beat for it to see this one, and its longest roll-up wait.</summary>
    public static readonly TimeSpan SettleTime = ListenerLiveness.HeartbeatInterval * 2 + Dls.Core.Usage.StatisticsBuffer.MaxDelay;

    private DateTimeOffset? _settledAt;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Decided once before Kestrel listens, so that a standby beside a live main answers 100 from its first request,
        // and one with no main alive serves from its first.
        try
        {
            Beat(registry.List(), first: true);
        }
        catch (Core.Errors.DlsException error)
        {
            logger.LogWarning("Could not read the listeners of the store before serving: {Message}", error.Message);
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(ListenerLiveness.HeartbeatInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var urls = registration.Urls;
                    var wrote = state.Serving;
                    var all = urls.Count == 0 ? registry.List() : Write(urls, wrote);
                    Beat(all, first: false);
                    if (urls.Count > 0 && state.Serving != wrote)
                    {
                        // Get-DlsListener shows the change now, not a beat later.
                        Write(urls, state.Serving);
                    }
                }
                catch (Exception error) when (error is Core.Errors.DlsException || DlsStore.IsEngineFailure(error))
                {
                    // A busy or unreachable store: keep the last decision and try again at the next beat. A main that cannot
                    // write its heartbeat looks dead to a standby after ListenerLiveness.AliveWithin, which is then right.
                    logger.LogWarning("Listener heartbeat not written: {Message}", error.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private IReadOnlyList<ListenerRecord> Write(IReadOnlyList<string> urls, bool serving) =>
        registry.Heartbeat(urls, Environment.ProcessId, registration.ProcessStartedAt, DlsVersion.Current, state.Role, serving);

    private void Beat(IReadOnlyList<ListenerRecord> all, bool first)
    {
        var now = time.GetUtcNow();
        // A listener of this machine whose process is gone is dead now, whatever its last heartbeat says.
        var others = ServingRule.Others(all, Environment.ProcessId).Where(other => !LocalProcess.IsGone(other)).ToList();
        var serves = ServingRule.Serves(state.Role, others, now);
        var alone = ServingRule.Alone(others, now);
        if (state.Role == ServerRole.Main)
        {
            // A main always serves, once settled beside another main (whose deferred roll-ups it must not overtake).
            if (first && others.Any(o => o.Role == ServerRole.Main && o.IsAlive(now)))
            {
                _settledAt = now + SettleTime;
            }

            serves = _settledAt is not { } settled || now >= settled;
        }

        if (serves && !state.Serving)
        {
            // At the first beat the protocol service has just done this, when it was made.
            if (!first)
            {
                protocol.PrepareToServe();
            }

            logger.LogInformation(state.Role == ServerRole.Standby
                ? "Standby serving: no main listener of the store is alive"
                : "Main serving");
        }
        else if (!serves && state.Serving)
        {
            if (state.Role == ServerRole.Standby)
            {
                logger.LogInformation("Standby standing by: a main listener of the store is alive; answering 100");
            }
            else
            {
                logger.LogInformation("Main waiting {Settle} before serving: another main listener of the store is alive", SettleTime);
            }
        }

        state.Update(serves, alone);
    }
}
