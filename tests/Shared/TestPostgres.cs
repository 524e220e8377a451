using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Npgsql;

namespace Dls.Tests;

/// <summary>
/// A throwaway PostgreSQL cluster of this test process: made with the installed server's own binaries (initdb into a
/// fresh temporary folder, started on a free port of 127.0.0.1 with its socket in that folder), started the first
/// time a test asks for a database, and stopped and removed when the process exits. Under root it runs as the
/// <c>postgres</c> user, as PostgreSQL refuses root. It never touches a cluster of the system's own.
/// </summary>
/// <remarks>
/// <see cref="Available"/> only says whether the binaries are there (and, under root, the user to run them as): it is
/// decided without starting anything, so that a test can be skipped when it is discovered. A cluster that is
/// installed but does not start is a failure, with initdb's or the server's own words, not a skip.
/// </remarks>
public static class TestPostgres
{
    /// <summary>Set to <c>none</c> to hide the installed binaries (to see the suite without PostgreSQL), or to a folder holding initdb, pg_ctl and postgres.</summary>
    public const string BinariesVariable = "DLS_TEST_POSTGRES_BIN";

    private const string FolderPrefix = "dls-pg-";
    private const string OwnerFile = "owner.pid";

    private static readonly (string? Folder, string? Problem) binaries = FindBinaries();
    private static readonly Lazy<Cluster> cluster = new(Cluster.Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int databases;

    /// <summary>True when PostgreSQL's binaries are found (and, under root, the <c>postgres</c> user exists).</summary>
    public static bool Available => binaries.Folder is not null;

    /// <summary>Why <see cref="Available"/> is false (null when it is true).</summary>
    public static string? UnavailableReason => binaries.Problem;

    /// <summary>The one role of the cluster that must give a password (<see cref="NewPasswordRole"/>); every other is trusted on loopback.</summary>
    public const string PasswordRole = "dls_with_password";

    /// <summary>The folder holding initdb, pg_ctl and postgres, when <see cref="Available"/>.</summary>
    public static string? BinaryFolder => binaries.Folder;

    /// <summary>
    /// A new, empty database of the cluster (started on first use), as the URI a store path takes:
    /// <c>postgresql://postgres@127.0.0.1:PORT/dls_t_N</c>. It goes when the cluster goes, at process exit.
    /// </summary>
    public static string NewDatabase()
    {
        var server = cluster.Value;
        var name = $"dls_t_{Interlocked.Increment(ref databases)}";
        using (var connection = new NpgsqlConnection(server.ConnectionString("postgres")))
        {
            connection.Open();
            using var create = connection.CreateCommand();
            // The name is ours (a counter), never input: CREATE DATABASE takes no parameters.
            create.CommandText = $"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0";
            create.ExecuteNonQuery();
        }

        return $"postgresql://{PostgresServerTools.RunAsUser}@127.0.0.1:{server.Port}/{name}";
    }

    /// <summary>
    /// Gives <see cref="PasswordRole"/> the password <paramref name="password"/> and a new database it owns; returns the
    /// database's URI for that role (which names no password: it comes from PGPASSWORD or a pgpass file).
    /// </summary>
    public static string NewPasswordRole(string password)
    {
        var uri = NewDatabase();
        var name = uri[(uri.LastIndexOf('/') + 1)..];
        using var connection = new NpgsqlConnection(cluster.Value.ConnectionString("postgres"));
        connection.Open();
        using var command = connection.CreateCommand();
        // Names and the password are the tests' own constants, never input: DDL takes no parameters.
        command.CommandText = $"""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{PasswordRole}') THEN CREATE ROLE {PasswordRole} LOGIN; END IF;
            END $$;
            ALTER ROLE {PasswordRole} PASSWORD '{password.Replace("'", "''", StringComparison.Ordinal)}';
            ALTER DATABASE {name} OWNER TO {PasswordRole};
            """;
        command.ExecuteNonQuery();
        return uri.Replace($"//{PostgresServerTools.RunAsUser}@", $"//{PasswordRole}@", StringComparison.Ordinal);
    }

    /// <summary>An Npgsql connection string for a URI of <see cref="NewDatabase"/>, for tests that look into the database themselves.</summary>
    public static string ConnectionStringOf(string uri)
    {
        var parsed = new Uri(uri);
        if (parsed.Scheme != "postgresql")
        {
            throw new ArgumentException($"Not a postgresql:// URI: {uri}", nameof(uri));
        }

        return new NpgsqlConnectionStringBuilder
        {
            Host = parsed.Host,
            Port = parsed.Port,
            Username = Uri.UnescapeDataString(parsed.UserInfo),
            Database = Uri.UnescapeDataString(parsed.AbsolutePath.TrimStart('/')),
        }.ConnectionString;
    }

    private static (string? Folder, string? Problem) FindBinaries()
    {
        var exe = OperatingSystem.IsWindows() ? ".exe" : "";
        var setting = Environment.GetEnvironmentVariable(BinariesVariable);
        string? folder;
        if (string.Equals(setting, "none", StringComparison.OrdinalIgnoreCase))
        {
            return (null, $"PostgreSQL's binaries are hidden ({BinariesVariable}=none)");
        }
        else if (!string.IsNullOrEmpty(setting))
        {
            folder = setting;
        }
        else
        {
            folder = PostgresServerTools.FindBinaries();
        }

        if (folder is null)
        {
            return (null, "PostgreSQL is not installed: no initdb on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql)");
        }

        foreach (var tool in new[] { "initdb", "pg_ctl", "postgres" })
        {
            if (!File.Exists(System.IO.Path.Combine(folder, tool + exe)))
            {
                return (null, $"PostgreSQL is incomplete: no {tool} in {folder}");
            }
        }

        if (PostgresServerTools.IsRoot() && !UserExists(PostgresServerTools.RunAsUser))
        {
            return (null, $"the tests run as root and there is no '{PostgresServerTools.RunAsUser}' user to run PostgreSQL as (Debian's postgresql package creates it)");
        }

        return (folder, null);
    }

    private static bool UserExists(string user) =>
        File.Exists("/etc/passwd") && File.ReadLines("/etc/passwd").Any(line => line.StartsWith(user + ":", StringComparison.Ordinal));

    /// <summary>One running cluster: its folder (data, socket, log) and port.</summary>
    private sealed class Cluster
    {
        private readonly string folder;
        private readonly bool asRoot;

        private Cluster(string folder, bool asRoot, int port)
        {
            this.folder = folder;
            this.asRoot = asRoot;
            Port = port;
        }

        public int Port { get; }

        private string Data => System.IO.Path.Combine(folder, "data");

        public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = PostgresServerTools.RunAsUser,
            Database = database,
            Pooling = false,
        }.ConnectionString;

        public static Cluster Start()
        {
            if (binaries.Folder is null)
            {
                throw new InvalidOperationException($"No PostgreSQL for the tests: {binaries.Problem}.");
            }

            RemoveStale();
            var asRoot = PostgresServerTools.IsRoot();
            // Under root, a folder the postgres user can reach: the temporary folder of root may be private.
            var parent = asRoot ? "/tmp" : System.IO.Path.GetTempPath();
            var folder = System.IO.Path.Combine(parent, FolderPrefix + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(folder);
            File.WriteAllText(System.IO.Path.Combine(folder, OwnerFile), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var started = new Cluster(folder, asRoot, 0);
            try
            {
                if (asRoot)
                {
                    PostgresServerTools.Run("chown", [$"{PostgresServerTools.RunAsUser}:", folder], asUser: false);
                }

                started.Tool("initdb", ["-D", started.Data, "-U", PostgresServerTools.RunAsUser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]);
                // One role logs in with a password (the tests of PGPASSWORD and pgpass); every other one is trusted.
                var hba = System.IO.Path.Combine(started.Data, "pg_hba.conf");
                File.WriteAllText(hba, $"host all {PasswordRole} 127.0.0.1/32 scram-sha-256\n" + File.ReadAllText(hba));
                File.AppendAllText(System.IO.Path.Combine(started.Data, "postgresql.conf"), string.Join('\n',
                    "",
                    "# the tests' throwaway cluster: loopback only, its socket in its own folder, no durability",
                    "listen_addresses = '127.0.0.1'",
                    $"unix_socket_directories = '{(OperatingSystem.IsWindows() ? "" : folder)}'",
                    "fsync = off",
                    "synchronous_commit = off",
                    "full_page_writes = off",
                    "max_connections = 200",
                    "shared_buffers = 32MB",
                    ""));

                // A free port is only free until someone takes it: a start that loses the race tries another one.
                for (var attempt = 1; ; attempt++)
                {
                    var port = PostgresServerTools.FreePort();
                    try
                    {
                        started.Tool("pg_ctl", ["-D", started.Data, "-l", System.IO.Path.Combine(folder, "server.log"), "-w", "-t", "60", "-o", $"-p {port}", "start"]);
                        var running = new Cluster(folder, asRoot, port);
                        running.RemoveAtExit();
                        // A PostgreSQL store's secrets key is a file of the machine, by default in the user's data
                        // folder: the tests' stores keep theirs in the cluster's folder, which goes with it.
                        Environment.SetEnvironmentVariable(Dls.Core.Storage.Postgres.PostgresSecretsKey.EnvironmentVariable, System.IO.Path.Combine(folder, "secrets.key"));
                        return running;
                    }
                    catch (InvalidOperationException) when (attempt < 3)
                    {
                    }
                }
            }
            catch (Exception failure)
            {
                var log = System.IO.Path.Combine(folder, "server.log");
                var detail = File.Exists(log) ? $"\nserver.log:\n{File.ReadAllText(log)}" : "";
                started.Remove();
                throw new InvalidOperationException($"The tests' PostgreSQL cluster did not start: {failure.Message}{detail}", failure);
            }
        }

        /// <summary>
        /// Has the cluster removed once this process is gone. Not from a ProcessExit handler: the test platform gives
        /// its test host only a moment to exit before it kills it, too little for pg_ctl. A watchdog of its own (a shell
        /// loop no longer a child of this process, so a kill of this process's tree spares it) waits for this process
        /// to end, however it ends, then stops the server and deletes the folder.
        /// </summary>
        private void RemoveAtExit()
        {
            if (OperatingSystem.IsWindows())
            {
                AppDomain.CurrentDomain.ProcessExit += (_, _) => Remove();
                return;
            }

            const string watchdog = """
                owner=$1; folder=$2; shift 2
                exec </dev/null >/dev/null 2>&1
                ( while kill -0 "$owner"; do sleep 1; done; "$@"; rm -rf "$folder" ) &
                """;
            var stop = new List<string> { System.IO.Path.Combine(binaries.Folder!, "pg_ctl"), "-D", Data, "-m", "immediate", "-w", "stop" };
            if (asRoot)
            {
                stop.InsertRange(0, ["runuser", "-u", PostgresServerTools.RunAsUser, "--"]);
            }

            PostgresServerTools.Run("/bin/sh", ["-c", watchdog, "sh", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), folder, .. stop], asUser: false);
        }

        /// <summary>Stops the server at once (its data is thrown away anyway) and deletes the folder.</summary>
        private void Remove()
        {
            if (File.Exists(System.IO.Path.Combine(Data, "postmaster.pid")))
            {
                try
                {
                    Tool("pg_ctl", ["-D", Data, "-m", "immediate", "-w", "stop"]);
                }
                catch (InvalidOperationException)
                {
                    // Already gone: the folder still goes.
                }
            }

            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        /// <summary>Clusters left by runs that were killed before they could clean up (their owner process is gone): stopped and removed.</summary>
        private static void RemoveStale()
        {
            var asRoot = PostgresServerTools.IsRoot();
            var parent = asRoot ? "/tmp" : System.IO.Path.GetTempPath();
            foreach (var stale in Directory.GetDirectories(parent, FolderPrefix + "*"))
            {
                var ownerFile = System.IO.Path.Combine(stale, OwnerFile);
                if (!File.Exists(ownerFile) || !int.TryParse(File.ReadAllText(ownerFile), out var owner) || IsRunning(owner))
                {
                    continue;
                }

                new Cluster(stale, asRoot, 0).Remove();
            }
        }

        private static bool IsRunning(int processId)
        {
            try
            {
                using var process = Process.GetProcessById(processId);
                return !process.HasExited;
            }
            catch (ArgumentException)
            {
                return false;
            }
        }

        private void Tool(string name, string[] arguments) =>
            PostgresServerTools.Run(System.IO.Path.Combine(binaries.Folder!, OperatingSystem.IsWindows() ? name + ".exe" : name), arguments, asRoot);

    }
}
