using Dls.Core.Crypto;
using Dls.Core.Protocol;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Core.Usage;

namespace Dls.Listener.Protocol;

/// <summary>
/// Connects the HTTP endpoints to core: the single group-commit writer every auth and report goes through, the
/// decisions of <see cref="LicenseAuthority"/>, and token signing after the commit.
/// </summary>
public sealed class ProtocolService : IAsyncDisposable
{
    private readonly DlsStore _store;
    private readonly TimeProvider _time;
    private readonly StatisticsBuffer _statistics = new();
    private readonly LicenseAuthority _authority;
    private readonly GroupCommitWriter _writer;

    public ProtocolService(DlsStore store, ServerService server, TimeProvider time)
    {
        _store = store;
        _time = time;
        Signer = new AuthorizationSigner(server);
        _authority = new LicenseAuthority(new SessionPasswordCache(), _statistics);
        _writer = new GroupCommitWriter(
            store,
            (connection, transaction) => LicenseAuthority.Prune(connection, transaction, time.GetUtcNow()),
            beforeCommit: _statistics.Flush,
            afterRollback: _authority.ForgetCounts);
    }

    public AuthorizationSigner Signer { get; }

    public async Task<AuthOutcome> AuthorizeAsync(AuthRequest request, CancellationToken cancellationToken)
    {
        // The session password's slow hash is checked here, in parallel, so the writer only looks it up.
        _authority.Prepare(_store, request);
        return await _writer.SubmitAsync((connection, transaction) => _authority.Authorize(connection, transaction, request, _time.GetUtcNow()), cancellationToken);
    }

    public Task<ReportOutcome> ReportAsync(ReportRequest request, CancellationToken cancellationToken) =>
        _writer.SubmitAsync((connection, transaction) => _authority.Report(connection, transaction, request, _time.GetUtcNow()), cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _writer.DisposeAsync();
        Signer.Dispose();
    }
}
