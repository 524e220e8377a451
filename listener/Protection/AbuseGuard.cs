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

    /// <summary>Uses these settings from now on (the buckets start full when a limit changes); false when nothing changed.</summary>
    public bool Apply(ProtectionSettings settings)
    {
        if (settings == Settings && !ReferenceEquals(_limits, Limits.Off))
        {
            return false;
        }

        var old = _limits;
        var rateChanged = ReferenceEquals(old, Limits.Off)
            || settings.NewSeatsPerMinute != Settings.NewSeatsPerMinute || settings.NewSeatsPerMinutePerCode != Settings.NewSeatsPerMinutePerCode
            || settings.FailedAuthorizationsPerMinute != Settings.FailedAuthorizationsPerMinute
            || settings.FailedAuthorizationsPerMinutePerCode != Settings.FailedAuthorizationsPerMinutePerCode;
        Settings = settings;
        if (!rateChanged)
        {
            return true;
        }

        _limits = new Limits(
            NewBucket(settings.NewSeatsPerMinute),
            NewBucket(settings.NewSeatsPerMinutePerCode),
            NewBucket(settings.FailedAuthorizationsPerMinute),
            NewBucket(settings.FailedAuthorizationsPerMinutePerCode));

        // Requests in flight may still hold the old limiters: let them finish before the timers go.
        _ = Task.Delay(TimeSpan.FromSeconds(10)).ContinueWith(_ => old.Dispose(), TaskScheduler.Default);
        return true;
    }

    /// <summary>The gate an authorization from <paramref name="address"/> takes new seats through (checked by the writer).</summary>
    public INewSeatGate NewSeatGate(IPAddress? address) => new SeatGate(this, address);

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
        limits.FailuresByAddress?.Limiter.AttemptAcquire(Key(address)).Dispose();
        if (code is not null)
        {
            limits.FailuresByCode?.Limiter.AttemptAcquire(code).Dispose();
        }
    }

    public void Dispose() => _limits.Dispose();

    private static string Key(IPAddress? address) =>
        address is null ? "unknown" : (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();

    /// <remarks>
    /// Reads the bucket instead of asking for 0 permits: the token bucket refills continuously, so a bucket that was
    /// emptied a moment ago holds a fraction of a token, which "0 permits" counts as available.
    /// </remarks>
    private static bool Exhausted(Bucket? bucket, string key, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (bucket is null || bucket.Limiter.GetStatistics(key) is not { CurrentAvailablePermits: < 1 })
        {
            return false;
        }

        retryAfter = bucket.TokenEvery;
        return true;
    }

    /// <summary>A token bucket per partition that holds a minute's worth and refills evenly over the minute.</summary>
    private static Bucket? NewBucket(int perMinute)
    {
        if (perMinute <= 0)
        {
            return null;
        }

        var period = perMinute >= 60 ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(60.0 / perMinute);
        var tokensPerPeriod = perMinute >= 60 ? perMinute / 60 : 1;
        var limiter = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

        // How long until the next whole token: what a limited client is told to wait (Retry-After, at least 1 s).
        var every = TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(60.0 / perMinute)));
        return new Bucket(limiter, every);
    }

    private sealed record Bucket(PartitionedRateLimiter<string> Limiter, TimeSpan TokenEvery) : IDisposable
    {
        public void Dispose() => Limiter.Dispose();
    }

    private sealed record Limits(Bucket? NewSeatsByAddress, Bucket? NewSeatsByCode, Bucket? FailuresByAddress, Bucket? FailuresByCode) : IDisposable
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

    /// <summary>Turns the address into its key only when a new seat is asked for: known devices never need it.</summary>
    private sealed class SeatGate(AbuseGuard guard, IPAddress? source) : INewSeatGate
    {
        public bool TryAdmit(string handshakeCode, out TimeSpan retryAfter)
        {
            var limits = guard._limits;
            var address = Key(source);
            retryAfter = TimeSpan.Zero;

            // Both buckets must have a permit before either is taken: a seat refused by the code's limit does not
            // use up the address's.
            if (Exhausted(limits.NewSeatsByAddress, address, out retryAfter) || Exhausted(limits.NewSeatsByCode, handshakeCode, out retryAfter))
            {
                return false;
            }

            using var byAddress = limits.NewSeatsByAddress?.Limiter.AttemptAcquire(address);
            using var byCode = limits.NewSeatsByCode?.Limiter.AttemptAcquire(handshakeCode);
            if (byAddress is { IsAcquired: false } || byCode is { IsAcquired: false })
            {
                // Another request took the last whole token meanwhile.
                retryAfter = (byAddress is { IsAcquired: false } ? limits.NewSeatsByAddress! : limits.NewSeatsByCode!).TokenEvery;
                return false;
            }

            return true;
        }
    }
}
