using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace Dls.Module.Init;

/// <summary>
/// Puts <c>Dls.Core</c> (and through it every library DLS uses) into the module's own load context. The cmdlet
/// assembly lives in PowerShell's default context and references only <c>Dls.Core</c>; when the default context
/// cannot find it (it is not beside DLS.dll but in <c>Dependencies/</c>), this answers with the copy in
/// <see cref="DependencyLoadContext"/>, and core's own references then resolve inside that context.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private const string CoreAssemblyName = "Dls.Core";

    private static readonly DependencyLoadContext Dependencies = new(
        Path.Combine(Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!, "Dependencies"));

    private static readonly object Gate = new();
    private static bool _hooked;

    public void OnImport()
    {
        lock (Gate)
        {
            if (!_hooked)
            {
                AssemblyLoadContext.Default.Resolving += ResolveCore;
                _hooked = true;
            }
        }
    }

    public void OnRemove(PSModuleInfo psModuleInfo)
    {
        lock (Gate)
        {
            if (_hooked)
            {
                AssemblyLoadContext.Default.Resolving -= ResolveCore;
                _hooked = false;
            }
        }
    }

    /// <summary>Answers the default context for <c>Dls.Core</c> only; every other name is someone else's business.</summary>
    private static Assembly? ResolveCore(AssemblyLoadContext context, AssemblyName name) =>
        string.Equals(name.Name, CoreAssemblyName, StringComparison.OrdinalIgnoreCase)
            ? Dependencies.LoadFromAssemblyName(name)
            : null;
}
