using System.Globalization;
using System.Text.Json;
using Dls.Core.Licensing;

namespace Dls.Core.Protocol;

/// <summary>
/// Reads request bodies of SPEC §4 with the input limits of the protocol. Every failure is a
/// <see cref="ProtocolException"/> with errorCode 400 (malformed, naming the field) or 413 (too large).
/// Unknown fields are ignored so newer clients keep working.
/// </summary>
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

    private static readonly JsonDocumentOptions Options = new() { MaxDepth = MaxDepth, AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow };

    public static AuthRequest ReadAuth(ReadOnlyMemory<byte> body)
    {
        using var document = Parse(body, MaxAuthBodyBytes);
        var root = Object(document.RootElement, "body");
        var deploymentText = Text(root, "deployment", MaxIdLength, required: true)!;
        if (!Enum.TryParse<Deployment>(deploymentText, ignoreCase: true, out var deployment) || !Enum.IsDefined(deployment) || int.TryParse(deploymentText, out _))
        {
            throw Malformed($"deployment '{deploymentText}' is not one of {string.Join(", ", Enum.GetNames<Deployment>())}.");
        }

        var instanceCount = Integer(root, "instanceCount") ?? 1;
        if (instanceCount < 1 || instanceCount > 100_000)
        {
            throw Malformed("instanceCount must be between 1 and 100000.");
        }

        return new AuthRequest(
            Text(root, "handshakeCode", MaxIdLength),
            Text(root, "organizationId", MaxIdLength),
            Text(root, "sessionPassword", MaxTextLength),
            Text(root, "clientUuid", MaxIdLength, required: true)!,
            Text(root, "product", MaxIdLength, required: true)!,
            Text(root, "version", MaxIdLength, required: true)!,
            deployment,
            Text(root, "edition", MaxIdLength),
            Text(root, "domain", MaxTextLength),
            Text(root, "appId", MaxTextLength),
            Text(root, "processName", MaxTextLength),
            Text(root, "instanceId", MaxIdLength),
            (int)instanceCount,
            Text(root, "os", MaxTextLength),
            Text(root, "sdkVersion", MaxIdLength),
            Text(root, "requestId", MaxIdLength, required: true)!);
    }

    public static ReportRequest ReadReport(ReadOnlyMemory<byte> body)
    {
        using var document = Parse(body, MaxReportBodyBytes);
        var root = Object(document.RootElement, "body");
        if (!root.TryGetProperty("records", out var records) || records.ValueKind != JsonValueKind.Array)
        {
            throw Malformed("records is required and must be an array.");
        }

        var count = records.GetArrayLength();
        if (count > MaxRecords)
        {
            throw new ProtocolException(ErrorCodes.TooLarge, $"A report batch holds at most {MaxRecords} records; this one has {count}. Split it.");
        }

        var list = new List<UsageRecord>(count);
        var index = 0;
        foreach (var element in records.EnumerateArray())
        {
            var field = $"records[{index}]";
            var record = Object(element, field);
            var sliceText = Text(record, "slice", 64, required: true, prefix: field)!;
            if (!DateTimeOffset.TryParse(sliceText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var slice))
            {
                throw Malformed($"{field}.slice '{sliceText}' is not an ISO-8601 time.");
            }

            var value = Integer(record, "count", field) ?? throw Malformed($"{field}.count is required.");
            if (value < 0 || value > MaxCount)
            {
                throw Malformed($"{field}.count must be between 0 and {MaxCount}.");
            }

            list.Add(new UsageRecord(
                Usage.TimeSlice.StartOf(slice),
                Text(record, "itemId", MaxIdLength, required: true, prefix: field)!,
                Text(record, "product", MaxIdLength, required: true, prefix: field)!,
                value,
                Text(record, "instanceId", MaxIdLength, prefix: field),
                Features(record, field)));
            index++;
        }

        return new ReportRequest(
            Text(root, "clientUuid", MaxIdLength, required: true)!,
            Text(root, "handshakeCode", MaxIdLength, required: true)!,
            Text(root, "batchId", MaxIdLength, required: true)!,
            list);
    }

    private static JsonDocument Parse(ReadOnlyMemory<byte> body, int limit)
    {
        if (body.Length > limit)
        {
            throw new ProtocolException(ErrorCodes.TooLarge, $"The body is larger than {limit} bytes.");
        }

        try
        {
            return JsonDocument.Parse(body, Options);
        }
        catch (JsonException error)
        {
            throw Malformed($"The body is not valid JSON: {error.Message}");
        }
    }

    private static JsonElement Object(JsonElement element, string field) =>
        element.ValueKind == JsonValueKind.Object ? element : throw Malformed($"{field} must be a JSON object.");

    private static string? Text(JsonElement parent, string name, int maxLength, bool required = false, string? prefix = null)
    {
        var field = prefix is null ? name : $"{prefix}.{name}";
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return required ? throw Malformed($"{field} is required.") : null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw Malformed($"{field} must be a string.");
        }

        var text = value.GetString()!;
        if (text.Length > maxLength)
        {
            throw Malformed($"{field} is longer than {maxLength} characters.");
        }

        if (text.Any(char.IsControl))
        {
            throw Malformed($"{field} contains control characters.");
        }

        if (text.Trim().Length == 0)
        {
            return required ? throw Malformed($"{field} must not be empty.") : null;
        }

        return text;
    }

    private static long? Integer(JsonElement parent, string name, string? prefix = null)
    {
        var field = prefix is null ? name : $"{prefix}.{name}";
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number)
            ? number
            : throw Malformed($"{field} must be an integer.");
    }

    private static Dictionary<string, long>? Features(JsonElement record, string field)
    {
        if (!record.TryGetProperty("features", out var features) || features.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (features.ValueKind != JsonValueKind.Object)
        {
            throw Malformed($"{field}.features must be an object of name: count.");
        }

        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var feature in features.EnumerateObject())
        {
            if (result.Count == MaxFeatures)
            {
                throw Malformed($"{field}.features holds more than {MaxFeatures} names.");
            }

            if (feature.Name.Length == 0 || feature.Name.Length > MaxIdLength || feature.Name.Any(char.IsControl))
            {
                throw Malformed($"{field}.features has a name that is empty, longer than {MaxIdLength} characters or holds control characters.");
            }

            if (feature.Value.ValueKind != JsonValueKind.Number || !feature.Value.TryGetInt64(out var count) || count < 0 || count > MaxCount)
            {
                throw Malformed($"{field}.features.{feature.Name} must be an integer between 0 and {MaxCount}.");
            }

            result[feature.Name] = count;
        }

        return result;
    }

    private static ProtocolException Malformed(string message) => new(ErrorCodes.Malformed, message);
}
