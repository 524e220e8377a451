using System.Data.Common;
using Dls.Core.Storage;
using Dls.Core.Storage.Sql;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Tests;

/// <summary>The connection under a unit of work, for tests that write rows the services have no call for.</summary>
internal static class Units
{
    public static (DbConnection Connection, DbTransaction Transaction) Sqlite(UnitOfWork work)
    {
        var sqlite = SqlUnitOfWork.Of(work);
        return (sqlite.Connection, sqlite.Transaction!);
    }
}
