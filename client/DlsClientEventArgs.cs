using System;
using System.Collections.Generic;

namespace Dls.Client;

/// <summary>What <see cref="DlsClientEventArgs"/> reports.</summary>
public enum DlsClientEventKind
{
    /// <summary>A server granted an authorization.</summary>
    Authorized,

    /// <summary>No server answered; a valid cached authorization was used.</summary>
    AuthorizedFromCache,

    /// <summary>A server refused an authorization (also a re-authorization after a handshake change).</summary>
    AuthorizationRefused,

    /// <summary>A cached authorization did not verify (a changed byte, another server's key, another device) and was removed.</summary>
    CacheRejected,

    /// <summary>The server that answers changed (failover to the standby, or back to the main).</summary>
    ServerChanged,

    /// <summary>No server answered a report; its batch stays on disk for the next attempt.</summary>
    Offline,

    /// <summary>Usage was sealed into a batch on disk (with its batch id), ready to send.</summary>
    BatchStored,

    /// <summary>A batch was acknowledged (accepted and duplicate records in <see cref="DlsClientEventArgs.Accepted"/>, <see cref="DlsClientEventArgs.Duplicates"/>).</summary>
    BatchSent,

    /// <summary>The server refused some records of an acknowledged batch; they are dropped, never resent.</summary>
    RecordsRefused,

    /// <summary>The server refused a whole batch (malformed, unknown code); it is dropped, never resent.</summary>
    BatchRefused,

    /// <summary>Buffered usage older than the server accepts (30 days) was dropped.</summary>
    UsageExpired,

    /// <summary>The server's handshakeUpdateTime is newer than an authorization's: it is authorized again.</summary>
    HandshakeUpdated,

    /// <summary>A cache file could not be read or written.</summary>
    CacheProblem,
}

/// <summary>One thing the client did or met, for the application's log.</summary>
public sealed class DlsClientEventArgs : EventArgs
{
    internal DlsClientEventArgs(DlsClientEventKind kind, string message)
    {
        Kind = kind;
        Message = message;
    }

    /// <summary>What happened.</summary>
    public DlsClientEventKind Kind { get; }

    /// <summary>A sentence for a log.</summary>
    public string Message { get; }

    /// <summary>The server involved, if any.</summary>
    public Uri? Server { get; internal set; }

    /// <summary>The batch involved, if any.</summary>
    public string? BatchId { get; internal set; }

    /// <summary>The server's errorCode, when it refused.</summary>
    public int? ErrorCode { get; internal set; }

    /// <summary>Records the server counted (<see cref="DlsClientEventKind.BatchSent"/>).</summary>
    public int Accepted { get; internal set; }

    /// <summary>Records the server had already counted (<see cref="DlsClientEventKind.BatchSent"/>).</summary>
    public int Duplicates { get; internal set; }

    /// <summary>The refused records (<see cref="DlsClientEventKind.RecordsRefused"/>).</summary>
    public IReadOnlyList<DlsRefusedRecord> RefusedRecords { get; internal set; } = Array.Empty<DlsRefusedRecord>();

    /// <inheritdoc />
    public override string ToString() => $"{Kind}: {Message}";
}

/// <summary>A usage record the server refused (SPEC §4: 105 no grant, 104 not the code's item or product, 400 count out of bounds).</summary>
public sealed class DlsRefusedRecord
{
    internal DlsRefusedRecord(DateTimeOffset slice, string itemId, string product, long count, int errorCode)
    {
        Slice = slice;
        ItemId = itemId;
        Product = product;
        Count = count;
        ErrorCode = errorCode;
    }

    /// <summary>The start of the record's 3-minute slice.</summary>
    public DateTimeOffset Slice { get; }

    /// <summary>The record's item.</summary>
    public string ItemId { get; }

    /// <summary>The record's product.</summary>
    public string Product { get; }

    /// <summary>The record's count.</summary>
    public long Count { get; }

    /// <summary>Why the server refused it.</summary>
    public int ErrorCode { get; }
}
