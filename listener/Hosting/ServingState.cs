using Dls.Core.Server;

namespace Dls.Listener.Hosting;

/// <summary>
/// This listener's role and what its last heartbeat decided (SPEC §7, <see cref="Dls.Core.Listeners.ServingRule"/>):
/// whether it serves auth and report requests, and whether it is alone on its store (then, and only then, its roll-ups
/// may wait for a later commit). Written by <see cref="ListenerHeartbeat"/>, read by every request.
/// </summary>
public sealed class ServingState
{
    private volatile bool _serving;
    private volatile bool _alone;

    public ServingState(ServerRole role)
    {
        Role = role;

        // A main serves from the start; a standby once its first heartbeat has found no main alive.
        _serving = role == ServerRole.Main;
    }

    public ServerRole Role { get; }

    /// <summary>Whether auth and report requests are served (false: they are answered 100 and write nothing).</summary>
    public bool Serving => _serving;

    /// <summary>Whether no other listener of the store is alive.</summary>
    public bool Alone => _alone;

    /// <summary>Whether roll-ups may wait for a later commit: a main, serving, and the store's only listener.</summary>
    public bool MayDefer => Role == ServerRole.Main && _serving && _alone;

    /// <summary>The role given (<c>--role</c>), else the store's (<c>Set-DlsServer -Role</c>).</summary>
    public static ServingState For(string? role, ServerService server)
    {
        if (!TryParseRole(role, out var given))
        {
            throw new ArgumentException($"--role must be Main or Standby, not '{role}'.", nameof(role));
        }

        return new ServingState(given ?? server.Get().Role);
    }

    /// <summary>Reads a role option: empty is none (the store decides); otherwise Main or Standby, in any case.</summary>
    public static bool TryParseRole(string? text, out ServerRole? role)
    {
        role = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        if (!char.IsAsciiDigit(text.Trim()[0]) && Enum.TryParse<ServerRole>(text.Trim(), ignoreCase: true, out var parsed) && Enum.IsDefined(parsed))
        {
            role = parsed;
            return true;
        }

        return false;
    }

    /// <summary>Records what the last heartbeat decided.</summary>
    public void Update(bool serving, bool alone)
    {
        // Alone first: a request that sees the new serving state must not defer on a stale "alone".
        _alone = alone && serving;
        _serving = serving;
    }
}
