namespace Dls.Tests;

/// <summary>
/// A fact that needs Unix (file modes, signals): reported as skipped, with the reason, on Windows, rather than passing
/// without having asserted anything. Decided when tests are discovered.
/// </summary>
public sealed class UnixFactAttribute : FactAttribute
{
    public UnixFactAttribute(string reason = "Unix file modes only")
    {
        if (OperatingSystem.IsWindows())
        {
            Skip = $"Unix only: {reason}";
        }
    }
}
