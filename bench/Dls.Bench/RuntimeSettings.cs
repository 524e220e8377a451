using System.Text.Json;

namespace Dls.Bench;

/// <summary>
/// What a target runs with: the settings its build wrote into X.runtimeconfig.json (Server GC, roll-forward, …) and
/// the runtime it actually loaded. Bare Kestrel is only a yardstick if both targets run with the same ones, so the
/// bench prints them and says so loudly when they differ (both inherit this process's environment, DOTNET_* included).
/// </summary>
public static class RuntimeSettings
{
    /// <summary>The runtimeconfig.json beside <paramref name="dll"/> as "name=value" pairs, sorted; empty if there is none.</summary>
    public static string Of(string dll)
    {
        var file = Path.ChangeExtension(dll, ".runtimeconfig.json");
        if (!File.Exists(file))
        {
            return string.Empty;
        }

        using var json = JsonDocument.Parse(File.ReadAllText(file));
        var options = json.RootElement.GetProperty("runtimeOptions");
        var pairs = new List<string>();
        foreach (var name in new[] { "tfm", "rollForward" })
        {
            if (options.TryGetProperty(name, out var value))
            {
                pairs.Add($"{name}={value}");
            }
        }

        if (options.TryGetProperty("configProperties", out var properties))
        {
            pairs.AddRange(properties.EnumerateObject().Select(p => $"{p.Name}={p.Value}").Order(StringComparer.Ordinal));
        }

        return string.Join(", ", pairs);
    }

    /// <summary>The folder of the runtime a process loaded (e.g. .../Microsoft.NETCore.App/10.0.12), read from its memory map.</summary>
    public static string Loaded(int processId)
    {
        try
        {
            var coreclr = File.ReadLines($"/proc/{processId}/maps")
                .Select(line => line[(line.IndexOf('/') is var at and >= 0 ? at : line.Length)..])
                .FirstOrDefault(path => path.EndsWith("/libcoreclr.so", StringComparison.Ordinal));
            return coreclr is null ? "unknown" : Path.GetDirectoryName(coreclr)!;
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
