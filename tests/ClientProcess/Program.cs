using Dls.Client;

// ClientProcess --key DLS2... --cache DIR --product DBR --count N --times T [--exit-without-dispose | --hang]
// Authorizes the product, then T times records N units and flushes; with --exit-without-dispose it records T × N
// units and returns without flushing or disposing, leaving them to the client's process-exit hook; with --hang it
// records them, says "recorded" and waits to be killed.
var options = new Dictionary<string, string>(StringComparer.Ordinal);
var exitWithoutDispose = false;
var hang = false;
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--exit-without-dispose")
    {
        exitWithoutDispose = true;
    }
    else if (args[i] == "--hang")
    {
        hang = true;
    }
    else if (i + 1 < args.Length)
    {
        options[args[i]] = args[++i];
    }
}

var client = DlsClient.Create(
    options["--key"],
    new DlsApplication("scanner") { ProcessName = "scanner" },
    new DlsClientOptions { CacheFolder = options["--cache"], ReportInBackground = false });
client.Event += (_, e) => Console.WriteLine($"[{e.Kind}] {e.Message}");
var product = options["--product"];
var count = long.Parse(options["--count"], System.Globalization.CultureInfo.InvariantCulture);
var times = int.Parse(options["--times"], System.Globalization.CultureInfo.InvariantCulture);
await client.AuthorizeAsync(product, "10", DlsDeployment.Desktop);
for (var i = 0; i < times; i++)
{
    client.Record(product, count);
    if (!exitWithoutDispose && !hang)
    {
        await client.FlushAsync();
    }
}

if (hang)
{
    Console.WriteLine("recorded");
    await Task.Delay(Timeout.Infinite);
}

if (!exitWithoutDispose)
{
    await client.DisposeAsync();
}

Console.WriteLine($"device {client.DeviceUuid}");
return 0;
