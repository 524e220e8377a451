using System.Text.Json;
using System.Text.Json.Serialization;
using Dls.Listener.Endpoints;

namespace Dls.Listener.Protocol;

/// <summary>
/// The protocol's answers, serialized by generated code rather than reflection: the web defaults every answer was
/// written with before (camelCase names; <c>warning</c> left out when null by its own attribute), so the bytes are the same.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(AuthEndpoints.AuthAnswer))]
[JsonSerializable(typeof(ReportEndpoints.ReportAnswerBody))]
[JsonSerializable(typeof(ProtocolResults.ErrorAnswer))]
[JsonSerializable(typeof(HealthEndpoints.Health))]
internal sealed partial class ListenerJsonContext : JsonSerializerContext;
