using System.Diagnostics;
using Dls.Core.Accounting;

// How fast registrable domains are found (SPEC §7): the embedded list's first parse, and lookups a second over a mix
// of host names (plain, multi-level public suffixes, wildcard and exception rules, private section, IDN, unlisted).
// Usage: dotnet run --project bench/PslBench -c Release -- [seconds]
var seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 3;

var clock = Stopwatch.StartNew();
var rules = PublicSuffixList.Default.RuleCount;
var load = clock.Elapsed;
Console.WriteLine($"load (first use, embedded list): {load.TotalMilliseconds:N1} ms, {rules:N0} rules, {GC.GetTotalMemory(true) / 1024.0 / 1024.0:N1} MiB managed heap after");

string[] hosts =
[
    "www.example.com", "shop.example.co.uk", "alice.s3.amazonaws.com", "a.b.c.compute.amazonaws.com", "a.pref.tokyo.jp",
    "www.city.kawasaki.jp", "x.y.shop.kawasaki.jp", "user.github.io", "xn--85x722f.xn--55qx5d.cn", "deep.sub.domain.example.example",
    "app.herokuapp.com", "a.b.c.d.e.f.example.org",
];
foreach (var host in hosts)
{
    Console.WriteLine($"  {host,-36} -> {PublicSuffixList.Default.RegistrableDomainOf(host)}");
}

Measure("PublicSuffixList.RegistrableDomainOf (normalized host)", host => PublicSuffixList.Default.RegistrableDomainOf(host));
Measure("RegistrableDomain.Of (raw input: normalize + IDN + lookup)", host => RegistrableDomain.Of("https://" + host + ":443/"));

void Measure(string name, Func<string, string?> lookup)
{
    for (var i = 0; i < 100_000; i++)
    {
        lookup(hosts[i % hosts.Length]);
    }

    long n = 0;
    var watch = Stopwatch.StartNew();
    while (watch.Elapsed.TotalSeconds < seconds)
    {
        for (var i = 0; i < 10_000; i++)
        {
            lookup(hosts[i % hosts.Length]);
        }

        n += 10_000;
    }

    Console.WriteLine($"{name}: {n / watch.Elapsed.TotalSeconds:N0} lookups/s ({watch.Elapsed.TotalNanoseconds / n:N0} ns each)");
}
