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
    /// <summary>The session password's check that came with the request is stale (the code's password changed meanwhile): check it again and resubmit.</summary>
    public bool NeedsPasswordCheck { get; init; }

    /// <summary>For a rate-limited request (errorCode 429): when to try again.</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static AuthOutcome Refused(int code, string message) => new(null, new ProtocolError(code, message));
}

/// <summary>A code with a session password, and its stored hash, that a request's password is checked against.</summary>
public sealed record PasswordTarget(string Code, string StoredHash);

/// <summary>The result of checking a request's session password against a code's stored hash, done before the writer.</summary>
public sealed record PasswordCheck(string StoredHash, bool Valid);

/// <summary>Decides whether one more new seat may be taken now (the listener's rate limits); null admits everything.</summary>
public interface INewSeatGate
{
    /// <summary>Takes one new-seat permit for the request's source and code, or says when to retry.</summary>
    bool TryAdmit(string handshakeCode, out TimeSpan retryAfter);
}

/// <summary>What the listener learned about an authorization before it reached the writer.</summary>
/// <param name="Password">The session password's check, when the request carried one and its code has a password.</param>
/// <param name="NewSeats">The rate limit on new seats for this request's source address and code.</param>
public sealed record AuthContext(PasswordCheck? Password, INewSeatGate? NewSeats);

public sealed record UsageRecord(
    DateTimeOffset Slice,
    string ItemId,
    string Product,
    long Count,
    string? InstanceId,
    IReadOnlyDictionary<string, long>? Features);

public sealed record ReportRequest(string ClientUuid, string HandshakeCode, string BatchId, IReadOnlyList<UsageRecord> Records);

/// <summary>A report record refused on its own (SPEC §4): its index in the batch and why (105, 104 or 400).</summary>
public sealed record RefusedRecord(int Index, int ErrorCode);

/// <summary>Answer to a report batch: numbers of records, and the records refused one by one.</summary>
public sealed record ReportAnswer(int Accepted, int Duplicates, DateTimeOffset HandshakeUpdateTime)
{
    public IReadOnlyList<RefusedRecord> RefusedRecords { get; init; } = [];

    public int Refused => RefusedRecords.Count;
}

public sealed record ReportOutcome(ReportAnswer? Answer, ProtocolError? Error)
{
    /// <summary>For a rate-limited request (errorCode 429): when to try again.</summary>
    public TimeSpan? RetryAfter { get; init; }
}
