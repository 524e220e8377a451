using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage;

/// <summary>
/// One numbered schema step. Every subclass in this assembly is found and applied in
/// <see cref="Version"/> order inside one transaction each; <c>PRAGMA user_version</c> records the last applied.
/// A migration, once released, never changes: add a new one instead.
/// </summary>
public abstract class Migration
{
    public abstract int Version { get; }

    public abstract string Description { get; }

    /// <summary>Plain SQL run as one batch; override <see cref="Apply"/> for steps that need code.</summary>
    protected virtual string Sql => string.Empty;

    public virtual void Apply(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Sql;
        command.ExecuteNonQuery();
    }
}
