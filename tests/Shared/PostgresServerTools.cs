using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Dls.Tests;

/// <summary>
/// What a throwaway PostgreSQL cluster of the tests (TestPostgres) or of the benchmark (BenchPostgres) needs from the
/// machine: where the server's binaries are, whether to run them as the <c>postgres</c> user (PostgreSQL refuses root),
/// a free loopback port, and running a tool to its end.
/// </summary>
public static class PostgresServerTools
{
    /// <summary>The user the cluster runs as when this process is root (Debian's postgresql package creates it).</summary>
    public const string RunAsUser = "postgres";

    /// <summary>The folder of initdb, pg_ctl and postgres: on PATH (a link leads to the server's bin folder), else Debian's newest.</summary>
    public static string? FindBinaries() => FindOnPath("initdb" + (OperatingSystem.IsWindows() ? ".exe" : "")) ?? NewestDebianFolder();

    public static bool IsRoot() => !OperatingSystem.IsWindows() && geteuid() == 0;

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Runs a program to its end (as <see cref="RunAsUser"/> when asked), throwing with its output when it fails.</summary>
    public static void Run(string program, string[] arguments, bool asUser)
    {
        var start = new ProcessStartInfo(asUser ? "runuser" : program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (asUser ? new[] { "-u", RunAsUser, "--", program } : []).Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, line) => { lock (output) { output.AppendLine(line.Data); } };
        process.ErrorDataReceived += (_, line) => { lock (output) { output.AppendLine(line.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Path.GetFileName(program)} did not finish in 120 s:\n{output}");
        }

        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{output}");
        }
    }

    /// <summary>The real folder of a tool found on PATH: a link such as /usr/local/bin/initdb leads to the server's own bin folder, where pg_ctl and postgres sit too.</summary>
    private static string? FindOnPath(string tool)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, tool);
            if (File.Exists(candidate))
            {
                var target = File.ResolveLinkTarget(candidate, returnFinalTarget: true)?.FullName ?? candidate;
                return Path.GetDirectoryName(Path.GetFullPath(target));
            }
        }

        return null;
    }

    /// <summary>Debian keeps each major version's binaries off PATH, in /usr/lib/postgresql/VERSION/bin: the highest version wins.</summary>
    private static string? NewestDebianFolder()
    {
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root))
        {
            return null;
        }

        return Directory.GetDirectories(root)
            .Select(version => (Version: decimal.TryParse(Path.GetFileName(version), System.Globalization.CultureInfo.InvariantCulture, out var number) ? number : -1, Bin: Path.Combine(version, "bin")))
            .Where(entry => entry.Version >= 0 && File.Exists(Path.Combine(entry.Bin, "initdb")))
            .OrderByDescending(entry => entry.Version)
            .Select(entry => entry.Bin)
            .FirstOrDefault();
    }

    [DllImport("libc", SetLastError = false)]
    private static extern uint geteuid();
}
