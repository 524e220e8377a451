namespace Dls.Core.Server;

/// <summary>The server's identity as the administrator sees it (no private key).</summary>
public sealed record ServerInfo(
    string Uuid,
    string OrganizationId,
    string StorePath,
    string Version,
    ServerRole Role,
    string MainServerUrl,
    string StandbyServerUrl,
    string PublicKey,
    DateTime CreatedAt)
{
    /// <summary>How many days raw usage records are kept (roll-ups are kept for ever); see docs/usage.md.</summary>
    public int UsageRetentionDays { get; init; } = Usage.UsageRetention.DefaultDays;

    /// <summary>How the listener protects the accounting (Set-DlsServer -MaxCountPerSlice, -NewSeatsPerMinute, ...).</summary>
    public ProtectionSettings Protection { get; init; } = ProtectionSettings.Default;

    public long MaxCountPerSlice => Protection.MaxCountPerSlice;

    public int NewSeatsPerMinute => Protection.NewSeatsPerMinute;

    public int NewSeatsPerMinutePerCode => Protection.NewSeatsPerMinutePerCode;

    public int FailedAuthorizationsPerMinute => Protection.FailedAuthorizationsPerMinute;

    public int FailedAuthorizationsPerMinutePerCode => Protection.FailedAuthorizationsPerMinutePerCode;

    public bool PublicHomePage => Protection.PublicHomePage;

    /// <summary>The server public key's SubjectPublicKeyInfo DER, as license keys carry it.</summary>
    public byte[] PublicKeyDer() => Crypto.EcKeys.ParsePublicKey(PublicKey);
}
