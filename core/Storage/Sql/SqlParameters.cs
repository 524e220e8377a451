using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Dls.Core.Storage;

/// <summary>
/// <c>Parameters.AddWithValue</c> for a command of either engine, named as the statements name them (<c>$name</c>):
/// PostgreSQL's driver takes the name without the sigil. A null value is SQL NULL.
/// </summary>
public static class SqlParameters
{
    public static DbParameter AddWithValue(this DbParameterCollection parameters, string name, object? value) => parameters switch
    {
        SqliteParameterCollection sqlite => sqlite.AddWithValue(name, value ?? DBNull.Value),
        NpgsqlParameterCollection npgsql => npgsql.AddWithValue(name.TrimStart('$', '@', ':'), value ?? DBNull.Value),
        _ => throw new NotSupportedException($"No store engine uses {parameters.GetType().Name}."),
    };
}
