using System.Diagnostics;

namespace Dls.Client.Tests;

/// <summary>Runs tests/ClientProcess, an application process on the client library, and waits for it.</summary>
public static class ClientProcesses
{
    public static async Task<(int ExitCode, string Output)> RunAsync(ClientScene scene, string product, long count, int times, bool exitWithoutDispose = false)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Assembly(), "--key", scene.Key, "--cache", scene.CacheFolder, "--product", product, "--count", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "--times", times.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        if (exitWithoutDispose)
        {
            start.ArgumentList.Add("--exit-without-dispose");
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await errors);
    }

    private static string Assembly()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "DLS.sln")))
        {
            directory = directory.Parent;
        }

        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent?.Name ?? "Release";
        var path = directory is null ? null : Path.Combine(directory.FullName, "tests", "ClientProcess", "bin", configuration, "net10.0", "ClientProcess.dll");
        return path is not null && File.Exists(path) ? path : throw new InvalidOperationException($"tests/ClientProcess is not built ({path}): run ./build.ps1 build.");
    }
}
