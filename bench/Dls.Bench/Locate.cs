namespace Dls.Bench;

/// <summary>Where the servers under test are built, relative to the repository the bench runs from.</summary>
public static class Locate
{
    /// <summary>The newest Release build of the listener, or null. The bench builds nothing itself: it measures what was built.</summary>
    public static string? Listener() => Newest(Path.Combine("listener", "bin", "Release"), "Dls.Listener.dll");

    /// <summary>The newest Release build of BareKestrel (built along with the bench by its project reference), or null.</summary>
    public static string? Bare() => Newest(Path.Combine("bench", "BareKestrel", "bin", "Release"), "BareKestrel.dll");

    private static string? Newest(string relativeFolder, string file)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "DLS.sln")))
        {
            directory = directory.Parent;
        }

        var folder = directory is null ? null : Path.Combine(directory.FullName, relativeFolder);
        return folder is null || !Directory.Exists(folder)
            ? null
            : Directory.GetFiles(folder, file, SearchOption.AllDirectories).OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault();
    }
}
