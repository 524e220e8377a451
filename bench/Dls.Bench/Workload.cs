namespace Dls.Bench;

/// <summary>
/// What one phase sends: a request template and the rule that fills its holes for the n-th request of the run.
/// Sequence numbers come from one counter per workload that runs on across warm-ups, rounds and targets, so batch
/// ids and new devices never repeat within a run of the benchmark.
/// </summary>
public sealed class Workload
{
    /// <summary>The handshake code, items and products the bench store is set up with (<see cref="BenchStore"/>).</summary>
    public const string Code = "216998-bench";

    // Devices are b0000000-0000-4000-8000-NNNNNNNNNNNN: known ones from 0, new ones from here on (wrk's from
    // 900000000000, see WrkRunner), never overlapping.
    private const string DevicePrefix = "b0000000-0000-4000-8000-";
    private const int DeviceDigits = 12;
    private const long FirstNewDevice = 1_000_000_000;

    private readonly RequestTemplate.Body _body;
    private readonly Func<long, long> _deviceOf;
    private readonly SliceClock _clock = new();
    private long _sequence;

    private Workload(string key, string title, string path, RequestTemplate.Body body, int? cycledDevices, int countsPerRequest)
    {
        Key = key;
        Title = title;
        Path = path;
        _body = body;
        CycledDevices = cycledDevices;
        _deviceOf = cycledDevices is { } devices ? n => n % devices : n => FirstNewDevice + n;
        CountsPerRequest = countsPerRequest;
    }

    /// <summary>The name on the command line (--phases).</summary>
    public string Key { get; }

    public string Title { get; }

    public string Path { get; }

    /// <summary>How many known devices the requests cycle through; null when every request is a new device.</summary>
    public int? CycledDevices { get; }

    /// <summary>The request body with its holes as <c>{Field}</c>.</summary>
    public string BodyPattern => _body.Pattern();

    /// <summary>The sum of the record counts of one request: what an accepted batch adds to the item's counter.</summary>
    public int CountsPerRequest { get; }

    public bool IsReport => CountsPerRequest > 0;

    public static string Device(long index) => DevicePrefix + index.ToString($"D{DeviceDigits}", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Batches of 10 records from the known devices, cycling; each record counts 1, 2 or 3 scans.</summary>
    public static Workload Reports(int devices, string item, string product)
    {
        var body = new RequestTemplate.Body()
            .Text($"{{\"clientUuid\":\"{DevicePrefix}").Hole(Field.Client, DeviceDigits)
            .Text($"\",\"handshakeCode\":\"{Code}\",\"batchId\":\"batch-").Hole(Field.Batch, 20)
            .Text("\",\"records\":[");
        var counts = 0;
        for (var i = 0; i < 10; i++)
        {
            var count = 1 + (i % 3);
            counts += count;
            body.Text(i == 0 ? "{\"slice\":\"" : ",{\"slice\":\"")
                .Hole(i % 2 == 0 ? Field.CurrentSlice : Field.PreviousSlice, 20)
                .Text($"\",\"itemId\":\"{item}\",\"product\":\"{product}\",\"count\":{count}}}");
        }

        body.Text("]}");
        return new Workload("reports", "reports (10 records)", "/api/v1/reports", body, devices, counts);
    }

    /// <summary>Authorizations of devices that already hold a seat and a grant, cycling.</summary>
    public static Workload KnownDevices(int devices, string product) =>
        new("known", "auth (known device)", "/api/v1/auth", AuthBody(product), devices, 0);

    /// <summary>Authorizations of a device never seen before, every time: each takes a seat.</summary>
    public static Workload NewDevices(string product) =>
        new("new", "auth (new device)", "/api/v1/auth", AuthBody(product), null, 0);

    /// <summary>The JSON body of an authorization (for the untimed setup, which sends it with HttpClient).</summary>
    public static string AuthJson(string device, string product, string requestId) =>
        $"{{\"handshakeCode\":\"{Code}\",\"clientUuid\":\"{device}\",\"product\":\"{product}\",\"version\":\"10.4\",\"deployment\":\"Desktop\",\"processName\":\"bench\",\"os\":\"Linux\",\"requestId\":\"{requestId}\"}}";

    public RequestTemplate TemplateFor(string host) => _body.ToRequest(Path, host);

    /// <summary>Fills the holes of <paramref name="request"/> for the next request of this workload.</summary>
    public void Next(RequestTemplate template, byte[] request)
    {
        var n = Interlocked.Increment(ref _sequence);
        template.Patch(request, Field.Client, _deviceOf(n));
        template.Patch(request, Field.Batch, n);
        template.Patch(request, Field.RequestId, n);
        if (IsReport)
        {
            var slices = _clock.Now();
            template.Patch(request, Field.CurrentSlice, slices.Current);
            template.Patch(request, Field.PreviousSlice, slices.Previous);
        }
    }

    private static RequestTemplate.Body AuthBody(string product) => new RequestTemplate.Body()
        .Text($"{{\"handshakeCode\":\"{Code}\",\"clientUuid\":\"{DevicePrefix}").Hole(Field.Client, DeviceDigits)
        .Text($"\",\"product\":\"{product}\",\"version\":\"10.4\",\"deployment\":\"Desktop\",\"processName\":\"bench\",\"os\":\"Linux\",\"requestId\":\"").Hole(Field.RequestId, 20)
        .Text("\"}");
}
