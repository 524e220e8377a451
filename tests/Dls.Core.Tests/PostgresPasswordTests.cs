using Dls.Core.Errors;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Tests;
using Microsoft.Extensions.Time.Testing;

namespace Dls.Core.Tests;

/// <summary>
/// A PostgreSQL store's password comes from PGPASSWORD or a pgpass file, never from the URI (SPEC §1): against a role of
/// the tests' cluster that must log in with a password.
/// </summary>
[Collection(nameof(PostgresPasswordTests))] // they set process-wide environment variables
public sealed class PostgresPasswordTests
{
    private const string Password = "s3cret-for-tests";

    [PostgresFact]
    public void Without_a_password_the_store_is_unavailable_and_the_error_says_where_the_password_goes()
    {
        var uri = TestPostgres.NewPasswordRole(Password);
        var empty = Path.GetTempFileName();
        try
        {
            var error = WithEnvironment(("PGPASSWORD", null), ("PGPASSFILE", empty), () => Assert.Throws<DlsException>(() => DlsStore.OpenOrCreate(uri)));
            Assert.Equal(ErrorIds.StoreUnavailable, error.ErrorId);
            Assert.Contains("PGPASSWORD", error.Message, StringComparison.Ordinal);

            // A pgpass file that cannot be read is a clear error too, not the driver's exception.
            error = WithEnvironment(("PGPASSWORD", null), ("PGPASSFILE", "/nonexistent/pgpass"), () => Assert.Throws<DlsException>(() => DlsStore.OpenOrCreate(uri)));
            Assert.Equal(ErrorIds.StoreUnavailable, error.ErrorId);
            Assert.Contains("PGPASSFILE", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(empty);
        }
    }

    [PostgresFact]
    public void PGPASSWORD_opens_the_store()
    {
        var uri = TestPostgres.NewPasswordRole(Password);
        var server = WithEnvironment(("PGPASSWORD", Password), ("PGPASSFILE", null), () =>
            new ServerService(DlsStore.OpenOrCreate(uri), new FakeTimeProvider(DateTimeOffset.UtcNow)).Initialize("216998", force: false));
        Assert.Equal("216998", server.OrganizationId);
    }

    [PostgresFact]
    public void A_pgpass_file_opens_the_store()
    {
        var uri = TestPostgres.NewPasswordRole(Password);
        var folder = Directory.CreateTempSubdirectory("dls-pgpass-").FullName;
        try
        {
            var port = new Uri(uri.Replace("postgresql://", "http://", StringComparison.Ordinal)).Port;
            var passfile = Path.Combine(folder, "pgpass");
            File.WriteAllText(passfile, $"127.0.0.1:{port}:*:{TestPostgres.PasswordRole}:{Password}\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(passfile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            var server = WithEnvironment(("PGPASSWORD", null), ("PGPASSFILE", passfile), () =>
                new ServerService(DlsStore.OpenOrCreate(uri), new FakeTimeProvider(DateTimeOffset.UtcNow)).Initialize("216998", force: false));
            Assert.Equal("216998", server.OrganizationId);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_password_in_the_URI_is_refused_and_not_repeated()
    {
        var error = Assert.Throws<DlsException>(() => DlsStore.Open("postgresql://dls:hunter2@127.0.0.1:5432/dls"));
        Assert.Equal(ErrorIds.InvalidStoreUri, error.ErrorId);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorIds.InvalidStoreUri, Assert.Throws<DlsException>(() => DlsStore.Open("postgresql://dls@127.0.0.1:5432/dls?password=hunter2")).ErrorId);
        Assert.Equal(ErrorIds.InvalidStoreUri, Assert.Throws<DlsException>(() => DlsStore.Open("postgresql://dls@127.0.0.1:5432/")).ErrorId);
    }

    [Fact]
    public void Several_hosts_and_the_session_wanted_are_passed_to_the_driver()
    {
        var connection = new Npgsql.NpgsqlConnectionStringBuilder(Dls.Core.Storage.Postgres.PostgresUri.ConnectionString(
            "postgresql://dls@db1.example.com:5432,db2.example.com:5433/dls?target_session_attrs=read-write&sslmode=require", TimeSpan.FromSeconds(30)));
        Assert.Equal(("db1.example.com:5432,db2.example.com:5433", "dls", "dls", "read-write", Npgsql.SslMode.Require),
            (connection.Host, connection.Database, connection.Username, connection.TargetSessionAttributes, connection.SslMode));
        Assert.Equal(ErrorIds.InvalidStoreUri, Assert.Throws<DlsException>(() => DlsStore.Open("postgresql://dls@db1/dls?target_session_attrs=writable")).ErrorId);
    }

    private static T WithEnvironment<T>((string Name, string? Value) first, (string Name, string? Value) second, Func<T> work)
    {
        var saved = new[] { (first.Name, Environment.GetEnvironmentVariable(first.Name)), (second.Name, Environment.GetEnvironmentVariable(second.Name)) };
        Environment.SetEnvironmentVariable(first.Name, first.Value);
        Environment.SetEnvironmentVariable(second.Name, second.Value);
        try
        {
            return work();
        }
        finally
        {
            foreach (var (name, value) in saved)
            {
                Environment.SetEnvironmentVariable(name, value);
            }

            Npgsql.NpgsqlConnection.ClearAllPools();
        }
    }
}
