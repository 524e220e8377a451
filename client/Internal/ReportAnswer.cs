using System;
using System.Collections.Generic;
using System.Text.Json;

namespace Dls.Client.Internal;

/// <summary>The listener's answer to a report batch: <c>{accepted, duplicates, refused, refusedRecords, handshakeUpdateTime}</c>.</summary>
internal sealed class ReportAnswer
{
    private ReportAnswer(int accepted, int duplicates, List<(int Index, int ErrorCode)> refused, DateTimeOffset? handshakeUpdateTime)
    {
        Accepted = accepted;
        Duplicates = duplicates;
        Refused = refused;
        HandshakeUpdateTime = handshakeUpdateTime;
    }

    public int Accepted { get; }

    public int Duplicates { get; }

    public List<(int Index, int ErrorCode)> Refused { get; }

    public DateTimeOffset? HandshakeUpdateTime { get; }

    /// <summary>The answer's fields; what is missing or unreadable counts as zero (the batch was acknowledged either way).</summary>
    public static ReportAnswer Read(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            var refused = new List<(int, int)>();
            if (root.TryGetProperty("refusedRecords", out var records) && records.ValueKind == JsonValueKind.Array)
            {
                foreach (var record in records.EnumerateArray())
                {
                    refused.Add((record.GetProperty("index").GetInt32(), record.GetProperty("errorCode").GetInt32()));
                }
            }

            DateTimeOffset? changedAt = root.TryGetProperty("handshakeUpdateTime", out var time) && time.ValueKind == JsonValueKind.String
                ? TokenVerifier.Time(time)
                : null;
            return new ReportAnswer(Number(root, "accepted"), Number(root, "duplicates"), refused, changedAt);
        }
        catch (Exception error) when (error is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            return new ReportAnswer(0, 0, new List<(int, int)>(), null);
        }
    }

    private static int Number(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : 0;
}
