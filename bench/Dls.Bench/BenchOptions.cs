using System.Globalization;

namespace Dls.Bench;

/// <summary>The command line: <c>[--listener PATH.dll] [--bare PATH.dll] [--seconds 10] [--rounds 3] [--connections 64]
/// [--warmup 2] [--devices 2000] [--phases reports,known,new] [--keep-store] [--wrk] [--engine sqlite|postgresql]
/// [--store postgresql://...] [--pg-no-sync] [--pg-statements] [--listeners 1]</c>.</summary>
public sealed record BenchOptions
{
    public const string Usage = """
        dotnet run --project bench/Dls.Bench -c Release -- [options]
          --listener PATH    the listener's Dls.Listener.dll (default: the newest under listener/bin/Release;
                             build it first: dotnet build listener -c Release)
          --bare PATH        BareKestrel.dll (default: the newest under bench/BareKestrel/bin/Release, built with the bench)
          --seconds N        length of one timed round on one target (10)
          --rounds N         timed rounds per phase and target, alternating bare, listener, bare, ... (3)
          --connections N    concurrent keep-alive connections, one request in flight on each (64)
          --warmup N         untimed seconds on each target before each phase (2)
          --devices N        known devices: authorized before the timed phases, then cycled through (2000)
          --phases LIST      any of reports,known,new, in that order of running (all three)
          --keep-store       leave the store folder behind and print its path
          --wrk              also run each phase once per target with wrk -t2 -cN, if wrk is on PATH
                             (against the first listener and bare Kestrel only)
          --engine E         sqlite (a new file in a temporary folder) or postgresql (a throwaway cluster of the
                             installed PostgreSQL, started and removed by the bench) (sqlite)
          --store URI        a postgresql://user@host:port/database of an existing server instead of the throwaway
                             cluster: the database must exist and hold no DLS tables; the bench leaves it as it is
          --pg-no-sync       the throwaway cluster with fsync and synchronous_commit off (default: both on)
          --pg-statements    the throwaway cluster with pg_stat_statements: prints the statements that took the
                             server's time, and statements and transactions a request (a profile; costs a little)
          --listeners N      listener processes on the one store, the connections split evenly between them,
                             measured against as many bare Kestrels split the same way (1)
        """;

    public string? Listener { get; init; }

    public string? Bare { get; init; }

    public int Seconds { get; init; } = 10;

    public int Rounds { get; init; } = 3;

    public int Connections { get; init; } = 64;

    public int Warmup { get; init; } = 2;

    public int Devices { get; init; } = 2000;

    public IReadOnlyList<string> Phases { get; init; } = ["reports", "known", "new"];

    public bool KeepStore { get; init; }

    public bool Wrk { get; init; }

    /// <summary>The engine asked for: true for postgresql, false for sqlite, null when not said.</summary>
    public bool? Engine { get; init; }

    /// <summary>True for PostgreSQL (--engine postgresql or a --store URI).</summary>
    public bool Postgres => Engine ?? Store is not null;

    /// <summary>An existing PostgreSQL database to create the store in; null for the bench's own cluster.</summary>
    public string? Store { get; init; }

    /// <summary>Whether the throwaway cluster commits durably (fsync and synchronous_commit on).</summary>
    public bool PgSync { get; init; } = true;

    /// <summary>Whether the throwaway cluster loads pg_stat_statements and the bench prints what it saw.</summary>
    public bool PgStatements { get; init; }

    public int Listeners { get; init; } = 1;

    /// <returns>The options, or null after printing what was wrong and the usage.</returns>
    public static BenchOptions? Parse(string[] args)
    {
        var options = new BenchOptions();
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value.");
                int Number(int minimum)
                {
                    var name = args[i];
                    var value = int.Parse(Value(), CultureInfo.InvariantCulture);
                    return value >= minimum ? value : throw new FormatException($"{name} must be at least {minimum}.");
                }

                options = args[i] switch
                {
                    "--listener" => options with { Listener = Path.GetFullPath(Value()) },
                    "--bare" => options with { Bare = Path.GetFullPath(Value()) },
                    "--seconds" => options with { Seconds = Number(1) },
                    "--rounds" => options with { Rounds = Number(1) },
                    "--connections" => options with { Connections = Number(1) },
                    "--warmup" => options with { Warmup = Number(0) },
                    "--devices" => options with { Devices = Number(1) },
                    "--phases" => options with { Phases = ParsePhases(Value()) },
                    "--keep-store" => options with { KeepStore = true },
                    "--wrk" => options with { Wrk = true },
                    "--engine" => options with { Engine = ParseEngine(Value()) },
                    "--store" => options with { Store = ParseStore(Value()) },
                    "--pg-no-sync" => options with { PgSync = false },
                    "--pg-statements" => options with { PgStatements = true },
                    "--listeners" => options with { Listeners = Number(1) },
                    "--help" or "-h" => throw new FormatException(string.Empty),
                    _ => throw new FormatException($"Unknown option {args[i]}."),
                };
            }

            if (options.Store is not null && !options.Postgres)
            {
                throw new FormatException("--store takes a PostgreSQL database; it cannot go with --engine sqlite.");
            }

            if ((options.PgStatements || !options.PgSync) && (!options.Postgres || options.Store is not null))
            {
                throw new FormatException("--pg-statements and --pg-no-sync set up the bench's own PostgreSQL cluster: they need --engine postgresql and no --store.");
            }

            if (options.Listeners > 1 && !options.Postgres)
            {
                throw new FormatException("--listeners above 1 is for PostgreSQL, where several main listeners of one store all serve (SPEC §7): add --engine postgresql.");
            }

            return options;
        }
        catch (FormatException error)
        {
            if (error.Message.Length > 0)
            {
                Console.Error.WriteLine(error.Message);
            }

            Console.Error.WriteLine(Usage);
            return null;
        }
    }

    private static bool ParseEngine(string engine) => engine.ToLowerInvariant() switch
    {
        "sqlite" => false,
        "postgresql" or "postgres" => true,
        _ => throw new FormatException($"--engine takes sqlite or postgresql; not {engine}."),
    };

    private static string ParseStore(string uri) =>
        Dls.Core.Storage.Postgres.PostgresUri.IsUri(uri) ? uri : throw new FormatException($"--store takes a postgresql://user@host:port/database URI; not {uri}.");

    private static string[] ParsePhases(string list)
    {
        string[] known = ["reports", "known", "new"];
        var phases = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var unknown = phases.Except(known).ToList();
        return unknown.Count == 0 && phases.Length > 0
            ? phases
            : throw new FormatException($"--phases takes a list of {string.Join(", ", known)}; not {string.Join(", ", unknown)}.");
    }
}
