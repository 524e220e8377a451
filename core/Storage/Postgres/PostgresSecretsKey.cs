using System.Text;

namespace Dls.Core.Storage.Postgres;

/// <summary>
/// Where the key of a PostgreSQL store's secrets (the signing key, the alert secrets) lives: never in the database, so
/// that a copy of the database alone cannot sign authorizations. <c>DLS_SECRETS_KEY</c> names the file; else it is
/// <c>pg-HOST-PORT-DATABASE.secrets.key</c> in the default store folder. Every machine whose listeners or cmdlets use
/// the store needs the same file.
/// </summary>
public static class PostgresSecretsKey
{
    public const string EnvironmentVariable = "DLS_SECRETS_KEY";

    public static string Path(string uri)
    {
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return System.IO.Path.GetFullPath(configured);
        }

        return System.IO.Path.Combine(StorePaths.DefaultFolder(), LocalName(uri) + ".secrets.key");
    }

    /// <summary>A file name for the store on this machine: <c>pg-HOST-PORT-DATABASE</c>.</summary>
    public static string LocalName(string uri)
    {
        var rest = uri[(uri.IndexOf("://", StringComparison.Ordinal) + 3)..];
        rest = rest.Split('?')[0];
        rest = rest[(rest.LastIndexOf('@') + 1)..];
        var name = new StringBuilder("pg-");
        foreach (var c in rest)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' ? c : '-');
        }

        return name.ToString();
    }
}
