using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Dls.Core.Licensing;

namespace Dls.Core.Protocol;

/// <summary>
/// Reads request bodies of SPEC §4 with the input limits of the protocol. Every failure, for any input bytes, is a
/// <see cref="ProtocolException"/> with errorCode 400 (malformed, naming the field) or 413 (too large).
/// </summary>
/// <remarks>
/// One forward pass of <see cref="Utf8JsonReader"/> over the body, not a <see cref="JsonDocument"/>: the reader
/// sees what a document hides, and this is the hot path. It refuses what parsers disagree on or what cannot be
/// read back faithfully (docs/protocol.md, "Malformed input"): duplicate property names (one parser keeps the first
/// <c>count</c>, another the last), lone surrogate escapes (no string holds them), invalid UTF-8, a byte order mark,
/// integers written with a fraction or exponent (<c>1e3</c>, <c>1.0</c>), and nesting deeper than
/// <see cref="MaxDepth"/>. Unknown fields are ignored so newer clients keep working, but they are still checked
/// for those rules: a body is either well formed as a whole or refused as a whole.
/// </remarks>
public static class WireFormat
{
    public const int MaxAuthBodyBytes = 16 * 1024;
    public const int MaxReportBodyBytes = 1024 * 1024;
    public const int MaxRecords = 1000;
    public const int MaxDepth = 8;
    public const int MaxIdLength = 128;
    public const int MaxTextLength = 256;
    public const int MaxFeatures = 64;
    public const long MaxCount = 1_000_000_000;
    public const int MaxInstanceCount = 100_000;
    private const int MaxSliceLength = 64;

    // The reader's own depth limit sits one above ours so that our check, which names the field, always fires first.
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth + 1, AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow };

    // In the order of the enums below.
    private static readonly string[] AuthNames =
    [
        "handshakeCode", "organizationId", "sessionPassword", "clientUuid", "product", "version", "deployment", "edition",
        "domain", "appId", "processName", "instanceId", "instanceCount", "os", "sdkVersion", "requestId",
    ];

    private static readonly string[] ReportNames = ["clientUuid", "handshakeCode", "batchId", "records"];

    private static readonly string[] RecordNames = ["slice", "itemId", "product", "count", "instanceId", "features"];

    private static readonly byte[][] AuthFields = Encoded(AuthNames);

    // Filled as batches are read; two threads writing the same entry write equal strings.
    private static readonly string?[] RecordPaths = new string?[MaxRecords];

    private static readonly byte[][] ReportFields = Encoded(ReportNames);

    private static readonly byte[][] RecordFields = Encoded(RecordNames);

    private enum Auth { HandshakeCode, OrganizationId, SessionPassword, ClientUuid, Product, Version, Deployment, Edition, Domain, AppId, ProcessName, InstanceId, InstanceCount, Os, SdkVersion, RequestId }

    private enum Report { ClientUuid, HandshakeCode, BatchId, Records }

    private enum Record { Slice, ItemId, Product, Count, InstanceId, Features }

    public static AuthRequest ReadAuth(ReadOnlyMemory<byte> body)
    {
        var reader = Open(body.Span, MaxAuthBodyBytes);
        try
        {
            var texts = new string?[AuthFields.Length];
            long? instanceCount = null;
            var fields = new FieldSet(string.Empty);
            while (NextProperty(ref reader, ref fields, AuthFields, AuthNames, out var index))
            {
                var name = AuthNames[index];
                switch ((Auth)index)
                {
                    case Auth.InstanceCount:
                        instanceCount = Integer(ref reader, string.Empty, name, 1, MaxInstanceCount);
                        break;
                    case Auth.SessionPassword or Auth.Domain or Auth.AppId or Auth.ProcessName or Auth.Os:
                        texts[index] = Text(ref reader, string.Empty, name, MaxTextLength);
                        break;
                    default:
                        texts[index] = Text(ref reader, string.Empty, name, MaxIdLength);
                        break;
                }
            }

            End(ref reader);
            var deploymentText = Required(texts, (int)Auth.Deployment, AuthNames);
            if (!Enum.TryParse<Deployment>(deploymentText, ignoreCase: true, out var deployment) || !Enum.IsDefined(deployment) || int.TryParse(deploymentText, out _))
            {
                throw Malformed($"deployment '{deploymentText}' is not one of {string.Join(", ", Enum.GetNames<Deployment>())}.");
            }

            return new AuthRequest(
                texts[(int)Auth.HandshakeCode],
                texts[(int)Auth.OrganizationId],
                texts[(int)Auth.SessionPassword],
                Required(texts, (int)Auth.ClientUuid, AuthNames),
                Required(texts, (int)Auth.Product, AuthNames),
                Required(texts, (int)Auth.Version, AuthNames),
                deployment,
                texts[(int)Auth.Edition],
                texts[(int)Auth.Domain],
                texts[(int)Auth.AppId],
                texts[(int)Auth.ProcessName],
                texts[(int)Auth.InstanceId],
                (int)(instanceCount ?? 1),
                texts[(int)Auth.Os],
                texts[(int)Auth.SdkVersion],
                Required(texts, (int)Auth.RequestId, AuthNames));
        }
        catch (JsonException error)
        {
            throw NotJson(error);
        }
    }

    public static ReportRequest ReadReport(ReadOnlyMemory<byte> body)
    {
        var reader = Open(body.Span, MaxReportBodyBytes);
        try
        {
            var texts = new string?[ReportFields.Length];
            List<UsageRecord>? records = null;
            var fields = new FieldSet(string.Empty);
            while (NextProperty(ref reader, ref fields, ReportFields, ReportNames, out var index))
            {
                if ((Report)index == Report.Records)
                {
                    records = Records(ref reader);
                }
                else
                {
                    texts[index] = Text(ref reader, string.Empty, ReportNames[index], MaxIdLength);
                }
            }

            End(ref reader);
            return new ReportRequest(
                Required(texts, (int)Report.ClientUuid, ReportNames),
                Required(texts, (int)Report.HandshakeCode, ReportNames),
                Required(texts, (int)Report.BatchId, ReportNames),
                records ?? throw Malformed("records is required and must be an array."));
        }
        catch (JsonException error)
        {
            throw NotJson(error);
        }
    }

    /// <summary>The checks on the body as a whole, before any token is read; then the reader on the root object.</summary>
    private static Utf8JsonReader Open(ReadOnlySpan<byte> body, int limit)
    {
        if (body.Length > limit)
        {
            throw new ProtocolException(ErrorCodes.TooLarge, $"The body is larger than {limit} bytes.");
        }

        if (body.IsEmpty || body.Trim(" \t\r\n"u8).IsEmpty)
        {
            throw Malformed("The body is empty; send a JSON object.");
        }

        // RFC 8259 forbids senders to add one, and readers disagree on skipping it.
        if (body.StartsWith("\uFEFF"u8))
        {
            throw Malformed("The body starts with a byte order mark; send UTF-8 without one.");
        }

        // Checked once over the whole body (vectorized), so no string read later can meet a broken sequence.
        if (!Utf8.IsValid(body))
        {
            throw Malformed($"The body is not valid UTF-8 (at byte {FirstInvalidUtf8(body)}).");
        }

        var reader = new Utf8JsonReader(body, ReaderOptions);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw Malformed("The body must be a JSON object.");
            }
        }
        catch (JsonException error)
        {
            throw NotJson(error);
        }

        return reader;
    }

    /// <summary>After the root object: nothing but whitespace may follow (the reader throws on anything else).</summary>
    private static void End(ref Utf8JsonReader reader)
    {
        if (reader.Read())
        {
            throw Malformed("The body holds more than one JSON value.");
        }
    }

    private static List<UsageRecord> Records(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw Malformed("records is required and must be an array.");
        }

        var list = new List<UsageRecord>();
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                return list;
            }

            if (list.Count == MaxRecords)
            {
                throw new ProtocolException(ErrorCodes.TooLarge, $"A report batch holds at most {MaxRecords} records; this one has more. Split it.");
            }

            list.Add(UsageRecordAt(ref reader, list.Count));
        }
    }

    private static UsageRecord UsageRecordAt(ref Utf8JsonReader reader, int index)
    {
        var path = RecordPath(index);
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Malformed($"{path} must be a JSON object.");
        }

        string? slice = null, itemId = null, product = null, instanceId = null;
        DateTimeOffset? sliceStart = null;
        long? count = null;
        Dictionary<string, long>? features = null;
        var fields = new FieldSet(path);
        while (NextProperty(ref reader, ref fields, RecordFields, RecordNames, out var field))
        {
            var name = RecordNames[field];
            switch ((Record)field)
            {
                case Record.Slice:
                    // The usual slice (printable ASCII, an exact ISO-8601 time) is read from its bytes; any
                    // other goes the general way below, with its checks and messages.
                    if (TrySliceFromUtf8(ref reader, out var read))
                    {
                        sliceStart = read;
                    }
                    else
                    {
                        slice = Text(ref reader, path, name, MaxSliceLength);
                    }

                    break;
                case Record.ItemId:
                    itemId = Text(ref reader, path, name, MaxIdLength);
                    break;
                case Record.Product:
                    product = Text(ref reader, path, name, MaxIdLength);
                    break;
                case Record.Count:
                    count = Integer(ref reader, path, name, 0, MaxCount);
                    break;
                case Record.InstanceId:
                    instanceId = Text(ref reader, path, name, MaxIdLength);
                    break;
                case Record.Features:
                    features = Features(ref reader, $"{path}.{name}");
                    break;
            }
        }

        if (sliceStart is not { } start)
        {
            var sliceText = slice ?? throw Malformed($"{path}.slice is required.");
            if (!DateTimeOffset.TryParse(sliceText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out start))
            {
                throw Malformed($"{path}.slice '{sliceText}' is not an ISO-8601 time.");
            }
        }

        return new UsageRecord(
            Usage.TimeSlice.StartOf(start),
            itemId ?? throw Malformed($"{path}.itemId is required."),
            product ?? throw Malformed($"{path}.product is required."),
            count ?? throw Malformed($"{path}.count is required."),
            instanceId,
            features);
    }

    private static Dictionary<string, long>? Features(ref Utf8JsonReader reader, string path)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Malformed($"{path} must be an object of name: count.");
        }

        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return result;
            }

            if (result.Count == MaxFeatures)
            {
                throw Malformed($"{path} holds more than {MaxFeatures} names.");
            }

            var name = String(ref reader, path, string.Empty, " (a name)");
            if (name.Length == 0 || name.Length > MaxIdLength || HasControl(name))
            {
                throw Malformed($"{path} has a name that is empty, longer than {MaxIdLength} characters or holds control characters.");
            }

            if (result.ContainsKey(name))
            {
                throw Malformed($"{path}.{name} appears twice.");
            }

            Next(ref reader);
            result.Add(name, Integer(ref reader, path, name, 0, MaxCount) ?? throw Malformed($"{path}.{name} must be an integer between 0 and {MaxCount}."));
        }
    }

    /// <summary>
    /// Moves to the next property of the current object and onto its value. Known names give their index; unknown
    /// ones are checked and skipped. Returns false at the end of the object.
    /// </summary>
    private static bool NextProperty(ref Utf8JsonReader reader, ref FieldSet fields, byte[][] known, string[] names, out int index)
    {
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                index = -1;
                return false;
            }

            if (reader.ValueIsEscaped)
            {
                // Unescaping validates the escapes; a lone surrogate in a name is refused like one in a value.
                String(ref reader, fields.PathOrBody, string.Empty, " (a property name)");
            }

            for (index = 0; index < known.Length; index++)
            {
                if (reader.ValueTextEquals(known[index]))
                {
                    fields.Known(index, names[index]);
                    Next(ref reader);
                    return true;
                }
            }

            var name = reader.GetString()!;
            fields.Unknown(name);
            Next(ref reader);
            Skip(ref reader, fields.Child(name));
        }
    }

    /// <summary>
    /// Skips the value of an unknown field, still holding it to the rules of the whole body: depth, escapes,
    /// duplicate names.
    /// </summary>
    private static void Skip(ref Utf8JsonReader reader, string path)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                Deeper(ref reader, path);
                var fields = new FieldSet(path);
                while (NextProperty(ref reader, ref fields, [], [], out _))
                {
                }

                break;
            case JsonTokenType.StartArray:
                Deeper(ref reader, path);
                for (var i = 0; ; i++)
                {
                    Next(ref reader);
                    if (reader.TokenType == JsonTokenType.EndArray)
                    {
                        break;
                    }

                    Skip(ref reader, $"{path}[{i}]");
                }

                break;
            case JsonTokenType.String when reader.ValueIsEscaped:
                String(ref reader, path, string.Empty);
                break;
        }
    }

    private static void Deeper(ref Utf8JsonReader reader, string path)
    {
        // CurrentDepth counts the containers around this one; with it, CurrentDepth + 1 are open.
        if (reader.CurrentDepth + 1 > MaxDepth)
        {
            throw Malformed($"{path} nests JSON deeper than {MaxDepth} levels.");
        }
    }

    private static string? Text(ref Utf8JsonReader reader, string path, string name, int maxLength)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            throw Malformed($"{Path(path, name)} must be a string.");
        }

        // The length in UTF-8 bytes bounds the length in chars, so a long value is refused before it is decoded.
        if (!reader.ValueIsEscaped && reader.ValueSpan.Length > maxLength * 3)
        {
            throw Malformed($"{Path(path, name)} is longer than {maxLength} characters.");
        }

        var text = String(ref reader, path, name);
        if (text.Length > maxLength)
        {
            throw Malformed($"{Path(path, name)} is longer than {maxLength} characters.");
        }

        if (HasControl(text))
        {
            throw Malformed($"{Path(path, name)} contains control characters.");
        }

        // Blank is absent: a required field then says it is required.
        return string.IsNullOrWhiteSpace(text) ? null : text;
    }

    /// <summary>A string token or property name as text; an escape that makes no valid UTF-16 (a lone surrogate) is malformed.</summary>
    private static string String(ref Utf8JsonReader reader, string path, string name, string what = "")
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Malformed($"{Path(path, name)}{what} holds an invalid \\u escape (a lone surrogate); send the character itself or a surrogate pair.");
        }
    }

    /// <summary>
    /// An integer in [min, max], written as one: digits with an optional minus, no fraction or exponent (<c>1.0</c>
    /// and <c>1e3</c> are malformed, as JSON numbers of other parsers would round or overflow them differently).
    /// </summary>
    private static long? Integer(ref Utf8JsonReader reader, string path, string name, long min, long max)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        var digits = reader.TokenType == JsonTokenType.Number ? reader.ValueSpan : default;
        var negative = !digits.IsEmpty && digits[0] == (byte)'-';
        var magnitude = negative ? digits[1..] : digits;
        if (magnitude.IsEmpty
            || magnitude.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0
            || !Utf8Parser.TryParse(digits, out long value, out var consumed)
            || consumed != digits.Length
            || value < min
            || value > max)
        {
            throw Malformed($"{Path(path, name)} must be an integer between {min} and {max}.");
        }

        return value;
    }

    /// <summary>
    /// Whether <paramref name="text"/> holds a character <see cref="char.IsControl(char)"/> names (U+0000–U+001F,
    /// U+007F–U+009F): the same test, vectorized instead of a delegate call per character.
    /// </summary>
    private static bool HasControl(string text) =>
        text.AsSpan().IndexOfAnyInRange('\u0000', '\u001F') >= 0 || text.AsSpan().IndexOfAnyInRange('\u007F', '\u009F') >= 0;

    /// <summary>
    /// A slice read straight from the token's bytes when it is the common shape, <c>yyyy-MM-ddTHH:mm:ss</c>, an
    /// optional fraction of up to 7 digits, and <c>Z</c> or <c>±HH:mm</c>, in printable ASCII (once unescaped). Such a
    /// value passes every check of <see cref="Text"/>, and <see cref="DateTimeOffset.TryParse(string, IFormatProvider, DateTimeStyles, out DateTimeOffset)"/>
    /// gives it this same instant, so nothing changes but the cost: no string and no culture-aware parser per record.
    /// False for anything else, which then goes the general way, with its checks and messages.
    /// </summary>
    private static bool TrySliceFromUtf8(ref Utf8JsonReader reader, out DateTimeOffset start)
    {
        start = default;
        if (reader.TokenType != JsonTokenType.String || reader.HasValueSequence)
        {
            return false;
        }

        var text = reader.ValueSpan;
        if (reader.ValueIsEscaped)
        {
            // Serializers with the default encoder write the '+' of an offset as \u002B. Unescaped, the text is never
            // longer than escaped; a value that cannot be a slice is not unescaped at all.
            if (text.Length > MaxSliceLength * 6)
            {
                return false;
            }

            Span<byte> unescaped = stackalloc byte[text.Length];
            int length;
            try
            {
                length = reader.CopyString(unescaped);
            }
            catch (InvalidOperationException)
            {
                // A lone surrogate escape: the general way refuses it with its message.
                return false;
            }

            return IsSliceShaped(unescaped[..length]) && TryParseIsoTime(unescaped[..length], out start);
        }

        return IsSliceShaped(text) && TryParseIsoTime(text, out start);
    }

    /// <summary>Printable ASCII without spaces, no longer than a slice may be: <see cref="Text"/> would take it as it is.</summary>
    private static bool IsSliceShaped(ReadOnlySpan<byte> text) =>
        text.Length <= MaxSliceLength && text.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7E) < 0;

    /// <summary>The strict ISO-8601 shape <see cref="TrySliceFromUtf8"/> takes, in UTC; false for anything else or out of range.</summary>
    internal static bool TryParseIsoTime(ReadOnlySpan<byte> text, out DateTimeOffset time)
    {
        time = default;
        if (text.Length < 20
            || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':'
            || !FixedDigits(text[..4], out var year) || !FixedDigits(text.Slice(5, 2), out var month)
            || !FixedDigits(text.Slice(8, 2), out var day) || !FixedDigits(text.Slice(11, 2), out var hour)
            || !FixedDigits(text.Slice(14, 2), out var minute) || !FixedDigits(text.Slice(17, 2), out var second)
            || year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        var rest = text[19..];
        long fraction = 0;
        if (rest[0] == '.')
        {
            var digits = rest[1..].IndexOfAnyExceptInRange((byte)'0', (byte)'9');
            if (digits is < 1 or > 7)
            {
                return false;
            }

            for (var i = 1; i <= 7; i++)
            {
                fraction = fraction * 10 + (i <= digits ? rest[i] - '0' : 0);
            }

            rest = rest[(digits + 1)..];
        }

        long offsetMinutes;
        if (rest.Length == 1 && rest[0] == 'Z')
        {
            offsetMinutes = 0;
        }
        else if (rest.Length == 6 && rest[0] is (byte)'+' or (byte)'-' && rest[3] == ':'
            && FixedDigits(rest.Slice(1, 2), out var offsetHours) && FixedDigits(rest.Slice(4, 2), out var offsetMinute)
            && offsetMinute <= 59 && offsetHours * 60 + offsetMinute <= 14 * 60)
        {
            offsetMinutes = (offsetHours * 60 + offsetMinute) * (rest[0] == '-' ? -1 : 1);
        }
        else
        {
            return false;
        }

        var utcTicks = new DateTime(year, month, day, hour, minute, second).Ticks + fraction - offsetMinutes * TimeSpan.TicksPerMinute;
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
        {
            return false;
        }

        time = new DateTimeOffset(utcTicks, TimeSpan.Zero);
        return true;
    }

    /// <summary>Fixed-width ASCII digits as a number.</summary>
    private static bool FixedDigits(ReadOnlySpan<byte> digits, out int value)
    {
        value = 0;
        foreach (var digit in digits)
        {
            if (digit is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            value = value * 10 + (digit - '0');
        }

        return true;
    }

    /// <summary>A record's name in messages, built once per index for the whole process rather than once per record read.</summary>
    private static string RecordPath(int index) => RecordPaths[index] ??= $"records[{index}]";

    private static string Required(string?[] texts, int index, string[] names) =>
        texts[index] ?? throw Malformed($"{names[index]} is required.");

    /// <summary>A field's name as messages give it, built only when one is written.</summary>
    private static string Path(string path, string name) =>
        path.Length == 0 ? (name.Length == 0 ? "the body" : name) : name.Length == 0 ? path : $"{path}.{name}";

    private static void Next(ref Utf8JsonReader reader)
    {
        // With the final block in hand the reader throws on truncation itself; this guards the contract.
        if (!reader.Read())
        {
            throw Malformed("The body ends inside the JSON.");
        }
    }

    private static byte[][] Encoded(string[] names) => names.Select(Encoding.UTF8.GetBytes).ToArray();

    /// <summary>Where the first broken sequence starts; only on the refusal path, and without a buffer the size of the body.</summary>
    private static int FirstInvalidUtf8(ReadOnlySpan<byte> body)
    {
        var offset = 0;
        while (offset < body.Length)
        {
            var ascii = body[offset..].IndexOfAnyExceptInRange((byte)0, (byte)0x7F);
            if (ascii < 0)
            {
                break;
            }

            offset += ascii;
            if (Rune.DecodeFromUtf8(body[offset..], out _, out var consumed) != OperationStatus.Done)
            {
                return offset;
            }

            offset += consumed;
        }

        return offset;
    }

    private static ProtocolException NotJson(JsonException error) =>
        Malformed($"The body is not valid JSON: {error.Message}");

    private static ProtocolException Malformed(string message) => new(ErrorCodes.Malformed, message);

    /// <summary>The names seen in one object: a bit per known field, a set for unknown ones (only newer clients send any).</summary>
    private struct FieldSet(string path)
    {
        private ulong _known;
        private HashSet<string>? _unknown;

        public readonly string PathOrBody => path.Length == 0 ? "the body" : path;

        public void Known(int index, string name)
        {
            var bit = 1UL << index;
            if ((_known & bit) != 0)
            {
                throw Malformed($"{Child(name)} appears twice.");
            }

            _known |= bit;
        }

        public void Unknown(string name)
        {
            if (!(_unknown ??= new HashSet<string>(StringComparer.Ordinal)).Add(name))
            {
                throw Malformed($"{Child(name)} appears twice.");
            }
        }

        public readonly string Child(string name) => path.Length == 0 ? name : $"{path}.{name}";
    }
}
