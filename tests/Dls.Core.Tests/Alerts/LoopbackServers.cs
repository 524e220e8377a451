using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using MimeKit;
using SmtpServer;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace Dls.Core.Tests.Alerts;

/// <summary>A real SMTP server (the SmtpServer library) on 127.0.0.1 that keeps what it receives.</summary>
public sealed class LoopbackSmtpServer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly SmtpServer.SmtpServer _server;
    private readonly Task _running;

    private LoopbackSmtpServer(int port, bool plainAuthentication)
    {
        Port = port;
        var options = new SmtpServerOptionsBuilder()
            .ServerName("localhost")
            .Endpoint(b => b.Endpoint(new IPEndPoint(IPAddress.Loopback, port)).AllowUnsecureAuthentication(plainAuthentication).AuthenticationRequired(false))
            .Build();
        var services = new SmtpServer.ComponentModel.ServiceProvider();
        services.Add(new Keeper(Messages));
        services.Add(new SmtpServer.Authentication.DelegatingUserAuthenticator((user, password) =>
        {
            Credentials.Enqueue((user, password));
            return true;
        }));
        _server = new SmtpServer.SmtpServer(options, services);
        _server.SessionCreated += (_, session) => session.Context.CommandExecuting += (_, command) => Commands.Enqueue(command.Command.Name);
        _running = _server.StartAsync(_stop.Token);
    }

    public int Port { get; }

    public ConcurrentQueue<MimeMessage> Messages { get; } = new();

    /// <summary>Every command a client sent (EHLO, AUTH, MAIL, ...), in order.</summary>
    public ConcurrentQueue<string> Commands { get; } = new();

    /// <summary>The user names and passwords clients authenticated with (any is accepted).</summary>
    public ConcurrentQueue<(string User, string Password)> Credentials { get; } = new();

    /// <summary>
    /// Starts on <paramref name="port"/>, or a free one. The server never offers STARTTLS (it has no certificate);
    /// with <paramref name="plainAuthentication"/> it offers AUTH PLAIN/LOGIN over the plain connection.
    /// </summary>
    /// <remarks>
    /// A free port is only free when it was probed: another process of the suite (a listener on port 0, a PostgreSQL
    /// cluster) may bind it before the server does. The server then fails to listen (its run ends with "address already
    /// in use") while the port answers for the other process, so a failed start is retried on another free port.
    /// </remarks>
    public static async Task<LoopbackSmtpServer> StartAsync(int? port = null, bool plainAuthentication = false)
    {
        for (var attempt = 1; ; attempt++)
        {
            var server = new LoopbackSmtpServer(port ?? FreePort(), plainAuthentication);
            await Eventually.Until(async () => server._running.IsCompleted || await IsOpenAsync(server.Port), TimeSpan.FromSeconds(5));
            await Task.Delay(TimeSpan.FromMilliseconds(50));
            if (!server._running.IsCompleted)
            {
                return server;
            }

            var failure = server._running.Exception?.GetBaseException();
            server._server.Shutdown();
            server._stop.Dispose();
            if (port is not null || attempt == 5 || failure is not SocketException)
            {
                throw new InvalidOperationException($"The test SMTP server did not start on port {server.Port}.", failure);
            }
        }
    }

    public static int FreePort()
    {
        var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        try
        {
            return ((IPEndPoint)socket.LocalEndpoint).Port;
        }
        finally
        {
            socket.Stop();
        }
    }

    public async Task<IReadOnlyList<MimeMessage>> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        await Eventually.Until(() => Messages.Count >= count, timeout ?? TimeSpan.FromSeconds(10));
        return Messages.ToList();
    }

    public async ValueTask DisposeAsync()
    {
        _server.Shutdown();
        await _stop.CancelAsync();
        try
        {
            await _running.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private static async Task<bool> IsOpenAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private sealed class Keeper(ConcurrentQueue<MimeMessage> messages) : MessageStore
    {
        public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            using var stream = new MemoryStream(buffer.ToArray());
            messages.Enqueue(await MimeMessage.LoadAsync(stream, cancellationToken));
            return SmtpResponse.Ok;
        }
    }
}

/// <summary>A webhook receiver on 127.0.0.1 (HttpListener) that keeps each request's headers and body.</summary>
public sealed class LoopbackWebhook : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;

    public LoopbackWebhook(int status = 200)
    {
        Status = status;
        Port = LoopbackSmtpServer.FreePort();
        Url = $"http://127.0.0.1:{Port}/hook/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public string Url { get; }

    public int Status { get; set; }

    /// <summary>The Location header sent with the answer (a redirect), if any.</summary>
    public string? Location { get; set; }

    public ConcurrentQueue<(string Timestamp, string? Signature, string ContentType, byte[] Body)> Requests { get; } = new();

    public void Dispose()
    {
        _listener.Close();
        _ = _loop.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception error) when (error is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            Requests.Enqueue((context.Request.Headers["X-Dls-Timestamp"] ?? string.Empty, context.Request.Headers["X-Dls-Signature"], context.Request.ContentType ?? string.Empty, body.ToArray()));
            context.Response.StatusCode = Status;
            if (Location is not null)
            {
                context.Response.RedirectLocation = Location;
            }

            context.Response.Close();
        }
    }
}
