// An application that uses DLS.Client: authorizes a product, records usage and reports it (docs/client.md).
// Offline it works from the cached authorization and keeps the usage on disk; the next run that reaches a server sends it.
using Dls.Client;

const string Usage = """
    Usage: DlsClientSample --key DLS2... --product PRODUCT [--count N] [--version 10] [--deployment Desktop]
                           [--cache DIR] [--app NAME]

      --key         the license key (Get-DlsLicenseKey -Code 216998-vehicleApp)
      --product     the product to authorize and record, e.g. DBR
      --count       units of usage to record (default 1)
      --version     the product's version; its major part is matched against the items (default 10)
      --deployment  Browser, Mobile, Desktop, Server or Embedded (default Desktop)
      --cache       the client's cache folder (default: DLS/client in the user's local application data)
      --app         the application's name, which names its folder in the cache (default DlsClientSample)

    Exit codes: 0 done (also when the usage waits on disk for a server), 2 bad arguments,
    3 authorization refused or no server answered and nothing valid is cached.
    """;

string? key = null, product = null, cache = null;
string version = "10", app = "DlsClientSample";
long count = 1;
var deployment = DlsDeployment.Desktop;
for (var i = 0; i < args.Length; i++)
{
    if (args[i] is "--help" or "-h" or "-?")
    {
        Console.WriteLine(Usage);
        return 0;
    }

    if (i + 1 >= args.Length)
    {
        return BadArguments($"{args[i]} needs a value.");
    }

    var value = args[++i];
    switch (args[i - 1])
    {
        case "--key": key = value; break;
        case "--product": product = value; break;
        case "--version": version = value; break;
        case "--cache": cache = value; break;
        case "--app": app = value; break;
        case "--count" when long.TryParse(value, out count) && count is >= 0 and <= 1_000_000_000: break;
        case "--count": return BadArguments($"--count '{value}' is not a whole number from 0 to 1000000000.");
        case "--deployment" when Enum.TryParse(value, ignoreCase: true, out deployment) && Enum.IsDefined(deployment): break;
        case "--deployment": return BadArguments($"--deployment '{value}' is not one of {string.Join(", ", Enum.GetNames<DlsDeployment>())}.");
        default: return BadArguments($"Unknown argument '{args[i - 1]}'.");
    }
}

if (key is null || product is null)
{
    return BadArguments("--key and --product are required.");
}

DlsClient client;
try
{
    // ReportInBackground off: this program sends its usage itself (FlushAsync, then DisposeAsync) before it exits.
    // A long-running application leaves it on, and the client reports every reportIntervalSeconds by itself.
    client = DlsClient.Create(key, new DlsApplication(app), new DlsClientOptions { CacheFolder = cache, ReportInBackground = false });
}
catch (FormatException badKey)
{
    return BadArguments(badKey.Message);
}

await using (client)
{
    // Events say what the client did: failover, cache use, batches stored, sent or refused. Handlers must not block.
    client.Event += (_, e) => Console.WriteLine($"[{e.Kind}] {e.Message}");
    Console.WriteLine($"Device {client.DeviceUuid}; cache {client.CacheFolder}; {client.PendingBatchCount} batch(es) pending from earlier runs.");

    DlsAuthorization authorization;
    try
    {
        authorization = await client.AuthorizeAsync(product, version, deployment);
    }
    catch (DlsClientException refused)
    {
        // ErrorCode is the server's errorCode (101, 120, ...), or 0 when no server answered and nothing valid is cached.
        Console.Error.WriteLine($"Not authorized (errorCode {refused.ErrorCode}): {refused.Message}");
        return 3;
    }

    Console.WriteLine($"Authorized {authorization.Product}: item {authorization.ItemId}, mode {authorization.Mode}, " +
        $"cacheUntil {authorization.CacheUntil:u}, fromCache {authorization.FromCache}, server {authorization.Server?.ToString() ?? "none (the cache)"}");
    if (authorization.Warning is not null)
    {
        Console.WriteLine($"Warning from the server: {authorization.Warning}");
    }

    // The application's work: each scan, page or run it does is recorded; the client sums them per 3-minute slice.
    client.Record(product, count);

    var result = await client.FlushAsync();
    Console.WriteLine($"Flush: {result}.");
    if (result.BatchesPending > 0)
    {
        Console.WriteLine($"The usage waits in {Path.Combine(client.CacheFolder, "pending")}; the next run that reaches a server sends it.");
    }

    // Disposing sends what is left (within DisposeTimeout); what no server takes stays on disk.
}

return 0;

static int BadArguments(string problem)
{
    Console.Error.WriteLine(problem);
    Console.Error.WriteLine();
    Console.Error.WriteLine(Usage);
    return 2;
}
