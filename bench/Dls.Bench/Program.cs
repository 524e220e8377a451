using System.Globalization;
using Dls.Bench;

// The listener side by side with bare Kestrel (bench/BareKestrel: the same two POSTs answered with a fixed body and no
// work), on the same cores, driven by the same lean client, in alternating rounds: the listener's rate as a fraction
// of the web server's is what this prints, and it resolves changes that a single run on a shared machine cannot.
// Then the listener's peak memory, the store's bytes per usage record, and a check that every acknowledged record
// counted. The store is SQLite or PostgreSQL (the bench's own throwaway cluster, or a database given), served by
// one listener or several (the connections split evenly between them, against as many bare Kestrels split the same
// way). docs/benchmarks.md ("The listener", "PostgreSQL, one and two listeners") says how to read it.
var options = BenchOptions.Parse(args);
if (options is null)
{
    return 2;
}

var listenerDll = options.Listener ?? Locate.Listener();
var bareDll = options.Bare ?? Locate.Bare();
if (listenerDll is null || !File.Exists(listenerDll))
{
    Console.Error.WriteLine($"No listener to measure{(listenerDll is null ? " under listener/bin/Release" : $" at {listenerDll}")}. Build it first: dotnet build listener -c Release (or pass --listener PATH/Dls.Listener.dll).");
    return 2;
}

if (bareDll is null || !File.Exists(bareDll))
{
    Console.Error.WriteLine("No BareKestrel.dll found: dotnet build bench/BareKestrel -c Release (or pass --bare PATH/BareKestrel.dll).");
    return 2;
}

var workloads = new Dictionary<string, Workload>
{
    ["reports"] = Workload.Reports(options.Devices, BenchStore.ScanItem, BenchStore.ScanProduct),
    ["known"] = Workload.KnownDevices(options.Devices, BenchStore.DeviceProduct),
    ["new"] = Workload.NewDevices(BenchStore.DeviceProduct),
};
// What each phase needs the known devices to hold before it starts (authorized untimed, once).
var setup = new Dictionary<string, string> { ["reports"] = BenchStore.ScanProduct, ["known"] = BenchStore.DeviceProduct };

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"DLS listener vs bare Kestrel: {Environment.ProcessorCount} cores, {options.Connections} connections, {options.Rounds} alternating round(s) of {options.Seconds} s per target and phase, {options.Warmup} s warm-up; load average at start {Report.LoadAverage()}"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"  engine:   {(options.Postgres ? "PostgreSQL" : "SQLite")}, {options.Listeners} listener(s){(options.Listeners > 1 ? $" on the one store against {options.Listeners} bare Kestrels, connections split evenly" : string.Empty)}"));
Console.WriteLine($"  listener: {listenerDll}");
Console.WriteLine($"  bare:     {bareDll}");

// The bench's own cluster, when PostgreSQL is asked for without a server: removed last, after everything that uses it.
using var cluster = options.Postgres && options.Store is null ? BenchPostgres.Start(options.PgSync, options.PgStatements) : null;
var store = BenchStore.Create(options.Store ?? cluster?.StoreUri);
var failed = false;
try
{
    if (store.IsPostgres)
    {
        Console.WriteLine($"  postgres: {(cluster is null ? "the server given" : "the bench's throwaway cluster")}; {BenchPostgres.Settings(store.Path)}");
    }

    await using var bare = await TargetGroup.StartAsync("bare Kestrel", options.Listeners, bareDll, []);
    await using var listener = await TargetGroup.StartAsync("listener", options.Listeners, listenerDll, ["--store", store.Path]);
    Console.WriteLine($"  store:    {store.Path}");
    Console.WriteLine($"  serving:  bare {string.Join(", ", bare.Processes.Select(p => $"{p.Url} (process {p.ProcessId})"))}; listener {string.Join(", ", listener.Processes.Select(p => $"{p.Url} (process {p.ProcessId})"))}");
    var (bareSettings, listenerSettings) = (RuntimeSettings.Of(bareDll), RuntimeSettings.Of(listenerDll));
    var (bareRuntime, listenerRuntime) = (RuntimeSettings.Loaded(bare.Processes[0].ProcessId), RuntimeSettings.Loaded(listener.Processes[0].ProcessId));
    Console.WriteLine($"  runtime (both): {listenerRuntime}; {listenerSettings}");
    if (bareSettings != listenerSettings || bareRuntime != listenerRuntime)
    {
        Report.Loudly($"THE TARGETS RUN WITH DIFFERENT SETTINGS: bare {bareRuntime}; {bareSettings}");
    }

    var generator = new LoadGenerator(options.Connections);
    // Everything the listener answered, warm-ups included: each 200 to a report batch added to the store.
    var listenerAnswers = new Tally();
    var authorized = new HashSet<string>();
    var phases = new List<PhaseResult>();
    long? sizeBefore = null;
    foreach (var key in options.Phases)
    {
        var workload = workloads[key];
        if (setup.TryGetValue(key, out var product) && authorized.Add(product))
        {
            await BenchStore.AuthorizeAsync(listener.Url, options.Devices, product);
            Console.WriteLine($"  setup: {options.Devices} devices authorized for {product} (untimed)");
        }

        // What the store held before the first measured requests (its setup included): what they added is the difference.
        sizeBefore ??= store.Size().Bytes;

        // The profile of a phase leaves its untimed setup out.
        var phaseAnswers = new Tally();
        if (options.PgStatements)
        {
            cluster?.ResetStatements();
        }

        foreach (var target in new[] { bare, listener })
        {
            var warm = await generator.RunAsync(target.EndPoints, workload, TimeSpan.FromSeconds(options.Warmup), measure: false);
            if (target == listener)
            {
                listenerAnswers.Add(warm.Tally);
                phaseAnswers.Add(warm.Tally);
            }
        }

        var result = new PhaseResult(workload, new TargetResult(bare.Name), new TargetResult(listener.Name));
        for (var round = 1; round <= options.Rounds; round++)
        {
            foreach (var (target, results) in new[] { (bare, result.Bare), (listener, result.Listener) })
            {
                var (cpu, databaseCpu) = (target.CpuSeconds(), cluster?.CpuSeconds());
                var run = await generator.RunAsync(target.EndPoints, workload, TimeSpan.FromSeconds(options.Seconds), measure: true);
                var serverCpu = target.CpuSeconds() - cpu;
                var databaseCpuUsed = cluster?.CpuSeconds() - databaseCpu;
                results.Add(run, serverCpu, databaseCpuUsed ?? 0);
                Report.Round(workload, target.Name, round, run, serverCpu, databaseCpuUsed);
                if (target == listener)
                {
                    listenerAnswers.Add(run.Tally);
                    phaseAnswers.Add(run.Tally);
                }
            }
        }

        phases.Add(result);
        if (options.PgStatements)
        {
            cluster?.PrintStatements(workload.Title, phaseAnswers.Responses);
        }
    }

    Report.Phases(phases);
    Console.WriteLine($"load average at end {Report.LoadAverage()}");

    // Memory: the kernel's high-water mark for the process (read as it is stopped), and the largest of the 250 ms samples.
    var exitCodes = await listener.StopAsync();
    Console.WriteLine();
    foreach (var (process, i) in listener.Processes.Select((p, i) => (p, i + 1)))
    {
        Console.WriteLine($"peak RSS: listener {i} {Report.MiB(process.PeakRssKb ?? 0)} (VmHWM), {Report.MiB(process.PeakSampledRssKb)} (largest VmRSS sample every 250 ms)");
    }

    Console.WriteLine($"peak RSS: bare Kestrel {string.Join(", ", bare.Processes.Select(p => Report.MiB(p.PeakSampledRssKb)))} (largest sample)");

    var answers = listenerAnswers;
    if (answers.NonOk + answers.Failed > 0)
    {
        failed = true;
        Report.Loudly($"THE LISTENER ANSWERED {answers.NonOk} REQUEST(S) WITH A STATUS OTHER THAN 200 AND {answers.Failed} FAILED ON THE CONNECTION. Its output:");
        foreach (var process in listener.Processes)
        {
            Console.WriteLine($"--- listener process {process.ProcessId}:");
            Console.WriteLine(string.Join(Environment.NewLine, process.Output.Split(Environment.NewLine).TakeLast(30)));
        }
    }

    // The store after a clean stop (SIGTERM: each listener finishes its batch, checkpoints and closes).
    var (size, what) = store.Size();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"store: {size:N0} bytes ({what}; after SIGTERM, exit code(s) {string.Join(", ", exitCodes.Select(c => c?.ToString(CultureInfo.InvariantCulture) ?? "none: killed"))})"));
    if (answers.Accepted > 0)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"       / {answers.Accepted:N0} usage records accepted (\"accepted\" of its 200 answers) = {(double)size / answers.Accepted:F1} bytes a record{(options.Phases.Any(p => p != "reports") ? " (everything in the store: the seats and statistics of the authorization phases too)" : string.Empty)}"));
        if (sizeBefore is { } before && options.Phases[0] == "reports")
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"       the store held {before:N0} bytes before the first report (the new store and its {options.Devices:N0} authorized devices): ({size:N0} - {before:N0}) / {answers.Accepted:N0} = {(double)(size - before) / answers.Accepted:F1} bytes a record added{(options.Phases.Count > 1 ? " (with the later phases' devices too)" : string.Empty)}"));
        }
    }

    if (answers.OkBatches > 0)
    {
        var expected = answers.OkBatches * workloads["reports"].CountsPerRequest;
        var (counted, why) = UsageCheck.CountedTotal(store.Path, BenchStore.ScanItem);
        if (counted is null)
        {
            Console.WriteLine($"counted: cannot check ({why})");
        }
        else if (counted == expected && answers.Refused == 0 && answers.Unreadable == 0 && answers.Accepted == answers.OkBatches * 10)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"counted: {BenchStore.ScanItem} {counted:N0} scans = {answers.OkBatches:N0} batches answered 200 × {workloads["reports"].CountsPerRequest}: every acknowledged record counted"));
        }
        else
        {
            failed = true;
            Report.Loudly(string.Create(CultureInfo.InvariantCulture,
                $"COUNTS DO NOT ADD UP: {BenchStore.ScanItem} counted {counted:N0}, expected {expected:N0} ({answers.OkBatches:N0} batches answered 200); accepted {answers.Accepted:N0}, refused {answers.Refused:N0}, unreadable answers {answers.Unreadable:N0}"));
        }
    }

    // wrk's runs come after the measurements and checks, against a listener started again on the same store: its
    // answers are not read, so its batches must not be in what the checks add up.
    if (options.Wrk && WrkRunner.Available())
    {
        Console.WriteLine();
        await using var again = await TargetProcess.StartAsync("listener", listenerDll, ["--store", store.Path]);
        await WrkRunner.RunAsync(options, phases.Select(p => p.Workload).ToList(), [bare.Processes[0], again]);
        await again.StopAsync();
    }
    else if (options.Wrk)
    {
        Console.WriteLine("wrk: not on PATH (apt-get install -y wrk); skipped.");
    }

    await bare.StopAsync();
}
finally
{
    if (options.KeepStore)
    {
        Console.WriteLine($"store kept: {store.Folder ?? store.Path}{(cluster is null ? string.Empty : " (but its cluster goes now)")}");
    }
    else
    {
        store.Delete();
    }
}

return failed ? 1 : 0;
