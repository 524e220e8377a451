using System.Reflection;

namespace Dls.Core;

public static class DlsVersion
{
    /// <summary>The product version (without the source revision suffix).</summary>
    public static string Current { get; } = Read();

    private static string Read()
    {
        var informational = typeof(DlsVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(informational))
        {
            return typeof(DlsVersion).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        }

        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? informational : informational[..plus];
    }
}
