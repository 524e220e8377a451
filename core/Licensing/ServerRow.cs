using Dls.Core.Errors;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Licensing;

/// <summary>The parts of the server identity that licensing needs, read inside the caller's transaction.</summary>
internal sealed record ServerRow(string Uuid, string OrganizationId, string MainServerUrl, string StandbyServerUrl, byte[] PublicKey)
{
    public static ServerRow Read(SqliteConnection connection, SqliteTransaction? transaction, string storePath)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT uuid, organization_id, main_server_url, standby_server_url, public_key FROM server WHERE id = 1;";
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            throw new DlsException(
                "ServerNotInitialized",
                DlsErrorKind.InvalidOperation,
                $"The store '{storePath}' has no server identity. Run Initialize-DlsServer -StorePath '{storePath}'.",
                storePath);
        }

        return new ServerRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), (byte[])reader.GetValue(4));
    }
}
