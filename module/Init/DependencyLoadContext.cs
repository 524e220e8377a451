using System.Reflection;
using System.Runtime.Loader;

namespace Dls.Module.Init;

/// <summary>
/// The load context of <c>Dls.Core</c> and everything it depends on (SQLite, MailKit, MimeKit, BouncyCastle, …),
/// all read from the module's <c>Dependencies</c> folder. Another module may have loaded other versions of the same
/// libraries into PowerShell's default context; here DLS gets its own, and theirs stay as they are. Assemblies that
/// are not in the folder (the .NET libraries, PowerShell's own) come from the default context, shared.
/// </summary>
internal sealed class DependencyLoadContext : AssemblyLoadContext
{
    private readonly string _folder;

    internal DependencyLoadContext(string folder)
        : base("DLS", isCollectible: false)
    {
        _folder = folder;
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        var path = AssemblyPath(assemblyName);
        return path is null ? null : LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = NativeLibraryResolver.Find(_folder, unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }

    private string? AssemblyPath(AssemblyName assemblyName)
    {
        if (string.IsNullOrEmpty(assemblyName.Name) || assemblyName.CultureName is { Length: > 0 })
        {
            return null;
        }

        var fileName = assemblyName.Name + ".dll";
        if (OperatingSystem.IsWindows())
        {
            // Windows-only builds of a package's assembly (runtimes/win/lib/<tfm>/) win over its portable one.
            var windows = Path.Combine(_folder, "runtimes", "win", "lib");
            if (Directory.Exists(windows))
            {
                var specific = Directory.EnumerateFiles(windows, fileName, SearchOption.AllDirectories).FirstOrDefault();
                if (specific is not null)
                {
                    return specific;
                }
            }
        }

        var path = Path.Combine(_folder, fileName);
        return File.Exists(path) ? path : null;
    }
}
