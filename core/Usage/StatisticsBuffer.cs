using Dls.Core.Storage;

namespace Dls.Core.Usage;

/// <summary>
/// The statistics facts of one group-commit batch (authorizations and report records; a report's raw batch is kept by
/// the request itself), recorded together just
/// before the batch commits, in its transaction, so a request and its statistics still commit or fail together.
/// The requests of one batch mostly touch the same roll-up rows (same slice, code and item), which are then
/// written once instead of once per request. Used by the listener's writer thread only.
/// </summary>
public sealed class StatisticsBuffer
{
    private readonly List<AuthorizationFact> _authorizations = [];
    private readonly List<UsageFact> _usage = [];

    public void Add(AuthorizationFact fact) => _authorizations.Add(fact);

    public void Add(IEnumerable<UsageFact> facts) => _usage.AddRange(facts);

    /// <summary>Records what was added since the last flush; nothing stays behind, even when it fails (the batch then fails whole).</summary>
    public void Flush(UnitOfWork work)
    {
        try
        {
            if (_usage.Count > 0)
            {
                UsageStatistics.RollUpUsage(work, _usage);
            }

            if (_authorizations.Count > 0)
            {
                UsageStatistics.RecordAuthorizations(work, _authorizations);
            }
        }
        finally
        {
            _usage.Clear();
            _authorizations.Clear();
        }
    }
}
