using System.Security.Cryptography;
using System.Text;

namespace Dls.Core.Usage;

/// <summary>One accepted report record as it was received (what the roll-ups were made from).</summary>
/// <param name="InstanceId">Empty when the record named no instance.</param>
public sealed record RawUsageRecord(DateTimeOffset Slice, string ItemId, string InstanceId, long Count, IReadOnlyDictionary<string, long>? Features);

/// <summary>
/// A report batch's accepted records as the store keeps them raw: one row per batch (usage_batch), its records in
/// one compact blob (<see cref="Encode"/>), instead of a row and an index entry per record. A batch carried over
/// from before raw usage was kept per batch has no records here (<see cref="Records"/> empty, <see cref="Legacy"/>).
/// </summary>
public sealed record RawUsageBatch(long Id, string ClientUuid, string HandshakeCode, DateTimeOffset ReceivedAt, IReadOnlyList<RawUsageRecord> Records)
{
    private const byte FormatVersion = 1;

    /// <summary>The batch predates per-batch raw usage: only its id is kept (to refuse it again), its records are not here.</summary>
    public bool Legacy { get; init; }

    /// <summary>
    /// The key a batch id is remembered by: the first 16 bytes of its SHA-256. A client chooses its batch ids, so
    /// they are hashed to a fixed size whatever their length; 128 bits make an accidental collision between two
    /// batches of one client (the only ones compared) practically impossible.
    /// </summary>
    public static byte[] KeyOf(string batchId)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(batchId), hash);
        return hash[..16].ToArray();
    }

    /// <summary>
    /// The records as a blob: a format byte, a table of the distinct strings (item ids, instance ids, feature
    /// names), the number of records, then per record its item, its slice as the number of slices before the
    /// slice the batch was received in, its instance, its count and its features, all as varints. Ten records of
    /// one item take about 30 bytes.
    /// </summary>
    public static byte[] Encode(DateTimeOffset receivedAt, IReadOnlyList<RawUsageRecord> records)
    {
        var strings = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var record in records)
        {
            Intern(record.ItemId);
            Intern(record.InstanceId);
            if (record.Features is not null)
            {
                foreach (var name in record.Features.Keys)
                {
                    Intern(name);
                }
            }
        }

        var output = new BlobWriter();
        output.Byte(FormatVersion);
        output.Varint((ulong)order.Count);
        foreach (var text in order)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            output.Varint((ulong)bytes.Length);
            output.Bytes(bytes);
        }

        var received = SliceIndex(receivedAt);
        output.Varint((ulong)records.Count);
        foreach (var record in records)
        {
            var before = received - SliceIndex(record.Slice);
            if (before < 0)
            {
                throw new ArgumentException($"A record's slice {record.Slice:O} is after the batch was received ({receivedAt:O}).", nameof(records));
            }

            output.Varint((ulong)strings[record.ItemId]);
            output.Varint((ulong)before);
            output.Varint((ulong)strings[record.InstanceId]);
            output.Varint((ulong)record.Count);
            output.Varint((ulong)(record.Features?.Count ?? 0));
            if (record.Features is not null)
            {
                foreach (var (name, count) in record.Features)
                {
                    output.Varint((ulong)strings[name]);
                    output.Varint((ulong)count);
                }
            }
        }

        return output.ToArray();

        void Intern(string text)
        {
            if (strings.TryAdd(text, order.Count))
            {
                order.Add(text);
            }
        }
    }

    /// <summary>Reads what <see cref="Encode"/> wrote; a blob it did not write is refused, never half read.</summary>
    public static IReadOnlyList<RawUsageRecord> Decode(DateTimeOffset receivedAt, byte[] blob)
    {
        var input = new BlobReader(blob);
        if (input.Byte() != FormatVersion)
        {
            throw new InvalidDataException("A raw usage batch is in an unknown format.");
        }

        var strings = new string[input.Count()];
        for (var i = 0; i < strings.Length; i++)
        {
            strings[i] = Encoding.UTF8.GetString(input.Bytes(input.Count()));
        }

        var received = SliceIndex(receivedAt);
        var records = new RawUsageRecord[input.Count()];
        for (var i = 0; i < records.Length; i++)
        {
            var item = strings[input.Index(strings.Length)];
            var slice = SliceStart(received - (long)input.Varint());
            var instance = strings[input.Index(strings.Length)];
            var count = (long)input.Varint();
            var featureCount = input.Count();
            Dictionary<string, long>? features = null;
            if (featureCount > 0)
            {
                features = new Dictionary<string, long>(featureCount, StringComparer.Ordinal);
                for (var f = 0; f < featureCount; f++)
                {
                    features[strings[input.Index(strings.Length)]] = (long)input.Varint();
                }
            }

            records[i] = new RawUsageRecord(slice, item, instance, count, features);
        }

        if (!input.AtEnd)
        {
            throw new InvalidDataException("A raw usage batch has bytes after its last record.");
        }

        return records;
    }

    /// <summary>How many records a blob of <see cref="Encode"/> holds (its string table is skipped, its records not read).</summary>
    public static int RecordCount(byte[] blob)
    {
        var input = new BlobReader(blob);
        if (input.Byte() != FormatVersion)
        {
            throw new InvalidDataException("A raw usage batch is in an unknown format.");
        }

        var strings = input.Count();
        for (var i = 0; i < strings; i++)
        {
            input.Bytes(input.Count());
        }

        return input.Count();
    }

    private static long SliceIndex(DateTimeOffset time) => time.UtcTicks / TimeSlice.Length.Ticks;

    private static DateTimeOffset SliceStart(long index) => new(index * TimeSlice.Length.Ticks, TimeSpan.Zero);

    private sealed class BlobWriter
    {
        private byte[] _buffer = new byte[128];
        private int _length;

        public void Byte(byte value)
        {
            Ensure(1);
            _buffer[_length++] = value;
        }

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            Ensure(bytes.Length);
            bytes.CopyTo(_buffer.AsSpan(_length));
            _length += bytes.Length;
        }

        public void Varint(ulong value)
        {
            Ensure(10);
            while (value >= 0x80)
            {
                _buffer[_length++] = (byte)(value | 0x80);
                value >>= 7;
            }

            _buffer[_length++] = (byte)value;
        }

        public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

        private void Ensure(int more)
        {
            if (_length + more > _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + more));
            }
        }
    }

    private ref struct BlobReader(byte[] blob)
    {
        private readonly ReadOnlySpan<byte> _blob = blob;
        private int _position;

        public readonly bool AtEnd => _position == _blob.Length;

        public byte Byte() => _position < _blob.Length ? _blob[_position++] : throw Truncated();

        public ReadOnlySpan<byte> Bytes(int length)
        {
            if (length > _blob.Length - _position)
            {
                throw Truncated();
            }

            var bytes = _blob.Slice(_position, length);
            _position += length;
            return bytes;
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var next = Byte();
                value |= (ulong)(next & 0x7f) << shift;
                if ((next & 0x80) == 0)
                {
                    return value;
                }
            }

            throw new InvalidDataException("A raw usage batch holds a number longer than 64 bits.");
        }

        /// <summary>A count or index: at most the blob's length (a damaged count cannot make a huge array).</summary>
        public int Count()
        {
            var value = Varint();
            return value <= (ulong)_blob.Length ? (int)value : throw new InvalidDataException("A raw usage batch holds a count larger than itself.");
        }

        /// <summary>An index into a table of <paramref name="size"/> entries.</summary>
        public int Index(int size)
        {
            var value = Varint();
            return value < (ulong)size ? (int)value : throw new InvalidDataException("A raw usage batch names a string it does not hold.");
        }

        private static InvalidDataException Truncated() => new("A raw usage batch ends in the middle of a record.");
    }
}
