using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage;

/// <summary>
/// Prepared statements kept per connection. Microsoft.Data.Sqlite compiles a command's SQL the first time it runs
/// and keeps the compiled statement with the command object, but a new command compiles again; the listener's
/// writer runs the same few dozen statements thousands of times a second on one connection, so it reuses one
/// command per SQL text instead. The command comes back with the caller's transaction and no parameters.
/// Callers must not dispose it (the connection finalizes its statements when it closes) and must finish with a
/// reader before asking for the same SQL again.
/// </summary>
public static class StatementCache
{
    private static readonly ConditionalWeakTable<SqliteConnection, Dictionary<string, SqliteCommand>> Caches = [];

    public static SqliteCommand Get(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var commands = Caches.GetValue(connection, _ => new Dictionary<string, SqliteCommand>(StringComparer.Ordinal));
        if (!commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            commands[sql] = command;
        }

        command.Transaction = transaction;
        command.Parameters.Clear();
        return command;
    }

    /// <summary>A cached command with the named parameters added (values to be set by index or name).</summary>
    public static SqliteCommand Get(SqliteConnection connection, SqliteTransaction? transaction, string sql, params string[] parameters)
    {
        var command = Get(connection, transaction, sql);
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        return command;
    }
}
