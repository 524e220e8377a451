using Npgsql;

namespace Dls.Core.Tests;

/// <summary>
/// The tests' own PostgreSQL cluster (<see cref="TestPostgres"/>), which the PostgreSQL pass of the store tests
/// stands on: it starts, serves on loopback, and hands out databases that are new, empty and apart from each other.
/// Skipped, with the reason, where PostgreSQL is not installed.
/// </summary>
public sealed class TestPostgresTests
{
    [PostgresFact]
    public void A_new_database_answers_on_loopback_as_the_postgres_user()
    {
        var uri = TestPostgres.NewDatabase();

        Assert.Matches(@"^postgresql://postgres@127\.0\.0\.1:\d+/dls_t_\d+$", uri);
        using var connection = Open(uri);
        Assert.Equal(1, Scalar<int>(connection, "SELECT 1"));
        Assert.Equal(new Uri(uri).AbsolutePath.TrimStart('/'), Scalar<string>(connection, "SELECT current_database()"));
        Assert.Equal("postgres", Scalar<string>(connection, "SELECT current_user"));
        Assert.Equal("UTF8", Scalar<string>(connection, "SHOW server_encoding"));
        Assert.Equal("127.0.0.1", Scalar<string>(connection, "SHOW listen_addresses"));
    }

    [PostgresFact]
    public void Each_database_is_new_empty_and_apart_from_the_others()
    {
        var first = TestPostgres.NewDatabase();
        var second = TestPostgres.NewDatabase();
        Assert.NotEqual(first, second);

        using (var connection = Open(first))
        {
            Assert.Equal(0L, Scalar<long>(connection, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"));
            Scalar<int>(connection, "CREATE TABLE only_in_first (id integer); SELECT 1");
        }

        using var other = Open(second);
        Assert.Equal(0L, Scalar<long>(other, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"));
    }

    [PostgresFact]
    public void The_cluster_is_a_throwaway_one_of_its_own_without_durability()
    {
        using var connection = Open(TestPostgres.NewDatabase());

        // Its data lives in a temporary folder of its own, never in a system cluster's, and nothing waits for the disk.
        var data = Scalar<string>(connection, "SHOW data_directory");
        Assert.StartsWith(Path.GetFullPath(Environment.UserName == "root" ? "/tmp" : Path.GetTempPath()).TrimEnd('/') + "/dls-pg-", data);
        Assert.Equal("off", Scalar<string>(connection, "SHOW fsync"));
        Assert.True(int.Parse(Scalar<string>(connection, "SHOW max_connections"), System.Globalization.CultureInfo.InvariantCulture) >= 200);
    }

    private static NpgsqlConnection Open(string uri)
    {
        var connection = new NpgsqlConnection(TestPostgres.ConnectionStringOf(uri));
        connection.Open();
        return connection;
    }

    private static T Scalar<T>(NpgsqlConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)command.ExecuteScalar()!;
    }
}
