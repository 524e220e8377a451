using System.Buffers;
using System.Net;
using SmtpServer;
using SmtpServer.Protocol;
using SmtpServer.Storage;

// Usage: dotnet SmtpSink.dll <port> <folder>
// Listens on 127.0.0.1:<port>, writes every message it accepts to <folder>/<n>.eml, and stops on Ctrl+C,
// SIGTERM, or when its standard input closes (so a test that dies does not leave it behind).
if (args.Length != 2 || !int.TryParse(args[0], out var port))
{
    Console.Error.WriteLine("usage: SmtpSink <port> <folder>");
    return 2;
}

var folder = Directory.CreateDirectory(args[1]).FullName;
// Not disposed: the exit handlers below may still fire while the process ends.
var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
_ = Task.Run(async () =>
{
    await Console.In.ReadToEndAsync();
    await stop.CancelAsync();
});

var options = new SmtpServerOptionsBuilder()
    .ServerName("localhost")
    .Endpoint(b => b.Endpoint(new IPEndPoint(IPAddress.Loopback, port)))
    .Build();
var services = new SmtpServer.ComponentModel.ServiceProvider();
services.Add(new FolderStore(folder));
var server = new SmtpServer.SmtpServer(options, services);
var running = server.StartAsync(stop.Token);
Console.WriteLine($"listening 127.0.0.1:{port}");
try
{
    await running;
}
catch (OperationCanceledException)
{
}

return 0;

internal sealed class FolderStore(string folder) : MessageStore
{
    private int _count;

    public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
    {
        var n = Interlocked.Increment(ref _count);
        var temp = Path.Combine(folder, $"{n}.tmp");
        await File.WriteAllBytesAsync(temp, buffer.ToArray(), cancellationToken);
        File.Move(temp, Path.Combine(folder, $"{n}.eml"));
        return SmtpResponse.Ok;
    }
}
