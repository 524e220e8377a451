using System.Text.RegularExpressions;

namespace Dls.Core.Storage.Sql;

/// <summary>
/// The few places where SQLite's and PostgreSQL's SQL differ, for the one body of SQL in <c>Storage/Sql</c>. Statements
/// are written with SQLite's <c>$name</c> parameters; PostgreSQL's driver takes <c>@name</c>, so its dialect rewrites them
/// once per statement text.
/// </summary>
internal abstract partial class SqlDialect
{
    public static SqlDialect Sqlite { get; } = new SqliteDialect();

    public static SqlDialect PostgreSql { get; } = new PostgreSqlDialect();

    /// <summary>The engine's name, as the store shows it.</summary>
    public abstract StoreEngine Engine { get; }

    /// <summary>A column that names one row of any table (for deletes in bounded steps).</summary>
    public abstract string RowId { get; }

    /// <summary>An inner join whose left side stays the outer loop (SQLite's planner keeps a CROSS JOIN's order).</summary>
    public abstract string OuterLoopJoin { get; }

    /// <summary>The statement as this engine's driver takes it.</summary>
    public abstract string Translate(string sql);

    /// <summary>The aggregate that joins <paramref name="column"/>'s values of a group with line feeds.</summary>
    public abstract string JoinLines(string column);

    /// <summary>A query answering 1 when table <paramref name="table"/> exists, else 0.</summary>
    public abstract string TableExists(string table);

    /// <summary>
    /// The value for an inserted row's <c>id</c> of <paramref name="table"/>: one above the highest, as SQLite numbers a rowid
    /// table. The roll-up marks rely on ids that grow without gaps in commit order, which holds under the store's write lock.
    /// </summary>
    public abstract string NextId(string table);

    private sealed class SqliteDialect : SqlDialect
    {
        public override StoreEngine Engine => StoreEngine.Sqlite;

        public override string RowId => "rowid";

        public override string OuterLoopJoin => "CROSS JOIN";

        public override string Translate(string sql) => sql;

        public override string JoinLines(string column) => $"group_concat({column}, char(10))";

        public override string TableExists(string table) => $"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}';";

        // NULL into an INTEGER PRIMARY KEY is SQLite's own "one above the highest".
        public override string NextId(string table) => "NULL";
    }

    private sealed partial class PostgreSqlDialect : SqlDialect
    {
        public override StoreEngine Engine => StoreEngine.PostgreSql;

        public override string RowId => "ctid";

        public override string OuterLoopJoin => "JOIN";

        public override string Translate(string sql) => Parameter().Replace(sql, "@$1");

        public override string JoinLines(string column) => $"string_agg({column}, chr(10))";

        public override string TableExists(string table) => $"SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{table}';";

        public override string NextId(string table) => $"(SELECT coalesce(max(id), 0) + 1 FROM {table})";

        [GeneratedRegex(@"\$([A-Za-z_][A-Za-z0-9_]*)")]
        private static partial Regex Parameter();
    }
}
