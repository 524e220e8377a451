using Dls.Core.Server;
using Dls.Core.Storage;

namespace Dls.Core.Listeners;

/// <summary>
/// Listeners record themselves here when they start, write a heartbeat while they run (<see cref="ListenerLiveness"/>)
/// and remove themselves when they stop, so any PowerShell session finds the listeners of a store (one per machine and URL, SPEC §7)
/// and a standby knows whether a main is alive.
/// </summary>
public sealed class ListenerRegistry(DlsStore store, TimeProvider time)
{
    /// <summary>Records (or replaces) the listener at <paramref name="url"/> as this machine's process <paramref name="processId"/>, with a first heartbeat.</summary>
    public void Register(string url, int processId, DateTimeOffset? processStartedAt, string version, ServerRole role = ServerRole.Main, bool serving = false) =>
        store.Write(work => work.Stores.Server.RegisterListener(
            work, url, processId, processStartedAt, time.GetUtcNow(), version, role.ToString(), Environment.MachineName, serving));

    /// <summary>
    /// Writes the heartbeat of this machine's process <paramref name="processId"/> at each of <paramref name="urls"/>,
    /// and reads every listener of the store, in one transaction. A record that is gone (removed by Stop-DlsListener,
    /// or by a restore) is written again unless another listener has taken its URL meanwhile.
    /// </summary>
    /// <returns>Every listener of the store, this one included, as of the heartbeat.</returns>
    public IReadOnlyList<ListenerRecord> Heartbeat(
        IReadOnlyList<string> urls, int processId, DateTimeOffset? processStartedAt, string version, ServerRole role, bool serving) =>
        store.Write(work =>
        {
            var now = time.GetUtcNow();
            foreach (var url in urls)
            {
                if (!work.Stores.Server.Heartbeat(work, url, processId, Environment.MachineName, now, serving))
                {
                    work.Stores.Server.RegisterListenerIfFree(
                        work, url, processId, processStartedAt, now, version, role.ToString(), Environment.MachineName, serving);
                }
            }

            return work.Stores.Server.Listeners(work);
        });

    /// <summary>Removes this machine's record of <paramref name="url"/> if it still names <paramref name="processId"/>.</summary>
    public void Unregister(string url, int processId) =>
        store.Write(work => work.Stores.Server.UnregisterListener(work, url, processId, Environment.MachineName));

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
