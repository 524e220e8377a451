namespace Dls.Core.Storage;

/// <summary>The database engine a store lives in (SPEC §1).</summary>
public enum StoreEngine
{
    /// <summary>One SQLite file, shared by the cmdlets and the listeners of one machine: the embedded default.</summary>
    Sqlite,

    /// <summary>A PostgreSQL database named by a <c>postgresql://</c> URI: listeners on several machines, a standby elsewhere.</summary>
    PostgreSql,
}
