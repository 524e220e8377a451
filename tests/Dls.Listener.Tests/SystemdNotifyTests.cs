using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Dls.Core.Listeners;
using Dls.Core.Server;
using Dls.Core.Storage;

namespace Dls.Listener.Tests;

/// <summary>A fact about Linux process hosting (systemd, /proc): skipped, not passed, elsewhere.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "systemd's notify protocol is Linux only";
        }
    }
}

/// <summary>
/// The listener as a systemd service (deploy/dls-listener.service, Type=notify): started the way systemd starts it,
/// it says READY=1 on the notify socket once it serves, and STOPPING=1 when SIGTERM stops it.
/// </summary>
/// <remarks>
/// What systemd gives a service, the test gives the listener: <c>NOTIFY_SOCKET</c> naming a Unix datagram socket the
/// test owns, and a parent process named <c>systemd</c>. The second is how Microsoft.Extensions.Hosting.Systemd 8.0
/// decides it runs under systemd (its SystemdHelpers reads <c>/proc/&lt;parent&gt;/comm</c>; only a process 1 is
/// believed on NOTIFY_SOCKET alone), so the listener is started by a shell run through a link named
/// <c>systemd</c>, which stays its parent. Nothing in the listener is told it is under test.
/// </remarks>
public sealed class SystemdNotifyTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("dls-systemd-test-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [LinuxFact]
    public async Task Says_READY_once_serving_and_STOPPING_on_SIGTERM()
    {
        var storePath = Path.Combine(_folder, "dls.db");
        var server = new ServerService(DlsStore.OpenOrCreate(storePath), TimeProvider.System).Initialize("216998", force: false);

        var socketPath = Path.Combine(_folder, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));

        // The service manager: a shell whose process name is "systemd", running the listener as its child (the
        // "; exit" keeps the shell from replacing itself with the listener).
        var manager = Path.Combine(_folder, "systemd");
        File.CreateSymbolicLink(manager, "/bin/sh");
        var start = new ProcessStartInfo(manager)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-c", "\"$@\"; exit $?", "systemd", "dotnet", ListenerHost.ListenerAssembly(), "--store", storePath, "--urls", "http://127.0.0.1:0" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["NOTIFY_SOCKET"] = socketPath;
        var output = new StringBuilder();
        using var shell = Process.Start(start)!;
        shell.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        shell.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        shell.BeginOutputReadLine();
        shell.BeginErrorReadLine();
        int? listenerId = null;
        try
        {
            var ready = await ReceiveUntilAsync(notify, "READY=1", shell, output);
            Assert.Contains("READY=1", ready);

            // The listener records in the store, as it starts, the address it bound (port 0: one the system chose)
            // and its process id, the process systemd signals.
            var record = Assert.Single(new ListenerRegistry(DlsStore.Open(storePath), TimeProvider.System).List());
            listenerId = record.ProcessId;
            Assert.DoesNotContain(":0/", record.Url, StringComparison.Ordinal);

            // READY=1 means serving: the first request, with no retry, is answered.
            using var http = new HttpClient { BaseAddress = new Uri(record.Url), Timeout = TimeSpan.FromSeconds(10) };
            using var health = await http.GetAsync("healthz");
            Assert.True(health.IsSuccessStatusCode, $"/healthz answered {(int)health.StatusCode}");
            Assert.Contains(server.Uuid, await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            Assert.NotEqual(shell.Id, listenerId.Value);
            Assert.Equal(0, kill(listenerId.Value, 15));

            var stopping = await ReceiveUntilAsync(notify, "STOPPING=1", shell, output);
            Assert.Contains("STOPPING=1", stopping);

            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await shell.WaitForExitAsync(exited.Token);
            Assert.Equal(0, shell.ExitCode);
        }
        finally
        {
            if (!shell.HasExited)
            {
                if (listenerId is { } id)
                {
                    _ = kill(id, 9);
                }

                shell.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>The datagrams received until one holds <paramref name="state"/> (a line of the notify protocol).</summary>
    private static async Task<string> ReceiveUntilAsync(Socket socket, string state, Process shell, StringBuilder output)
    {
        var received = new StringBuilder();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            int length;
            try
            {
                length = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                lock (output)
                {
                    throw new TimeoutException($"No {state} on the notify socket (received: '{received}', exited: {shell.HasExited}). Output: {output}");
                }
            }

            var message = Encoding.UTF8.GetString(buffer, 0, length);
            received.Append(message).Append('|');
            if (message.Split('\n').Contains(state))
            {
                return received.ToString();
            }
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
