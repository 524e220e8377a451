using System.Diagnostics;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Dls.Core.Errors;
using Dls.Core.Listeners;

namespace Dls.Module.Hosting;

/// <summary>Starts, probes and stops listener processes (the listener ships in the module's <c>listener/</c> folder).</summary>
internal static class ListenerProcess
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Probes http:// listeners, and https:// ones whose certificate is not known (the system's trust decides).</summary>
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = ProbeTimeout };

    /// <summary>The password of the certificate file, as the listener reads it (never its command line).</summary>
    public const string CertificatePasswordVariable = "DLS_CERTIFICATE_PASSWORD";

    public static string ListenerAssemblyPath()
    {
        var moduleDirectory = Path.GetDirectoryName(typeof(ListenerProcess).Assembly.Location)!;
        var path = Path.Combine(moduleDirectory, "listener", "Dls.Listener.dll");
        if (!File.Exists(path))
        {
            throw new DlsException(
                ErrorIds.ListenerNotInstalled,
                DlsErrorKind.ResourceUnavailable,
                $"The listener is missing from the module folder ('{path}'). Reinstall the DLS module or run ./build.ps1 build.",
                path);
        }

        return path;
    }

    /// <summary>The dotnet host that runs this PowerShell, else the one on PATH.</summary>
    public static string DotnetHost()
    {
        var name = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        var candidates = new List<string>();
        var hostPath = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(hostPath)) candidates.Add(hostPath);
        var root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(root)) candidates.Add(Path.Combine(root, name));

        // <root>/shared/Microsoft.NETCore.App/<version>/ is where the running runtime lives.
        var runtimeDirectory = RuntimeEnvironment.GetRuntimeDirectory();
        candidates.Add(Path.GetFullPath(Path.Combine(runtimeDirectory, "..", "..", "..", name)));
        var processPath = Environment.ProcessPath;
        if (processPath is not null && Path.GetFileName(processPath) == name) candidates.Add(processPath);
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            candidates.Add(Path.Combine(folder, name));
        }

        return candidates.FirstOrDefault(File.Exists) ?? throw new DlsException(
            ErrorIds.DotnetNotFound,
            DlsErrorKind.ResourceUnavailable,
            "The listener needs the .NET runtime (8 or later, with ASP.NET Core) and no 'dotnet' host was found. Install it or set DOTNET_ROOT.");
    }

    /// <summary>Fails with <c>ListenerPortInUse</c> naming the port when something already listens on it.</summary>
    public static void EnsurePortFree(Uri url)
    {
        var addresses = url.Host is "localhost" ? new[] { IPAddress.Loopback }
            : IPAddress.TryParse(url.Host.Trim('[', ']'), out var parsed) ? new[] { parsed }
            : Array.Empty<IPAddress>();
        foreach (var address in addresses)
        {
            using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                probe.Bind(new IPEndPoint(address, url.Port));
            }
            catch (SocketException error) when (error.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
            {
                throw new DlsException(
                    ErrorIds.ListenerPortInUse,
                    DlsErrorKind.ResourceUnavailable,
                    $"Port {url.Port} on {url.Host} is already in use; stop what listens there or choose another -Url.",
                    url.ToString(),
                    error);
            }
        }
    }

    public static Process Launch(
        string storePath, string url, Dls.Core.Server.ServerRole role, string? certificatePath, string? certificateKeyPath, string? certificatePassword, string logPath)
    {
        var dotnet = DotnetHost();
        var listener = ListenerAssemblyPath();
        var arguments = new List<string> { listener, "--store", storePath, "--urls", url.TrimEnd('/'), "--role", role.ToString() };
        if (certificatePath is not null)
        {
            arguments.AddRange(["--certificate", certificatePath]);
        }

        if (certificateKeyPath is not null)
        {
            arguments.AddRange(["--certificate-key", certificateKeyPath]);
        }

        ProcessStartInfo start;
        if (OperatingSystem.IsWindows())
        {
            start = new ProcessStartInfo(dotnet) { CreateNoWindow = true };
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
        }
        else
        {
            // Logs go to a file; setsid (where there is one) keeps Ctrl+C in the admin's terminal from stopping the listener.
            start = new ProcessStartInfo("/bin/sh");
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("if command -v setsid >/dev/null 2>&1; then exec setsid \"$@\" >>\"$DLS_LISTENER_LOG\" 2>&1 </dev/null; else exec \"$@\" >>\"$DLS_LISTENER_LOG\" 2>&1 </dev/null; fi");
            start.ArgumentList.Add("dls-listener");
            start.ArgumentList.Add(dotnet);
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            start.Environment["DLS_LISTENER_LOG"] = logPath;
        }

        start.UseShellExecute = false;
        start.WorkingDirectory = Path.GetDirectoryName(listener)!;
        start.Environment["DOTNET_NOLOGO"] = "1";
        if (certificatePassword is not null)
        {
            // Through the environment, not the command line, so other users' `ps` does not show it.
            start.Environment[CertificatePasswordVariable] = certificatePassword;
        }

        return Process.Start(start) ?? throw new DlsException(ErrorIds.ListenerStartFailed, DlsErrorKind.ResourceUnavailable, "The listener process could not be started.");
    }

    /// <summary>
    /// The UUID from /healthz, or null when it does not answer. With <paramref name="certificate"/>, an
    /// https:// listener counts only when it presents exactly that certificate (self-signed ones included).
    /// </summary>
    public static async Task<string?> ProbeAsync(string url, X509Certificate2? certificate, CancellationToken cancellationToken)
    {
        using var pinned = certificate is null ? null : new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, presented, _, _) => ListenerCertificate.Matches(presented, certificate) },
            UseProxy = false,
        })
        {
            Timeout = ProbeTimeout,
        };
        try
        {
            using var response = await (pinned ?? Http).GetAsync(new Uri(new Uri(url), "healthz"), cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
            return document.RootElement.TryGetProperty("uuid", out var uuid) ? uuid.GetString() : null;
        }
        catch (Exception error) when (error is HttpRequestException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    /// <summary>The process recorded for a listener, if it is still that process.</summary>
    public static Process? FindAlive(ListenerRecord record)
    {
        try
        {
            var process = Process.GetProcessById(record.ProcessId);
            if (process.HasExited)
            {
                return null;
            }

            // A recycled process id belongs to someone else: compare start times (to the second, clocks differ in precision).
            if (record.ProcessStartedAt is { } started && Math.Abs((process.StartTime.ToUniversalTime() - started).TotalSeconds) > 2)
            {
                return null;
            }

            return process;
        }
        catch (Exception error) when (error is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>Asks the process to stop gracefully (SIGTERM), then kills it after <paramref name="grace"/>.</summary>
    public static bool Stop(Process process, TimeSpan grace)
    {
        if (!OperatingSystem.IsWindows())
        {
            _ = SysKill(process.Id, SigTerm);
            if (process.WaitForExit((int)grace.TotalMilliseconds))
            {
                return true;
            }
        }

        process.Kill(entireProcessTree: true);
        return process.WaitForExit((int)grace.TotalMilliseconds);
    }

    private const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);
}
