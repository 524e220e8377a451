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
    private const string RunAsUser = "postgres";

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

        return $"postgresql://{RunAsUser}@127.0.0.1:{server.Port}/{name}";
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
        return uri.Replace($"//{RunAsUser}@", $"//{PasswordRole}@", StringComparison.Ordinal);
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
            folder = FindOnPath("initdb" + exe) ?? NewestDebianFolder();
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

        if (IsRoot() && !UserExists(RunAsUser))
        {
            return (null, $"the tests run as root and there is no '{RunAsUser}' user to run PostgreSQL as (Debian's postgresql package creates it)");
        }

        return (folder, null);
    }

    /// <summary>The real folder of a tool found on PATH: a link such as /usr/local/bin/initdb leads to the server's own bin folder, where pg_ctl and postgres sit too.</summary>
    private static string? FindOnPath(string tool)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = System.IO.Path.Combine(directory, tool);
            if (File.Exists(candidate))
            {
                var target = File.ResolveLinkTarget(candidate, returnFinalTarget: true)?.FullName ?? candidate;
                return System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(target));
            }
        }

        return null;
    }

    /// <summary>Debian keeps each major version's binaries off PATH, in /usr/lib/postgresql/VERSION/bin: the highest version wins.</summary>
    private static string? NewestDebianFolder()
    {
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root))
        {
            return null;
        }

        return Directory.GetDirectories(root)
            .Select(version => (Version: decimal.TryParse(System.IO.Path.GetFileName(version), System.Globalization.CultureInfo.InvariantCulture, out var number) ? number : -1, Bin: System.IO.Path.Combine(version, "bin")))
            .Where(entry => entry.Version >= 0 && File.Exists(System.IO.Path.Combine(entry.Bin, "initdb")))
            .OrderByDescending(entry => entry.Version)
            .Select(entry => entry.Bin)
            .FirstOrDefault();
    }

    private static bool IsRoot() => !OperatingSystem.IsWindows() && geteuid() == 0;

    private static bool UserExists(string user) =>
        File.Exists("/etc/passwd") && File.ReadLines("/etc/passwd").Any(line => line.StartsWith(user + ":", StringComparison.Ordinal));

    [DllImport("libc", SetLastError = false)]
    private static extern uint geteuid();

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
            Username = RunAsUser,
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
            var asRoot = IsRoot();
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
                    Run("chown", [$"{RunAsUser}:", folder], asUser: false);
                }

                started.Tool("initdb", ["-D", started.Data, "-U", RunAsUser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]);
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
                    var port = FreePort();
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
                stop.InsertRange(0, ["runuser", "-u", RunAsUser, "--"]);
            }

            Run("/bin/sh", ["-c", watchdog, "sh", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), folder, .. stop], asUser: false);
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
            var asRoot = IsRoot();
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

        private static int FreePort()
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            return ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        private void Tool(string name, string[] arguments) =>
            Run(System.IO.Path.Combine(binaries.Folder!, OperatingSystem.IsWindows() ? name + ".exe" : name), arguments, asRoot);

        /// <summary>Runs a program to its end (as the postgres user when asked), throwing with its output when it fails.</summary>
        private static void Run(string program, string[] arguments, bool asUser)
        {
            var start = new ProcessStartInfo(asUser ? "runuser" : program)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (asUser)
            {
                foreach (var part in new[] { "-u", RunAsUser, "--", program })
                {
                    start.ArgumentList.Add(part);
                }
            }

            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
            var output = new StringBuilder();
            process.OutputDataReceived += (_, line) => { lock (output) { output.AppendLine(line.Data); } };
            process.ErrorDataReceived += (_, line) => { lock (output) { output.AppendLine(line.Data); } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"{System.IO.Path.GetFileName(program)} did not finish in 120 s:\n{output}");
            }

            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{System.IO.Path.GetFileName(program)} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{output}");
            }
        }
    }
}
