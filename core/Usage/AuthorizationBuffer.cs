using Microsoft.Data.Sqlite;

namespace Dls.Core.Usage;

/// <summary>
/// The authorization facts of one group-commit batch, recorded together just before the batch commits (in its
/// transaction, so a decision and its statistics still commit or fail together). Many authorizations of one
/// batch touch the same roll-up rows (same slice, code and item), which are then written once instead of once
/// per request. Used by the listener's writer thread only.
/// </summary>
public sealed class AuthorizationBuffer
{
    private readonly List<AuthorizationFact> _facts = [];

    public void Add(AuthorizationFact fact) => _facts.Add(fact);

    /// <summary>Records what was added since the last flush; nothing stays behind, even when it fails (the batch then fails whole).</summary>
    public void Flush(SqliteConnection connection, SqliteTransaction transaction)
    {
        try
        {
            if (_facts.Count > 0)
            {
                UsageStatistics.RecordAuthorizations(connection, transaction, _facts);
            }
        }
        finally
        {
            _facts.Clear();
        }
    }
}
