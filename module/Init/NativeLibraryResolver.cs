using System.Runtime.InteropServices;

namespace Dls.Module.Init;

/// <summary>
/// Finds SQLite's native library (e_sqlite3) for the running platform in the module's dependency folder. Inside pwsh
/// the runtime does not probe a module's <c>runtimes/&lt;rid&gt;/native/</c> folders, so the module's load context
/// asks here instead.
/// </summary>
internal static class NativeLibraryResolver
{
    /// <summary>The runtime identifiers to try for this process, most specific first.</summary>
    internal static IEnumerable<string> CandidateRuntimeIds()
    {
        var arch = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "x64",
            Architecture.X86 => "x86",
            Architecture.Arm64 => "arm64",
            Architecture.Arm => "arm",
            var other => other.ToString().ToLowerInvariant(),
        };

        if (OperatingSystem.IsWindows())
        {
            yield return $"win-{arch}";
        }
        else if (OperatingSystem.IsMacOS())
        {
            yield return $"osx-{arch}";
            yield return "osx";
        }
        else
        {
            if (IsMusl())
            {
                yield return $"linux-musl-{arch}";
            }

            yield return $"linux-{arch}";
        }
    }

    /// <summary>The path of the native library <paramref name="libraryName"/> under <paramref name="folder"/>, or null when it is not one of ours.</summary>
    internal static string? Find(string folder, string libraryName)
    {
        if (!libraryName.Contains("e_sqlite3", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var fileName = OperatingSystem.IsWindows() ? "e_sqlite3.dll"
            : OperatingSystem.IsMacOS() ? "libe_sqlite3.dylib"
            : "libe_sqlite3.so";
        return CandidateRuntimeIds()
            .Select(rid => Path.Combine(folder, "runtimes", rid, "native", fileName))
            .FirstOrDefault(File.Exists);
    }

    private static bool IsMusl() =>
        Directory.Exists("/lib") && Directory.EnumerateFiles("/lib", "ld-musl-*").Any();
}
