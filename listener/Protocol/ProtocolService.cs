using System.Net;
using Dls.Core.Crypto;
using Dls.Core.Protocol;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Core.Usage;
using Dls.Listener.Hosting;
using Dls.Listener.Protection;

namespace Dls.Listener.Protocol;

/// <summary>
/// Connects the HTTP endpoints to core: the rate limits, the session password's slow check (done here, in parallel,
/// never on the writer), the single group-commit writer every auth and report goes through, the decisions of
/// <see cref="LicenseAuthority"/>, and token signing after the commit. A standby that does not serve (SPEC §7,
/// <see cref="ServingState"/>) answers 100 before any of that, and writes nothing.
/// </summary>
public sealed class ProtocolService : IAsyncDisposable
{
    private readonly DlsStore _store;
    private readonly TimeProvider _time;
    private readonly AbuseGuard _guard;
    private readonly ServingState _serving;
    private readonly StatisticsBuffer _statistics;
    private readonly LicenseAuthority _authority;
    private readonly GroupCommitWriter _writer;

    public ProtocolService(DlsStore store, ServerService server, AbuseGuard guard, ServingState serving, TimeProvider time)
    {
        _store = store;
        _time = time;
        _guard = guard;
        _serving = serving;
        Signer = new AuthorizationSigner(server);

        // Roll-ups wait for a later commit only while this listener is the store's one writer (StatisticsBuffer).
        _statistics = new StatisticsBuffer(() => serving.MayDefer);
        _authority = new LicenseAuthority(new SessionPasswordCache(), _statistics);
        PrepareToServe();
        _writer = new GroupCommitWriter(
            store,
            work =>
            {
                LicenseAuthority.Prune(work, time.GetUtcNow());

                // Grants whose horizon is past the oldest slice a report may carry admit nothing any more.
                _authority.Grants.Forget(time.GetUtcNow() - LicenseAuthority.MaxReportAge);
            },
            afterRollback: _authority.RolledBack,
            afterCommit: _authority.Committed,
            deferred: _statistics);
    }

    public AuthorizationSigner Signer { get; }

    /// <summary>
    /// Rolls up what a listener that stopped without rolling up left above the marks (a crash: at most
    /// <see cref="StatisticsBuffer.MaxDelay"/> of it), and loads the grants recorded in the store. Run when the service
    /// is made and when a standby takes over from a main, while this listener writes nothing.
    /// </summary>
    public void PrepareToServe()
    {
        StatisticsBuffer.CatchUp(_store);
        _store.Query(work =>
        {
            _authority.Grants.Load(work, _time.GetUtcNow() - LicenseAuthority.MaxReportAge);
            return 0;
        });
    }

    public async Task<AuthOutcome> AuthorizeAsync(AuthRequest request, IPAddress? address, CancellationToken cancellationToken)
    {
        if (!_serving.Serving)
        {
            return AuthOutcome.Refused(ErrorCodes.Standby, StandbyMessage);
        }

        var codeKey = CodeKey(request);

        // A device that holds a grant is never held back by the failure limits, unless its request would cost a
        // password derivation that is not cached: that is what a password guesser spends, whatever uuid it sends.
        var target = LicenseAuthority.PasswordTargetOf(_store, request);
        var limited = !_authority.Grants.IsKnownClient(request.ClientUuid) || !_authority.IsPasswordCheckCached(target, request);
        if (limited && _guard.FailuresExhausted(address, codeKey, out var retryAfter))
        {
            return RateLimited(retryAfter);
        }

        for (var attempt = 0; ; attempt++)
        {
            if (attempt > 0)
            {
                target = LicenseAuthority.PasswordTargetOf(_store, request);
            }

            var password = _authority.CheckPassword(target, request);
            var context = new AuthContext(password, _guard.NewSeatGate(address));
            var outcome = await _writer.SubmitAsync(
                work => _authority.Authorize(work, request, _time.GetUtcNow(), context), cancellationToken);
            if (outcome.NeedsPasswordCheck && attempt < 3)
            {
                continue;
            }

            if (outcome.Error is { } error && error.ErrorCode != ErrorCodes.RateLimited)
            {
                _guard.Failed(address, KnowsCode(error.ErrorCode) ? codeKey : null);
            }

            return outcome.NeedsPasswordCheck
                ? AuthOutcome.Refused(ErrorCodes.WrongSessionPassword, "The handshake code's session password kept changing during the request; retry.")
                : outcome;
        }
    }

    public async Task<ReportOutcome> ReportAsync(ReportRequest request, IPAddress? address, CancellationToken cancellationToken)
    {
        if (!_serving.Serving)
        {
            return new ReportOutcome(null, new ProtocolError(ErrorCodes.Standby, StandbyMessage));
        }

        if (!_authority.Grants.IsKnownClient(request.ClientUuid) && _guard.FailuresExhausted(address, request.HandshakeCode, out var retryAfter))
        {
            return new ReportOutcome(null, Limited(retryAfter)) { RetryAfter = retryAfter };
        }

        var outcome = await _writer.SubmitAsync(work => _authority.Report(work, request, _time.GetUtcNow()), cancellationToken);
        if (outcome.Error is { } error)
        {
            _guard.Failed(address, KnowsCode(error.ErrorCode) ? request.HandshakeCode : null);
        }
        else if (outcome.Answer is { Refused: > 0 })
        {
            _guard.Failed(address, request.HandshakeCode);
        }

        return outcome;
    }

    /// <summary>A request the listener could not even read counts against its address's failures.</summary>
    public void Malformed(IPAddress? address) => _guard.Failed(address, null);

    public async ValueTask DisposeAsync()
    {
        await _writer.DisposeAsync();
        Signer.Dispose();
    }

    private const string StandbyMessage = "This is a standby server and a main server of its store is up: ask the main server.";

    private static AuthOutcome RateLimited(TimeSpan retryAfter) => new(null, Limited(retryAfter)) { RetryAfter = retryAfter };

    private static ProtocolError Limited(TimeSpan retryAfter) => new(ErrorCodes.RateLimited,
        $"Too many refused requests from this address or for this handshake code; retry in {Math.Ceiling(retryAfter.TotalSeconds)} s.");

    /// <summary>The key a request's code is limited under: the code, or the organization whose default code it asks for.</summary>
    private static string? CodeKey(AuthRequest request) =>
        request.HandshakeCode ?? (request.OrganizationId is { } org ? "org:" + org : null);

    /// <summary>Refusals that name no existing code count against the address only (a made-up code has no bucket worth keeping).</summary>
    private static bool KnowsCode(int errorCode) =>
        errorCode is not (ErrorCodes.CodeNotFound or ErrorCodes.NoDefaultCode or ErrorCodes.NoCodeOrOrganization or ErrorCodes.CodeNotInOrganization);
}
