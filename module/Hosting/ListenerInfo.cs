namespace Dls.Module.Hosting;

public enum ListenerStatus
{
    /// <summary>The process is alive and answers /healthz.</summary>
    Running,

    /// <summary>The process is alive but /healthz does not answer (starting, or stuck).</summary>
    NotResponding,

    /// <summary>The recorded process is gone (it crashed or was killed without cleaning up).</summary>
    Exited,

    /// <summary>Stopped by Stop-DlsListener.</summary>
    Stopped,
}

/// <summary>A listener of the store as Start-, Get- and Stop-DlsListener report it.</summary>
public sealed record ListenerInfo(string Url, int ProcessId, ListenerStatus Status, string? Uuid, DateTime StartedAt, string StorePath);
