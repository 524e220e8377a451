using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Dls.Module;

/// <summary>
/// Inside pwsh the default probing does not look in a binary module's <c>runtimes/&lt;rid&gt;/native/</c>
/// folder, so SQLite's native library (e_sqlite3) would not be found. When the runtime fails to find it,
/// this loads the copy for the running platform from the module's own folder.
/// </summary>
public sealed class NativeLibraryResolver : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private static readonly string ModuleDirectory = Path.GetDirectoryName(typeof(NativeLibraryResolver).Assembly.Location)!;

    public void OnImport() => AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;

    public void OnRemove(PSModuleInfo psModuleInfo) => AssemblyLoadContext.Default.ResolvingUnmanagedDll -= Resolve;

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

    private static IntPtr Resolve(Assembly assembly, string libraryName)
    {
        if (!libraryName.Contains("e_sqlite3", StringComparison.OrdinalIgnoreCase))
        {
            return IntPtr.Zero;
        }

        var fileName = OperatingSystem.IsWindows() ? "e_sqlite3.dll"
            : OperatingSystem.IsMacOS() ? "libe_sqlite3.dylib"
            : "libe_sqlite3.so";
        foreach (var rid in CandidateRuntimeIds())
        {
            var candidate = Path.Combine(ModuleDirectory, "runtimes", rid, "native", fileName);
            if (File.Exists(candidate))
            {
                return NativeLibrary.Load(candidate);
            }
        }

        return IntPtr.Zero;
    }

    private static bool IsMusl() =>
        Directory.Exists("/lib") && Directory.EnumerateFiles("/lib", "ld-musl-*").Any();
}
