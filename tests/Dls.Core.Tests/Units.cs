using Dls.Core.Storage;
using Dls.Core.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Tests;

/// <summary>The SQLite connection under a unit of work, for tests that write rows the services have no call for.</summary>
internal static class Units
{
    public static (SqliteConnection Connection, SqliteTransaction Transaction) Sqlite(UnitOfWork work)
    {
        var sqlite = SqliteUnitOfWork.Of(work);
        return (sqlite.Connection, sqlite.Transaction!);
    }
}
