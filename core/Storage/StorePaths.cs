using System.Runtime.InteropServices;

namespace Dls.Core.Storage;

/// <summary>Where the store lives when no path is given (SPEC §1).</summary>
public static class StorePaths
{
    public const string EnvironmentVariable = "DLS_STORE";

    public static string Default()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return Postgres.PostgresUri.IsUri(fromEnvironment) ? fromEnvironment : Path.GetFullPath(fromEnvironment);
        }

        return Path.Combine(DefaultFolder(), "dls.db");
    }

    /// <summary>The folder of the default store file (whatever <c>DLS_STORE</c> says).</summary>
    public static string DefaultFolder()
    {
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), "DLS");
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
        {
            return Path.Combine(home, "Library", "Application Support", "dls");
        }

        var dataHome = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (string.IsNullOrWhiteSpace(dataHome) || !Path.IsPathRooted(dataHome))
        {
            dataHome = Path.Combine(home, ".local", "share");
        }

        return Path.Combine(dataHome, "dls");
    }

    /// <summary>The given path made absolute (a <c>postgresql://</c> URI as given), or the default when none is given.</summary>
    public static string Resolve(string? path) =>
        string.IsNullOrWhiteSpace(path) ? Default() : Postgres.PostgresUri.IsUri(path) ? path : Path.GetFullPath(path);

    /// <summary>
    /// The folder for files that belong with a store on this machine (listener logs, the listener's certificate): the store
    /// file's own folder, or for a PostgreSQL store one named after its server and database in the default store folder.
    /// </summary>
    public static string FilesFolder(string storePath) =>
        Postgres.PostgresUri.IsUri(storePath)
            ? Path.Combine(DefaultFolder(), Postgres.PostgresSecretsKey.LocalName(storePath))
            : Path.GetDirectoryName(storePath)!;
}
