namespace Dls.Listener;

/// <summary>Request limits, set deliberately rather than left at Kestrel's defaults.</summary>
public static class ListenerLimits
{
    /// <summary>The largest body any endpoint takes (a report batch); smaller endpoints set their own.</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    public const long MaxConnections = 10_000;
}
