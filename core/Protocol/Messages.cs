using Dls.Core.Licensing;

namespace Dls.Core.Protocol;

/// <summary>An authorization request as SPEC §4 defines it, already validated for shape and length.</summary>
public sealed record AuthRequest(
    string? HandshakeCode,
    string? OrganizationId,
    string? SessionPassword,
    string ClientUuid,
    string Product,
    string Version,
    Deployment Deployment,
    string? Edition,
    string? Domain,
    string? AppId,
    string? ProcessName,
    string? InstanceId,
    int InstanceCount,
    string? Os,
    string? SdkVersion,
    string RequestId);

/// <summary>What an authorization grants; the token is signed over these fields plus clientUuid and serverUuid.</summary>
public sealed record AuthGrant(
    string HandshakeCode,
    string ItemId,
    LicenseMode Mode,
    DateTimeOffset GrantedUntil,
    DateTimeOffset CacheUntil,
    int ReportIntervalSeconds,
    DateTimeOffset HandshakeUpdateTime,
    DateTimeOffset ServerTime,
    string? Warning);

/// <summary>The outcome of an authorization: a grant or an error, never both.</summary>
public sealed record AuthOutcome(AuthGrant? Grant, ProtocolError? Error)
{
    public static AuthOutcome Refused(int code, string message) => new(null, new ProtocolError(code, message));
}

public sealed record UsageRecord(
    DateTimeOffset Slice,
    string ItemId,
    string Product,
    long Count,
    string? InstanceId,
    IReadOnlyDictionary<string, long>? Features);

public sealed record ReportRequest(string ClientUuid, string HandshakeCode, string BatchId, IReadOnlyList<UsageRecord> Records);

/// <summary>Answer to a report batch: numbers of records.</summary>
public sealed record ReportAnswer(int Accepted, int Duplicates, DateTimeOffset HandshakeUpdateTime);

public sealed record ReportOutcome(ReportAnswer? Answer, ProtocolError? Error);
