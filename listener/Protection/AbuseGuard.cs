using System.Net;
using System.Threading.RateLimiting;
using Dls.Core.Protocol;
using Dls.Core.Server;

namespace Dls.Listener.Protection;

/// <summary>
/// The listener's rate limits (SPEC §4 "Rate limits"), built on ASP.NET Core's rate limiters
/// (System.Threading.RateLimiting token buckets, partitioned by source address and by handshake code):
/// <list type="bullet">
/// <item>new seats (a device's first grant on an item), per address and per code;</item>
/// <item>failures (failed session-password checks and refused requests), per address and per code. Once a bucket is
/// empty, requests from devices that hold no grant get 429 before any work is done; known devices are not limited.</item>
/// </list>
/// A limit of 0 is off. The limits follow <see cref="ProtectionSettings"/> (Set-DlsServer), applied by
/// <see cref="Apply"/> when they change. Safe to use from many threads.
/// </summary>
public sealed class AbuseGuard : IDisposable
{
    private Limits _limits = Limits.Off;

    public ProtectionSettings Settings { get; private set; } = ProtectionSettings.Default;

    /// <summary>Uses these settings from now on (the buckets start full when a limit changes).</summary>
    public void Apply(ProtectionSettings settings)
    {
        if (settings == Settings && !ReferenceEquals(_limits, Limits.Off))
        {
            return;
        }

        var old = _limits;
        var rateChanged = ReferenceEquals(old, Limits.Off)
            || settings.NewSeatsPerMinute != Settings.NewSeatsPerMinute || settings.NewSeatsPerMinutePerCode != Settings.NewSeatsPerMinutePerCode
            || settings.FailedAuthorizationsPerMinute != Settings.FailedAuthorizationsPerMinute
            || settings.FailedAuthorizationsPerMinutePerCode != Settings.FailedAuthorizationsPerMinutePerCode;
        Settings = settings;
        if (!rateChanged)
        {
            return;
        }

        _limits = new Limits(
            Bucket(settings.NewSeatsPerMinute),
            Bucket(settings.NewSeatsPerMinutePerCode),
            Bucket(settings.FailedAuthorizationsPerMinute),
            Bucket(settings.FailedAuthorizationsPerMinutePerCode));

        // Requests in flight may still hold the old limiters: let them finish before the timers go.
        _ = Task.Delay(TimeSpan.FromSeconds(10)).ContinueWith(_ => old.Dispose(), TaskScheduler.Default);
    }

    /// <summary>The gate an authorization from <paramref name="address"/> takes new seats through (checked by the writer).</summary>
    public INewSeatGate NewSeatGate(IPAddress? address) => new SeatGate(this, Key(address));

    /// <summary>
    /// Whether a request from a device that holds no grant must be turned away because its address or code has
    /// used up its failures; when so, <paramref name="retryAfter"/> says for how long. Takes nothing.
    /// </summary>
    public bool FailuresExhausted(IPAddress? address, string? code, out TimeSpan retryAfter)
    {
        var limits = _limits;
        return Exhausted(limits.FailuresByAddress, Key(address), out retryAfter)
            || (code is not null && Exhausted(limits.FailuresByCode, code, out retryAfter));
    }

    /// <summary>Counts one failed password check or refused request against its address and code.</summary>
    public void Failed(IPAddress? address, string? code)
    {
        var limits = _limits;
        limits.FailuresByAddress?.AttemptAcquire(Key(address)).Dispose();
        if (code is not null)
        {
            limits.FailuresByCode?.AttemptAcquire(code).Dispose();
        }
    }

    public void Dispose() => _limits.Dispose();

    private static string Key(IPAddress? address) =>
        address is null ? "unknown" : (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();

    private static bool Exhausted(PartitionedRateLimiter<string>? limiter, string key, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (limiter is null)
        {
            return false;
        }

        // Asking for 0 permits tells whether any is left without taking one.
        using var lease = limiter.AttemptAcquire(key, 0);
        if (lease.IsAcquired)
        {
            return false;
        }

        retryAfter = RetryAfter(lease);
        return true;
    }

    private static TimeSpan RetryAfter(RateLimitLease lease) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out var after) && after > TimeSpan.Zero ? after : TimeSpan.FromSeconds(1);

    /// <summary>A token bucket per partition that holds a minute's worth and refills evenly over the minute.</summary>
    private static PartitionedRateLimiter<string>? Bucket(int perMinute)
    {
        if (perMinute <= 0)
        {
            return null;
        }

        var period = perMinute >= 60 ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(60.0 / perMinute);
        var tokensPerPeriod = perMinute >= 60 ? perMinute / 60 : 1;
        return PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    private sealed record Limits(
        PartitionedRateLimiter<string>? NewSeatsByAddress,
        PartitionedRateLimiter<string>? NewSeatsByCode,
        PartitionedRateLimiter<string>? FailuresByAddress,
        PartitionedRateLimiter<string>? FailuresByCode) : IDisposable
    {
        public static readonly Limits Off = new(null, null, null, null);

        public void Dispose()
        {
            NewSeatsByAddress?.Dispose();
            NewSeatsByCode?.Dispose();
            FailuresByAddress?.Dispose();
            FailuresByCode?.Dispose();
        }
    }

    private sealed class SeatGate(AbuseGuard guard, string address) : INewSeatGate
    {
        public bool TryAdmit(string handshakeCode, out TimeSpan retryAfter)
        {
            var limits = guard._limits;
            retryAfter = TimeSpan.Zero;

            // Both buckets must have a permit before either is taken: a seat refused by the code's limit does not
            // use up the address's.
            if (Exhausted(limits.NewSeatsByAddress, address, out retryAfter) || Exhausted(limits.NewSeatsByCode, handshakeCode, out retryAfter))
            {
                return false;
            }

            using var byAddress = limits.NewSeatsByAddress?.AttemptAcquire(address);
            using var byCode = limits.NewSeatsByCode?.AttemptAcquire(handshakeCode);
            return true;
        }
    }
}
