using Dls.Core.Storage;
using System.Data.Common;
using System.Globalization;
using System.Text.RegularExpressions;
using Dls.Core.Accounting;
using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Tests;

namespace Dls.Core.Tests;

/// <summary>
/// Registrable domains from the Public Suffix List (SPEC §7): the publicsuffix.org test cases over the list carried in
/// core, the cases of issue 10, and a per-domain item counting tenants of a private-section suffix apart.
/// </summary>
public sealed partial class PublicSuffixListTests
{
    /// <summary>Every <c>checkPublicSuffix(input, expected)</c> line of the publicsuffix project's tests/test_psl.txt.</summary>
    public static TheoryData<string?, string?> ListTestCases()
    {
        var data = new TheoryData<string?, string?>();
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Data", "test_psl.txt")))
        {
            var match = CheckLine().Match(line);
            if (match.Success)
            {
                data.Add(Argument(match.Groups["input"].Value), Argument(match.Groups["expected"].Value));
            }
        }

        return data;
    }

    [Fact]
    public void The_list_test_file_is_read_whole()
    {
        // Every active case (78 in the file carried; the commented-out ".local" ones excluded) becomes a test.
        var lines = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Data", "test_psl.txt")).Count(l => l.StartsWith("checkPublicSuffix(", StringComparison.Ordinal));
        Assert.True(lines >= 78, $"{lines} cases");
        Assert.Equal(lines, ListTestCases().Count);
    }

    [Theory]
    [MemberData(nameof(ListTestCases))]
    public void The_publicsuffix_org_test_cases_pass(string? input, string? expected)
    {
        var name = RegistrableDomain.Normalize(input);
        var actual = name is null ? null : PublicSuffixList.Default.RegistrableDomainOf(name);
        Assert.Equal(expected is null ? null : new IdnMapping().GetAscii(expected), actual);
    }

    [Theory]
    [InlineData("alice.s3.amazonaws.com", "alice.s3.amazonaws.com")]
    [InlineData("bob.s3.amazonaws.com", "bob.s3.amazonaws.com")]
    [InlineData("photos.alice.s3.amazonaws.com", "alice.s3.amazonaws.com")]
    [InlineData("a.pref.tokyo.jp", "pref.tokyo.jp")]
    [InlineData("www.city.kawasaki.jp", "city.kawasaki.jp")]          // exception rule !city.kawasaki.jp under *.kawasaki.jp
    [InlineData("www.shop.kawasaki.jp", "www.shop.kawasaki.jp")]      // wildcard rule *.kawasaki.jp
    [InlineData("a.b.compute.amazonaws.com", "a.b.compute.amazonaws.com")] // private wildcard *.compute.amazonaws.com
    [InlineData("shop.example.co.uk", "example.co.uk")]
    [InlineData("www.example.com.au", "example.com.au")]
    [InlineData("user.github.io", "user.github.io")]
    [InlineData("d111.cloudfront.net", "d111.cloudfront.net")]
    [InlineData("https://A.Example.com:8443/path?q", "example.com")]
    [InlineData("www.EXAMPLE.com.", "example.com")]                    // trailing dot
    [InlineData("bücher.example.de", "example.de")]
    [InlineData("www.bücher.de", "xn--bcher-kva.de")]                  // IDN: compared and counted in punycode
    [InlineData("www.食狮.公司.cn", "xn--85x722f.xn--55qx5d.cn")]
    [InlineData("localhost", "localhost")]                             // single label: itself
    [InlineData("github.io", "github.io")]                             // a public suffix itself: itself
    [InlineData("10.0.0.7", "10.0.0.7")]
    [InlineData("[::1]:8443", "[::1]")]
    [InlineData("a..example.com", null)]                               // an empty label is no domain
    public void Registrable_domains_for_billing(string host, string? expected) =>
        Assert.Equal(expected, RegistrableDomain.Of(host));

    /// <summary>Hosts that name nothing (the wire lets a client send any text of up to 256 characters) count as no domain.</summary>
    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("...")]
    [InlineData("http://")]
    [InlineData(":8443")]
    [InlineData("https://:443/path")]
    public void Hosts_that_name_nothing_are_no_domain(string host) => Assert.Null(RegistrableDomain.Of(host));

    [Fact]
    public void A_host_as_long_as_the_wire_allows_folds_to_its_registrable_domain()
    {
        var host = string.Join('.', Enumerable.Repeat("a", 126)) + ".example.com";   // 263 characters, 128 labels

        Assert.Equal("example.com", RegistrableDomain.Of(host));
    }

    /// <summary>Text a hostile client may send as its domain: never an exception, and case never makes a second domain.</summary>
    [Theory]
    [InlineData("xn--.com")]
    [InlineData("xn--zzzzzzzzzz.example.com")]
    [InlineData("a\u0001b.example.com")]
    [InlineData("\u200bexample.com")]
    [InlineData("user@evil.com@example.com")]
    [InlineData("[::1")]
    [InlineData("exa mple.com")]
    [InlineData("%65xample.com")]
    public void Hostile_hosts_fold_without_error_and_without_case_mattering(string host)
    {
        var domain = RegistrableDomain.Of(host);

        Assert.Equal(domain, RegistrableDomain.Of(host.ToUpperInvariant()));
    }

    [Fact]
    public void The_private_section_can_be_left_out()
    {
        var list = PublicSuffixList.Default;
        Assert.Equal("s3.amazonaws.com", list.PublicSuffixOf("alice.s3.amazonaws.com"));
        Assert.Equal("amazonaws.com", list.RegistrableDomainOf("alice.s3.amazonaws.com", includePrivate: false));
        Assert.Equal("com", list.PublicSuffixOf("alice.s3.amazonaws.com", includePrivate: false));
        Assert.Equal("github.io", list.RegistrableDomainOf("user.github.io", includePrivate: false));
    }

    [Fact]
    public void A_list_is_parsed_with_its_rule_kinds_and_sections()
    {
        var list = PublicSuffixList.Parse(new StringReader("""
            // ===BEGIN ICANN DOMAINS===
            example
            *.wild.example
            !keep.wild.example
            公司.example
            // ===END ICANN DOMAINS===
            // ===BEGIN PRIVATE DOMAINS===
            tenant.example  trailing text is ignored
            // ===END PRIVATE DOMAINS===
            """));
        Assert.Equal(5, list.RuleCount);
        Assert.Equal("a.example", list.RegistrableDomainOf("x.a.example"));
        Assert.Equal("x.y.wild.example", list.RegistrableDomainOf("w.x.y.wild.example"));
        Assert.Null(list.RegistrableDomainOf("y.wild.example"));
        Assert.Equal("keep.wild.example", list.RegistrableDomainOf("a.keep.wild.example"));
        Assert.Equal("a.xn--55qx5d.example", list.RegistrableDomainOf("b.a.xn--55qx5d.example"));
        Assert.Equal("a.tenant.example", list.RegistrableDomainOf("b.a.tenant.example"));
        Assert.Equal("tenant.example", list.RegistrableDomainOf("b.a.tenant.example", includePrivate: false));
        Assert.Equal("other", list.PublicSuffixOf("a.b.other"));   // the implicit "*" rule
    }

    [Fact]
    public void The_carried_list_keeps_its_license_header_and_both_sections()
    {
        using var stream = typeof(PublicSuffixList).Assembly.GetManifestResourceStream("Dls.Core.public_suffix_list.dat")!;
        var text = new StreamReader(stream).ReadToEnd();
        Assert.StartsWith("// This Source Code Form is subject to the terms of the Mozilla Public\n// License, v. 2.0.", text, StringComparison.Ordinal);
        Assert.Contains("// ===BEGIN ICANN DOMAINS===", text, StringComparison.Ordinal);
        Assert.Contains("// ===BEGIN PRIVATE DOMAINS===", text, StringComparison.Ordinal);

        // The note tools/Update-PublicSuffixList.ps1 writes describes this very file.
        using var noteStream = typeof(PublicSuffixList).Assembly.GetManifestResourceStream("Dls.Core.public_suffix_list.version")!;
        var note = new StreamReader(noteStream).ReadToEnd().Split('\n').Where(l => l.Contains(": ", StringComparison.Ordinal))
            .ToDictionary(l => l[..l.IndexOf(": ", StringComparison.Ordinal)], l => l[(l.IndexOf(": ", StringComparison.Ordinal) + 2)..].Trim());
        stream.Position = 0;
        Assert.Equal(note["sha256"], Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream)));
        Assert.Equal(int.Parse(note["rules"], CultureInfo.InvariantCulture), PublicSuffixList.Default.RuleCount);
        Assert.True(PublicSuffixList.Default.RuleCount > 9000, $"{PublicSuffixList.Default.RuleCount} rules");
    }

    [Fact]
    public void A_per_domain_item_gives_each_tenant_of_a_private_suffix_its_own_seat()
    {
        using var f = new AuthorityFixture();
        f.Item("D", LicenseMode.PerDomain, 3, deployment: Deployment.Browser);
        f.Code("216998-app", "D");

        Assert.Null(f.Error("c1", "https://alice.s3.amazonaws.com/app/index.html", Deployment.Browser));
        Assert.Null(f.Error("c2", "bob.s3.amazonaws.com", Deployment.Browser));
        Assert.Equal(2, f.Measure("D").Used);
        Assert.Null(f.Error("c3", "photos.alice.s3.amazonaws.com", Deployment.Browser));   // alice again
        Assert.Null(f.Error("c4", "a.pref.tokyo.jp", Deployment.Browser));
        Assert.Null(f.Error("c5", "b.pref.tokyo.jp", Deployment.Browser));                  // pref.tokyo.jp again
        Assert.Equal(3, f.Measure("D").Used);
        Assert.Equal(ErrorCodes.NotAllowed, f.Error("c6", "c.other.tokyo.jp", Deployment.Browser));   // a fourth domain

        var domains = new DeviceService(f.Store, f.Clock).List(null, "D", null, activeOnly: true).Select(d => d.Domain).Order(StringComparer.Ordinal);
        Assert.Equal(["alice.s3.amazonaws.com", "bob.s3.amazonaws.com", "pref.tokyo.jp"], domains);
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void Migration_81_folds_the_domain_seats_of_an_existing_store_again()
    {
        using var f = new AuthorityFixture();
        f.Item("D", LicenseMode.PerDomain, 10, deployment: Deployment.Browser);
        string At(int month, int day) => Timestamps.Format(new DateTimeOffset(2026, month, day, 0, 0, 0, TimeSpan.Zero));
        f.Store.Write((connection, transaction) =>
        {
            // Seats as the written rule of earlier versions keyed them.
            foreach (var (key, client, first, last, until) in new[]
            {
                ("acme.force.com", "c1", At(10, 1), At(10, 20), At(12, 20)),
                ("globex.force.com", "c2", At(9, 1), At(10, 25), At(12, 25)),
                ("example.com", "c3", At(9, 5), At(10, 5), At(12, 5)),
                ("s3.amazonaws.com", "c4", At(9, 6), At(10, 6), At(12, 6)),
                ("tokyo.jp", "c5", At(9, 7), At(10, 7), At(12, 7)),
            })
            {
                using var insert = connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO seat (item_id, seat_key, kind, client_uuid, first_seen, last_seen, active_until) VALUES ('D', @key, 'domain', @client, @first, @last, @until);";
                insert.Parameters.AddWithValue("@key", key);
                insert.Parameters.AddWithValue("@client", client);
                insert.Parameters.AddWithValue("@first", first);
                insert.Parameters.AddWithValue("@last", last);
                insert.Parameters.AddWithValue("@until", until);
                insert.ExecuteNonQuery();
            }
        });

        f.Store.Write((connection, transaction) => new Storage.Migrations.M0081_RefoldDomainSeats().Apply((Microsoft.Data.Sqlite.SqliteConnection)connection, (Microsoft.Data.Sqlite.SqliteTransaction)transaction));

        var seats = f.Store.Read(connection => StoreDigest.Rows(connection, "seat"));
        var devices = new DeviceService(f.Store, f.Clock).List(null, "D", null, false).OrderBy(d => d.Domain, StringComparer.Ordinal).ToList();
        Assert.Equal(
            [("example.com", "c3", At(9, 5), At(10, 5), At(12, 5)), ("force.com", "c2", At(9, 1), At(10, 25), At(12, 25))],
            devices.Select(d => (d.Domain!, d.ClientUuid, Timestamps.Format(d.FirstSeen), Timestamps.Format(d.LastSeen), Timestamps.Format(d.ActiveUntil!.Value))));
        var audit = f.Store.Read(connection => StoreDigest.Rows(connection, "audit_log"));
        Assert.Contains("D/force.com", audit, StringComparison.Ordinal);
        Assert.Contains("D/s3.amazonaws.com", audit, StringComparison.Ordinal);
        Assert.Contains("D/tokyo.jp", audit, StringComparison.Ordinal);
        Assert.DoesNotContain("D/example.com", audit, StringComparison.Ordinal);

        // Run again, nothing changes.
        f.Store.Write((connection, transaction) => new Storage.Migrations.M0081_RefoldDomainSeats().Apply((Microsoft.Data.Sqlite.SqliteConnection)connection, (Microsoft.Data.Sqlite.SqliteTransaction)transaction));
        Assert.Equal(seats, f.Store.Read(connection => StoreDigest.Rows(connection, "seat")));
    }

    private static string? Argument(string text) => text == "null" ? null : text.Trim('\'');

    [GeneratedRegex(@"^checkPublicSuffix\((?<input>null|'[^']*'),\s*(?<expected>null|'[^']*')\);")]
    private static partial Regex CheckLine();
}
