namespace Dls.Core.Licensing;

/// <summary>
/// A handshake code ("project", SPEC §2): what an application is configured with. <see cref="ItemIds"/> is
/// in consumption order. The session password is kept only as a salted slow hash (<see cref="PasswordHash"/>).
/// </summary>
public sealed record HandshakeCode(
    string Code,
    string OrganizationId,
    string Name,
    IReadOnlyList<string> ItemIds,
    bool IsDefault,
    bool Enabled,
    string Description,
    IReadOnlyList<string> AllowedDomains,
    IReadOnlyList<string> AllowedAppIds,
    IReadOnlyList<string> AllowedProcessNames,
    DateTime CreatedAt,
    DateTime UpdatedAt)
{
    /// <summary>The stored password hash, or null when the code has no session password. Never shown.</summary>
    internal string? PasswordHash { get; init; }

    public bool HasSessionPassword => PasswordHash is not null;
}
