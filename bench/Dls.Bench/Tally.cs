using System.Buffers.Text;

namespace Dls.Bench;

/// <summary>
/// What the answers of a run said: how many, how many were not 200, and for report batches answered 200 how many
/// records the server said it accepted or refused (read from the answer's "accepted" and "refused" fields).
/// </summary>
public sealed class Tally
{
    public long Responses { get; private set; }

    public long NonOk { get; private set; }

    /// <summary>Responses that never came: the connection failed or closed under the request.</summary>
    public long Failed { get; private set; }

    /// <summary>Report batches answered 200: each added its counts to the scan item's counter.</summary>
    public long OkBatches { get; private set; }

    public long Accepted { get; private set; }

    public long Refused { get; private set; }

    /// <summary>200 answers to reports whose "accepted" field could not be read.</summary>
    public long Unreadable { get; private set; }

    public void Answer(int status, bool report, ReadOnlySpan<byte> body)
    {
        Responses++;
        if (status != 200)
        {
            NonOk++;
            return;
        }

        if (!report)
        {
            return;
        }

        OkBatches++;
        if (TryReadNumber(body, "\"accepted\":"u8, out var accepted))
        {
            Accepted += accepted;
            Refused += TryReadNumber(body, "\"refused\":"u8, out var refused) ? refused : 0;
        }
        else
        {
            Unreadable++;
        }
    }

    public void Fail() => Failed++;

    public void Add(Tally other)
    {
        Responses += other.Responses;
        NonOk += other.NonOk;
        Failed += other.Failed;
        OkBatches += other.OkBatches;
        Accepted += other.Accepted;
        Refused += other.Refused;
        Unreadable += other.Unreadable;
    }

    // The listener writes compact JSON in one chunk; a field name split by chunk framing would show as Unreadable.
    private static bool TryReadNumber(ReadOnlySpan<byte> body, ReadOnlySpan<byte> name, out long value)
    {
        value = 0;
        var at = body.IndexOf(name);
        return at >= 0 && Utf8Parser.TryParse(body[(at + name.Length)..], out value, out _);
    }
}
