using System.Net;
using System.Text;

namespace Dls.Client.Tests;

/// <summary>
/// What answers at the key's address is not always a DLS listener (a proxy's login page, a captive portal, something
/// hostile): such an answer is no server, never a refusal that would cost the client its cache or its usage.
/// </summary>
public sealed class NotADlsServerTests : IDisposable
{
    private readonly string _cache = Directory.CreateTempSubdirectory("dls-client-foreign-").FullName;

    [Theory]
    [InlineData(403, "text/html", "<html><body>Sign in to the proxy first</body></html>", DlsClientException.Unreachable, "without a DLS answer")]
    [InlineData(200, "text/html", "<html><body>Welcome to the hotel network</body></html>", DlsClientException.Unreachable, "without a DLS answer")]
    [InlineData(200, "application/json", "{\"authorization\":\"not.a.token\"}", DlsClientException.InvalidToken, "does not verify")]
    public async Task An_answer_that_is_not_a_DLS_listeners_is_not_taken_for_one(int status, string type, string body, int errorCode, string said)
    {
        using var foreign = ForeignServer.Start((status, type, Encoding.UTF8.GetBytes(body)));
        using var client = DlsClient.Create(Key(foreign.Url), new DlsApplication("app"), new DlsClientOptions { CacheFolder = _cache, ReportInBackground = false });

        var failure = await Assert.ThrowsAsync<DlsClientException>(() => client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop));

        Assert.Equal(errorCode, failure.ErrorCode);
        Assert.Contains(said, failure.Message);
    }

    [Fact]
    public async Task An_answer_larger_than_any_listener_sends_is_not_read_whole()
    {
        var huge = Encoding.UTF8.GetBytes("{\"errorCode\":120,\"message\":\"" + new string('x', 4 * 1024 * 1024) + "\"}");
        using var foreign = ForeignServer.Start((409, "application/json", huge));
        using var client = DlsClient.Create(Key(foreign.Url), new DlsApplication("app"), new DlsClientOptions { CacheFolder = _cache, ReportInBackground = false });

        var failure = await Assert.ThrowsAsync<DlsClientException>(() => client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop));

        Assert.Equal(DlsClientException.Unreachable, failure.ErrorCode);
    }

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    private static string Key(string url) => Dls.Core.Licensing.LicenseKey.Encode(new Dls.Core.Licensing.LicenseKeyContent(
        "216998-app", "216998", url, string.Empty, null, Convert.ToBase64String(Dls.Core.Crypto.EcKeys.Create().ExportSubjectPublicKeyInfo())));

    /// <summary>An HTTP server on 127.0.0.1 that answers every request with one fixed answer.</summary>
    private sealed class ForeignServer : IDisposable
    {
        private readonly HttpListener _listener;

        private ForeignServer(HttpListener listener, string url)
        {
            _listener = listener;
            Url = url;
        }

        public string Url { get; }

        public static ForeignServer Start((int Status, string Type, byte[] Body) answer)
        {
            for (var attempt = 0; ; attempt++)
            {
                var url = Dls.Tests.LicensedServer.FreeLoopbackUrl();
                var listener = new HttpListener();
                listener.Prefixes.Add(url);
                try
                {
                    listener.Start();
                }
                catch (HttpListenerException) when (attempt < 5)
                {
                    continue;
                }

                _ = Task.Run(async () =>
                {
                    while (listener.IsListening)
                    {
                        HttpListenerContext context;
                        try
                        {
                            context = await listener.GetContextAsync();
                        }
                        catch (Exception error) when (error is HttpListenerException or ObjectDisposedException)
                        {
                            return;
                        }

                        context.Response.StatusCode = answer.Status;
                        context.Response.ContentType = answer.Type;
                        try
                        {
                            await context.Response.OutputStream.WriteAsync(answer.Body);
                            context.Response.Close();
                        }
                        catch (Exception error) when (error is HttpListenerException or IOException or ObjectDisposedException)
                        {
                        }
                    }
                });
                return new ForeignServer(listener, url);
            }
        }

        public void Dispose() => _listener.Close();
    }
}
