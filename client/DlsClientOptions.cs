using System;
using System.Net.Http;

namespace Dls.Client;

/// <summary>How a <see cref="DlsClient"/> works; every setting has a default that suits an application.</summary>
public sealed class DlsClientOptions
{
    /// <summary>
    /// The per-user folder of the client's cache: the device UUID, and per application the cached authorizations and
    /// the usage batches not yet acknowledged. Default: <c>DLS/client</c> in the user's local application data
    /// (<c>%LOCALAPPDATA%</c>, <c>~/.local/share</c>, <c>~/Library/Application Support</c>).
    /// </summary>
    public string? CacheFolder { get; set; }

    /// <summary>How long one HTTP request may take before the client gives up on that server (default 10 s).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>After the main server fails, the first wait before it is tried again (doubling, jittered; default 1 s).</summary>
    public TimeSpan MinBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait before a failed main server is tried again (default 60 s).</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Whether usage is sent in the background every <c>reportIntervalSeconds</c> (default true). Off, usage is sent by
    /// <see cref="DlsClient.FlushAsync"/> and <see cref="DlsClient.DisposeAsync"/> only.
    /// </summary>
    public bool ReportInBackground { get; set; } = true;

    /// <summary>How long <see cref="DlsClient.DisposeAsync"/> may spend sending what is left (default 10 s); what is not sent stays on disk.</summary>
    public TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The clock (tests move it; default the system's).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>The HTTP handler (a proxy, a certificate check); default a new <see cref="HttpClientHandler"/>.</summary>
    public HttpMessageHandler? HttpHandler { get; set; }

    internal void Validate()
    {
        if (RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"RequestTimeout must be more than zero, not {RequestTimeout}.", nameof(RequestTimeout));
        }

        if (MinBackoff <= TimeSpan.Zero || MaxBackoff < MinBackoff)
        {
            throw new ArgumentException($"The back-off must run from more than zero up (MinBackoff {MinBackoff}, MaxBackoff {MaxBackoff}).", nameof(MinBackoff));
        }

        if (DisposeTimeout < TimeSpan.Zero)
        {
            throw new ArgumentException($"DisposeTimeout cannot be negative ({DisposeTimeout}).", nameof(DisposeTimeout));
        }

        if (TimeProvider is null)
        {
            throw new ArgumentException("TimeProvider is required.", nameof(TimeProvider));
        }
    }
}
