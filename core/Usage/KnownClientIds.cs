namespace Dls.Core.Usage;

/// <summary>
/// The short ids (usage_client) of the clients the listener's writer has stored, so that a client's next report costs
/// no statement to find its id. An id learnt in a transaction counts only once it has committed (<see cref="Committed"/>);
/// a rollback forgets what it learnt (<see cref="Failed"/>). The map starts over every hour and when it grows past
/// <see cref="MaxClients"/> (the retention removes the id of a client with no row left, never one that reported since).
/// Used by the writer's thread only.
/// </summary>
internal sealed class KnownClientIds
{
    public const int MaxClients = 100_000;

    private readonly Dictionary<string, long> _stored = new(StringComparer.Ordinal);
    private readonly List<(string Client, long Id)> _learnt = [];
    private long _hour = long.MinValue;

    public long? Find(string clientUuid) => _stored.TryGetValue(clientUuid, out var id) ? id : null;

    /// <summary>The client has this id once the current transaction commits.</summary>
    public void Learnt(string clientUuid, long id) => _learnt.Add((clientUuid, id));

    public void Committed()
    {
        var hour = Environment.TickCount64 / 3_600_000;
        if (hour != _hour || _stored.Count + _learnt.Count > MaxClients)
        {
            _stored.Clear();
            _hour = hour;
        }

        foreach (var (client, id) in _learnt)
        {
            _stored[client] = id;
        }

        _learnt.Clear();
    }

    public void Failed() => _learnt.Clear();
}
