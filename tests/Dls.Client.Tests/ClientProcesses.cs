using System.Diagnostics;

namespace Dls.Client.Tests;

/// <summary>Runs application processes on the client library (tests/ClientProcess, the sample) and waits for them.</summary>
public static class ClientProcesses
{
    public static Task<(int ExitCode, string Output)> RunAsync(ClientScene scene, string product, long count, int times, bool exitWithoutDispose = false)
    {
        var arguments = new List<string> { "--key", scene.Key, "--cache", scene.CacheFolder, "--product", product, "--count", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "--times", times.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (exitWithoutDispose)
        {
            arguments.Add("--exit-without-dispose");
        }

        return RunProgramAsync(Path.Combine("tests", "ClientProcess"), "ClientProcess", arguments);
    }

    /// <summary>
    /// Starts tests/ClientProcess with <c>--hang</c>: it records <paramref name="times"/> × <paramref name="count"/>
    /// units and waits, until the caller kills it. Returns once it said "recorded".
    /// </summary>
    public static async Task<Process> StartHangingAsync(ClientScene scene, string product, long count, int times)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Assembly(Path.Combine("tests", "ClientProcess"), "ClientProcess"), "--key", scene.Key, "--cache", scene.CacheFolder, "--product", product, "--count", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "--times", times.ToString(System.Globalization.CultureInfo.InvariantCulture), "--hang" })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line == "recorded")
            {
                return process;
            }
        }

        throw new InvalidOperationException($"ClientProcess ended before it recorded: {await process.StandardError.ReadToEndAsync()}");
    }

    /// <summary>Runs the sample application (client/samples/DlsClientSample) as a vendor would, with these arguments.</summary>
    public static Task<(int ExitCode, string Output)> RunSampleAsync(params string[] arguments) =>
        RunProgramAsync(Path.Combine("client", "samples", "DlsClientSample"), "DlsClientSample", arguments);

    private static async Task<(int ExitCode, string Output)> RunProgramAsync(string projectFolder, string name, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Assembly(projectFolder, name));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await errors);
    }

    private static string Assembly(string projectFolder, string name)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "DLS.sln")))
        {
            directory = directory.Parent;
        }

        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent?.Name ?? "Release";
        var path = directory is null ? null : Path.Combine(directory.FullName, projectFolder, "bin", configuration, "net10.0", name + ".dll");
        return path is not null && File.Exists(path) ? path : throw new InvalidOperationException($"{projectFolder} is not built ({path}): run ./build.ps1 build.");
    }
}
