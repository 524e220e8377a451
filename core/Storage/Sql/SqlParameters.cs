using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace Dls.Core.Storage;

/// <summary>
/// Parameters for a command of either engine, named as the statements name them (<c>$name</c>): PostgreSQL's driver
/// takes the name without the sigil.
/// </summary>
public static class SqlParameters
{
    /// <summary>
    /// Adds a parameter with its value; null is SQL NULL. PostgreSQL cannot always infer the type of a NULL
    /// (<c>$id IS NULL OR id = $id</c>), so a null is sent as text, the type of every nullable filter the stores take.
    /// </summary>
    public static DbParameter AddWithValue(this DbParameterCollection parameters, string name, object? value) => parameters switch
    {
        SqliteParameterCollection sqlite => sqlite.AddWithValue(name, value ?? DBNull.Value),
        NpgsqlParameterCollection npgsql when value is null or DBNull => npgsql.Add(new NpgsqlParameter(Bare(name), NpgsqlDbType.Text) { Value = DBNull.Value }),
        NpgsqlParameterCollection npgsql => npgsql.AddWithValue(Bare(name), value),
        _ => throw new NotSupportedException($"No store engine uses {parameters.GetType().Name}."),
    };

    /// <summary>Adds a parameter whose value is set later, by index, before each run (prepared statements).</summary>
    public static DbParameter AddUnset(this DbParameterCollection parameters, string name) => parameters switch
    {
        SqliteParameterCollection sqlite => sqlite.Add(new SqliteParameter { ParameterName = name }),
        NpgsqlParameterCollection npgsql => npgsql.Add(new NpgsqlParameter { ParameterName = Bare(name) }),
        _ => throw new NotSupportedException($"No store engine uses {parameters.GetType().Name}."),
    };

    private static string Bare(string name) => name.TrimStart('$', '@', ':');
}
