using Microsoft.Data.Sqlite;
using Npgsql;

namespace Dls.Core.Storage;

/// <summary>
/// One numbered schema step. Every subclass in this assembly is found and applied in
/// <see cref="Version"/> order inside one transaction each; <c>PRAGMA user_version</c> records the last applied.
/// A migration, once released, never changes: add a new one instead.
/// </summary>
/// <remarks>
/// A PostgreSQL store starts from the baseline schema of version <see cref="Postgres.PostgresBaseline.Version"/>; every
/// migration numbered above it runs on both engines: its <see cref="Sql"/> when that is valid on both, else its
/// <see cref="PostgresSql"/> (or an override of <see cref="ApplyPostgres"/>).
/// </remarks>
public abstract class Migration
{
    public abstract int Version { get; }

    public abstract string Description { get; }

    /// <summary>Plain SQL run as one batch; override <see cref="Apply"/> for steps that need code.</summary>
    protected virtual string Sql => string.Empty;

    /// <summary>The step on PostgreSQL, when <see cref="Sql"/> is not valid there.</summary>
    protected virtual string? PostgresSql => null;

    /// <summary>Whether the PostgreSQL baseline schema already holds this step.</summary>
    public bool InPostgresBaseline => Version <= Postgres.PostgresBaseline.Version;

    public virtual void ApplyPostgres(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = PostgresSql ?? Sql;
        command.ExecuteNonQuery();
    }

    public virtual void Apply(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Sql;
        command.ExecuteNonQuery();
    }
}
