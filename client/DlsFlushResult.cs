namespace Dls.Client;

/// <summary>What one <see cref="DlsClient.FlushAsync"/> did.</summary>
public sealed class DlsFlushResult
{
    internal DlsFlushResult(int batchesSent, int accepted, int duplicates, int refused, int batchesPending)
    {
        BatchesSent = batchesSent;
        Accepted = accepted;
        Duplicates = duplicates;
        Refused = refused;
        BatchesPending = batchesPending;
    }

    /// <summary>Batches the server acknowledged (or refused as a whole) and that left the disk.</summary>
    public int BatchesSent { get; }

    /// <summary>Records the server counted.</summary>
    public int Accepted { get; }

    /// <summary>Records the server had counted before (a batch sent again).</summary>
    public int Duplicates { get; }

    /// <summary>Records the server refused (dropped, see <see cref="DlsClientEventKind.RecordsRefused"/>).</summary>
    public int Refused { get; }

    /// <summary>Batches still on disk, waiting for a server (0 when everything was delivered).</summary>
    public int BatchesPending { get; }

    /// <inheritdoc />
    public override string ToString() =>
        $"{BatchesSent} batch(es) sent: {Accepted} record(s) accepted, {Duplicates} duplicate(s), {Refused} refused; {BatchesPending} batch(es) pending";
}
