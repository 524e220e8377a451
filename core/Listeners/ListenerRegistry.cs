using Dls.Core.Storage;

namespace Dls.Core.Listeners;

/// <summary>A listener process as it recorded itself in the store when it started.</summary>
public sealed record ListenerRecord(string Url, int ProcessId, DateTime? ProcessStartedAt, DateTime StartedAt, string Version);

/// <summary>
/// Listeners record themselves here when they start and remove themselves when they stop, so any
/// PowerShell session finds the listeners of a store (one per URL, SPEC §7).
/// </summary>
public sealed class ListenerRegistry(DlsStore store, TimeProvider time)
{
    public void Register(string url, int processId, DateTimeOffset? processStartedAt, string version) =>
        store.Write(work => work.Stores.Server.RegisterListener(work, url, processId, processStartedAt, time.GetUtcNow(), version));

    /// <summary>Removes the record of <paramref name="url"/> if it still names <paramref name="processId"/>.</summary>
    public void Unregister(string url, int processId) =>
        store.Write(work => work.Stores.Server.UnregisterListener(work, url, processId));

    public IReadOnlyList<ListenerRecord> List() =>
        store.Query(work => work.Stores.Server.Listeners(work));

    /// <summary>Listener URLs are compared in one normal form: scheme://host:port/ in lower case.</summary>
    public static string NormalizeUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new Errors.DlsException(
                Errors.ErrorIds.ListenerUrlInvalid,
                Errors.DlsErrorKind.InvalidArgument,
                $"'{url}' is not an http:// or https:// URL such as http://127.0.0.1:48080/.",
                url);
        }

        return $"{uri.Scheme}://{uri.Host.ToLowerInvariant()}:{uri.Port}/";
    }
}
