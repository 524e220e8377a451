using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;

namespace Dls.Client.Internal;

/// <summary>The JSON of the listener's two requests and their answers (docs/protocol.md).</summary>
internal static class Wire
{
    public static byte[] AuthBody(DlsLicenseKey key, DlsApplication application, string clientUuid, AuthRequestKey request, string requestId)
    {
        return Write(json =>
        {
            json.WriteString("handshakeCode", key.HandshakeCode);
            json.WriteString("organizationId", key.OrganizationId);
            if (key.SessionPassword is not null)
            {
                json.WriteString("sessionPassword", key.SessionPassword);
            }

            json.WriteString("clientUuid", clientUuid);
            json.WriteString("product", request.Product);
            json.WriteString("version", request.Version);
            json.WriteString("deployment", request.Deployment.ToString());
            Optional(json, "edition", request.Edition);
            Optional(json, "domain", application.Domain);
            Optional(json, "appId", application.AppId);
            Optional(json, "processName", application.ProcessName);
            Optional(json, "instanceId", request.InstanceId);
            if (application.InstanceCount is int count)
            {
                json.WriteNumber("instanceCount", count);
            }

            Optional(json, "os", Truncate(application.Os, 256));
            Optional(json, "sdkVersion", application.SdkVersion);
            json.WriteString("requestId", requestId);
        });
    }

    public static byte[] ReportBody(string clientUuid, string handshakeCode, string batchId, IEnumerable<UsageRecord> records)
    {
        return Write(json =>
        {
            json.WriteString("clientUuid", clientUuid);
            json.WriteString("handshakeCode", handshakeCode);
            json.WriteString("batchId", batchId);
            json.WriteStartArray("records");
            foreach (var record in records)
            {
                json.WriteStartObject();
                json.WriteString("slice", TimeSlice.Format(record.Slice));
                json.WriteString("itemId", record.ItemId);
                json.WriteString("product", record.Product);
                json.WriteNumber("count", record.Count);
                if (record.InstanceId is not null)
                {
                    json.WriteString("instanceId", record.InstanceId);
                }

                if (record.Features is { Count: > 0 })
                {
                    json.WriteStartObject("features");
                    foreach (var feature in record.Features)
                    {
                        json.WriteNumber(feature.Key, feature.Value);
                    }

                    json.WriteEndObject();
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
        });
    }

    /// <summary>A report body read back from a pending batch file; <see cref="FormatException"/> when it is damaged.</summary>
    public static (string ClientUuid, string HandshakeCode, string BatchId, List<UsageRecord> Records) ReadReport(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            var records = new List<UsageRecord>();
            foreach (var record in root.GetProperty("records").EnumerateArray())
            {
                Dictionary<string, long>? features = null;
                if (record.TryGetProperty("features", out var names))
                {
                    features = new Dictionary<string, long>(StringComparer.Ordinal);
                    foreach (var feature in names.EnumerateObject())
                    {
                        features[feature.Name] = feature.Value.GetInt64();
                    }
                }

                records.Add(new UsageRecord(
                    TokenVerifier.Time(record.GetProperty("slice")),
                    record.GetProperty("itemId").GetString()!,
                    record.GetProperty("product").GetString()!,
                    record.GetProperty("count").GetInt64(),
                    record.TryGetProperty("instanceId", out var instance) ? instance.GetString() : null,
                    features));
            }

            return (root.GetProperty("clientUuid").GetString()!, root.GetProperty("handshakeCode").GetString()!, root.GetProperty("batchId").GetString()!, records);
        }
        catch (Exception error) when (error is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or NullReferenceException)
        {
            throw new FormatException("The batch file is damaged.", error);
        }
    }

    /// <summary>Whether <paramref name="body"/> is a DLS error answer, <c>{"errorCode": N, ...}</c>.</summary>
    public static bool IsError(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("errorCode", out var code) && code.ValueKind == JsonValueKind.Number;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>An error answer's errorCode and message (the HTTP status when the body is not one).</summary>
    public static (int Code, string Message) ReadError(int status, byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("errorCode", out var code) && code.ValueKind == JsonValueKind.Number)
            {
                var message = root.TryGetProperty("message", out var text) && text.ValueKind == JsonValueKind.String ? text.GetString() : null;
                return (code.GetInt32(), message ?? $"HTTP {status}");
            }
        }
        catch (Exception error) when (error is JsonException or FormatException)
        {
        }

        return (status, $"HTTP {status}");
    }

    private static void Optional(Utf8JsonWriter json, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            json.WriteString(name, value);
        }
    }

    private static string? Truncate(string? value, int length) => value is not null && value.Length > length ? value.Substring(0, length) : value;

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            body(json);
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
