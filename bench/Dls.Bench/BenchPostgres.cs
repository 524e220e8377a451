using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Dls.Tests;
using Npgsql;

namespace Dls.Bench;

/// <summary>
/// The benchmark's own throwaway PostgreSQL cluster: initdb into a new folder, started on a free port of 127.0.0.1
/// with its socket in that folder, durable by default (fsync and synchronous_commit on, as a production server runs:
/// what a commit costs is the point of the measurement), stopped and removed when disposed. Under root it runs as the
/// <c>postgres</c> user, as PostgreSQL refuses root. It never touches a cluster of the system's own.
/// </summary>
/// <remarks>
/// The tests' cluster (tests/Shared/TestPostgres.cs) is not shared: it turns durability off and lives as long as the
/// test process, where this one is durable, started and removed by the benchmark around its run.
/// </remarks>
public sealed class BenchPostgres : IDisposable
{
    /// <summary>The database the bench store is created in.</summary>
    public const string Database = "dls_bench";


    private readonly string _binaries;
    private readonly string _folder;
    private readonly bool _asRoot;

    private BenchPostgres(string binaries, string folder, bool asRoot)
    {
        _binaries = binaries;
        _folder = folder;
        _asRoot = asRoot;
    }

    public int Port { get; private set; }

    /// <summary>The store URI of <see cref="Database"/>: <c>postgresql://postgres@127.0.0.1:PORT/dls_bench</c>.</summary>
    public string StoreUri => string.Create(CultureInfo.InvariantCulture, $"postgresql://{PostgresServerTools.RunAsUser}@127.0.0.1:{Port}/{Database}");

    private string Data => Path.Combine(_folder, "data");

    /// <summary>
    /// Makes, starts and creates <see cref="Database"/> in a new cluster; with <paramref name="durable"/> false, fsync
    /// and synchronous_commit are off; with <paramref name="statements"/>, pg_stat_statements is loaded and created in
    /// the database (for <see cref="PrintStatements"/>).
    /// </summary>
    public static BenchPostgres Start(bool durable, bool statements)
    {
        var binaries = PostgresServerTools.FindBinaries() ?? throw new InvalidOperationException("PostgreSQL is not installed: no initdb on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql), and no --store postgresql://... given.");
        var asRoot = PostgresServerTools.IsRoot();
        if (asRoot && !File.ReadLines("/etc/passwd").Any(line => line.StartsWith(PostgresServerTools.RunAsUser + ":", StringComparison.Ordinal)))
        {
            throw new InvalidOperationException($"The bench runs as root and there is no '{PostgresServerTools.RunAsUser}' user to run PostgreSQL as (Debian's postgresql package creates it).");
        }

        // Under root, a folder the postgres user can reach: root's temporary folder may be private.
        var folder = Path.Combine(asRoot ? "/tmp" : Path.GetTempPath(), "dls-bench-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        var cluster = new BenchPostgres(binaries, folder, asRoot);
        try
        {
            if (asRoot)
            {
                PostgresServerTools.Run("chown", [$"{PostgresServerTools.RunAsUser}:", folder], asUser: false);
            }

            cluster.Tool("initdb", ["-D", cluster.Data, "-U", PostgresServerTools.RunAsUser, "--auth=trust", "--encoding=UTF8", "--locale=C"]);
            var sync = durable ? "on" : "off";
            File.AppendAllText(Path.Combine(cluster.Data, "postgresql.conf"), string.Join('\n',
                "",
                "# the benchmark's throwaway cluster: loopback only, its socket in its own folder",
                "listen_addresses = '127.0.0.1'",
                $"unix_socket_directories = '{folder}'",
                $"fsync = {sync}",
                $"synchronous_commit = {sync}",
                "max_connections = 300",
                statements ? "shared_preload_libraries = 'pg_stat_statements'" : string.Empty,
                ""));
            for (var attempt = 1; ; attempt++)
            {
                cluster.Port = PostgresServerTools.FreePort();
                try
                {
                    cluster.Tool("pg_ctl", ["-D", cluster.Data, "-l", Path.Combine(folder, "server.log"), "-w", "-t", "60", "-o", $"-p {cluster.Port}", "start"]);
                    break;
                }
                catch (InvalidOperationException) when (attempt < 3)
                {
                    // The free port was taken before the server bound it: another one.
                }
            }

            cluster.Execute("postgres", $"CREATE DATABASE {Database} ENCODING 'UTF8' TEMPLATE template0");
            if (statements)
            {
                cluster.Execute(Database, "CREATE EXTENSION pg_stat_statements");
            }

            return cluster;
        }
        catch (Exception failure)
        {
            var log = Path.Combine(folder, "server.log");
            var detail = File.Exists(log) ? $"\nserver.log:\n{File.ReadAllText(log)}" : string.Empty;
            cluster.Dispose();
            throw new InvalidOperationException($"The bench's PostgreSQL cluster did not start: {failure.Message}{detail}", failure);
        }
    }

    /// <summary>
    /// User + system CPU seconds the cluster has used so far: the postmaster and every process it started (backends,
    /// WAL writer, checkpointer …), and what its children that have exited used (from /proc/PID/stat).
    /// </summary>
    public double CpuSeconds()
    {
        var pidFile = Path.Combine(Data, "postmaster.pid");
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadLines(pidFile).First(), out var postmaster))
        {
            return double.NaN;
        }

        var ticks = 0L;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                // After the command name: state is field 3, ppid 4, utime 14, stime 15, cutime 16, cstime 17.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
                if (pid == postmaster || parent == postmaster)
                {
                    ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                    ticks += pid == postmaster ? long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture) : 0;
                }
            }
            catch (IOException)
            {
                // The process ended while it was read.
            }
        }

        return ticks / 100.0;
    }

    /// <summary>The server's version and the settings that decide what a commit costs, as one line.</summary>
    public static string Settings(string storeUri)
    {
        var uri = new Uri(storeUri);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.Port,
            Username = Uri.UnescapeDataString(uri.UserInfo),
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
            Pooling = false,
        };
        using var connection = new NpgsqlConnection(builder.ConnectionString);
        connection.Open();
        var parts = new List<string> { $"PostgreSQL {connection.PostgreSqlVersion}" };
        foreach (var name in new[] { "fsync", "synchronous_commit", "full_page_writes", "wal_sync_method", "shared_buffers", "max_connections" })
        {
            using var show = connection.CreateCommand();
            show.CommandText = $"SHOW {name}";
            parts.Add($"{name}={show.ExecuteScalar()}");
        }

        return string.Join(", ", parts);
    }

    /// <summary>Stops the server (fast: sessions end, the data is thrown away anyway) and deletes its folder.</summary>
    public void Dispose()
    {
        if (File.Exists(Path.Combine(Data, "postmaster.pid")))
        {
            try
            {
                NpgsqlConnection.ClearAllPools();
                Tool("pg_ctl", ["-D", Data, "-m", "fast", "-w", "stop"]);
            }
            catch (InvalidOperationException error)
            {
                Console.Error.WriteLine($"Stopping the bench's PostgreSQL cluster: {error.Message}");
            }
        }

        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"The bench's PostgreSQL folder {_folder} could not be removed: {error.Message}");
        }
    }

    /// <summary>Forgets what pg_stat_statements and the database's transaction counters saw so far (before a phase).</summary>
    public void ResetStatements()
    {
        Execute(Database, "SELECT pg_stat_statements_reset(); SELECT pg_stat_reset();");
    }

    /// <summary>
    /// Where the server's time went since <see cref="ResetStatements"/> (pg_stat_statements): the totals of statements
    /// and transactions next to <paramref name="requests"/>, the statements that took the most execution time, and
    /// what one round trip (<c>SELECT 1</c> from this process) takes now, on this machine as loaded as it is.
    /// </summary>
    public void PrintStatements(string title, long requests, int top = 12)
    {
        using var connection = Connect(Database);
        using var totals = connection.CreateCommand();
        totals.CommandText = """
            SELECT (SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%'),
                   (SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%'),
                   (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database())
            """;
        using (var reader = totals.ExecuteReader())
        {
            reader.Read();
            var (calls, milliseconds, transactions) = (reader.GetDecimal(0), reader.GetDouble(1), reader.GetInt64(2));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"postgres statements, {title} (warm-up and timed rounds): {calls:N0} executed in {milliseconds / 1000:N1} s of execution, {transactions:N0} transactions; {requests:N0} listener requests answered = {(double)calls / Math.Max(1, requests):F1} statements, {milliseconds / Math.Max(1, requests):F2} ms of execution and {(double)transactions / Math.Max(1, requests):F2} transactions a request"));
        }

        using (var command = connection.CreateCommand())
        {
            command.CommandText = $"SELECT calls, total_exec_time, mean_exec_time, rows, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%' ORDER BY total_exec_time DESC LIMIT {top}";
            using var rows = command.ExecuteReader();
            Console.WriteLine($"  {"calls",10} {"total s",8} {"mean ms",8} {"rows",10}  statement");
            while (rows.Read())
            {
                var query = rows.GetString(4);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {rows.GetInt64(0),10:N0} {rows.GetDouble(1) / 1000,8:F2} {rows.GetDouble(2),8:F3} {rows.GetInt64(3),10:N0}  {(query.Length > 110 ? query[..110] + " …" : query)}"));
            }
        }

        using var ping = connection.CreateCommand();
        ping.CommandText = "SELECT 1";
        var clock = Stopwatch.StartNew();
        const int trips = 200;
        for (var i = 0; i < trips; i++)
        {
            ping.ExecuteScalar();
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  one round trip (SELECT 1 from the bench, {trips} in a row, now): {clock.Elapsed.TotalMilliseconds / trips:F3} ms"));
    }

    private NpgsqlConnection Connect(string database)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = PostgresServerTools.RunAsUser,
            Database = database,
            Pooling = false,
        }.ConnectionString);
        connection.Open();
        return connection;
    }

    private void Execute(string database, string sql)
    {
        using var connection = Connect(database);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private void Tool(string name, string[] arguments) => PostgresServerTools.Run(Path.Combine(_binaries, name), arguments, _asRoot);

    /// <summary>Runs a program to its end (as the postgres user when asked), throwing with its output when it fails.</summary>
}
