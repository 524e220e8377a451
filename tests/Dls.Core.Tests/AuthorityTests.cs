using System.Data.Common;
using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Storage;
using Dls.Core.Usage;
using Dls.Tests;

namespace Dls.Core.Tests;

/// <summary>Code resolution, validation values, the clone rule, reports and the writer (SPEC §4, §7).</summary>
public sealed class AuthorityTests : IDisposable
{
    private readonly AuthorityFixture _f = new();

    public AuthorityTests()
    {
        _f.Item("I1", LicenseMode.PerDeviceYearly, 100);
        _f.Item("W", LicenseMode.PerDeviceYearly, 100, deployment: Deployment.Browser);
        _f.Item("M", LicenseMode.PerDeviceYearly, 100, deployment: Deployment.Mobile);
    }

    public void Dispose() => _f.Dispose();

    [Fact]
    public void Codes_resolve_by_code_or_organization_default_with_101_121_122_123()
    {
        TestCatalog.AddCode(_f.Store, "216998-app", ["I1"], isDefault: true);
        TestCatalog.AddCode(_f.Store, "216998-off", ["I1"], enabled: false);
        TestCatalog.AddCode(_f.Store, "777-other", ["I1"]);

        Assert.Equal("I1", _f.Auth(AuthorityFixture.Request("a", code: null, organization: "216998")).Grant!.ItemId);
        Assert.Equal(ErrorCodes.CodeNotFound, _f.Auth(AuthorityFixture.Request("a", code: "216998-nope")).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.CodeNotFound, _f.Auth(AuthorityFixture.Request("a", code: "216998-off")).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.NoDefaultCode, _f.Auth(AuthorityFixture.Request("a", code: null, organization: "777")).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.CodeNotInOrganization, _f.Auth(AuthorityFixture.Request("a", code: "777-other", organization: "216998")).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.NoCodeOrOrganization, _f.Auth(AuthorityFixture.Request("a", code: null)).Error!.ErrorCode);
    }

    [Fact]
    public void A_disabled_default_code_leaves_the_organization_without_one()
    {
        TestCatalog.AddCode(_f.Store, "216998-app", ["I1"], isDefault: true, enabled: false);
        Assert.Equal(ErrorCodes.NoDefaultCode, _f.Auth(AuthorityFixture.Request("a", code: null, organization: "216998")).Error!.ErrorCode);
    }

    [Fact]
    public void A_session_password_is_required_and_checked_102()
    {
        TestCatalog.AddCode(_f.Store, "216998-app", ["I1"], sessionPassword: "s3cret");

        Assert.Equal(ErrorCodes.WrongSessionPassword, _f.Auth(AuthorityFixture.Request("a")).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.WrongSessionPassword, _f.Auth(AuthorityFixture.Request("a", password: "wrong")).Error!.ErrorCode);
        Assert.NotNull(_f.Auth(AuthorityFixture.Request("a", password: "s3cret")).Grant);
    }

    [Fact]
    public void Validation_values_apply_to_their_deployment_103()
    {
        TestCatalog.AddCode(_f.Store, "216998-app", ["I1", "W", "M"], domains: ["example.com"], appIds: ["com.acme.scan"], processNames: ["scanner.exe"]);

        Assert.NotNull(_f.Auth(AuthorityFixture.Request("a", deployment: Deployment.Browser, domain: "shop.example.com")).Grant);
        Assert.Equal(ErrorCodes.NotAllowed, _f.Auth(AuthorityFixture.Request("b", deployment: Deployment.Browser, domain: "example.org")).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.NotAllowed, _f.Auth(AuthorityFixture.Request("c", deployment: Deployment.Browser, domain: "notexample.com")).Error!.ErrorCode);
        Assert.NotNull(_f.Auth(AuthorityFixture.Request("d", deployment: Deployment.Mobile, appId: "com.acme.scan")).Grant);
        Assert.Equal(ErrorCodes.NotAllowed, _f.Auth(AuthorityFixture.Request("e", deployment: Deployment.Mobile, appId: "com.evil")).Error!.ErrorCode);
        Assert.NotNull(_f.Auth(AuthorityFixture.Request("f", processName: "Scanner.EXE")).Grant);
        Assert.Equal(ErrorCodes.NotAllowed, _f.Auth(AuthorityFixture.Request("g", processName: "other.exe")).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.NotAllowed, _f.Auth(AuthorityFixture.Request("h", processName: null)).Error!.ErrorCode);
    }

    [Fact]
    public void A_client_uuid_with_a_second_fingerprint_in_one_slice_is_refused_151_but_reconnects_are_not()
    {
        TestCatalog.AddCode(_f.Store, "216998-app", ["I1"]);

        Assert.NotNull(_f.Auth(AuthorityFixture.Request("a", os: "Linux")).Grant);
        Assert.NotNull(_f.Auth(AuthorityFixture.Request("a", os: "Linux")).Grant); // a reconnect
        Assert.Equal(ErrorCodes.CloneSuspected, _f.Auth(AuthorityFixture.Request("a", os: "Windows")).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.CloneSuspected, _f.Auth(AuthorityFixture.Request("a", processName: "copy")).Error!.ErrorCode);
        Assert.NotNull(_f.Auth(AuthorityFixture.Request("a", os: "Linux")).Grant); // the original keeps working
        _f.Clock.Advance(TimeSlice.Length);
        Assert.NotNull(_f.Auth(AuthorityFixture.Request("a", os: "Windows")).Grant); // next slice: a moved, no clash
    }

    [Fact]
    public void Every_authorization_is_recorded_with_its_code_item_and_error()
    {
        TestCatalog.AddCode(_f.Store, "216998-app", ["I1"]);
        _f.Auth("a");
        _f.Auth(AuthorityFixture.Request("b", code: "216998-nope"));
        _f.Auth(AuthorityFixture.Request("c", product: "DWT"));

        var events = _f.Store.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT handshake_code, item_id, client_uuid, error_code FROM auth_event ORDER BY id;";
            using var reader = command.ExecuteReader();
            var list = new List<string>();
            while (reader.Read())
            {
                list.Add($"{reader.GetString(0)}|{reader.GetString(1)}|{reader.GetString(2)}|{reader.GetInt64(3)}");
            }

            return list;
        });

        // Refused before a code is known (101): counted, but not kept per device (anyone can send those).
        Assert.Equal(["216998-app|I1|a|0", "|||101", "216998-app||c|104"], events);
    }

    [Fact]
    public void A_re_sent_batch_counts_nothing_again_and_a_new_batch_for_the_same_slice_adds()
    {
        _f.Item("S", LicenseMode.PerScan, 1000);
        TestCatalog.AddCode(_f.Store, "216998-app", ["S"]);
        Assert.Null(_f.Auth("a").Error);
        Assert.Null(_f.Auth("z").Error);

        var first = _f.Report("a", "S", 10, batchId: "b1").Answer!;
        var again = _f.Report("a", "S", 10, batchId: "b1").Answer!;
        var other = _f.Report("a", "S", 5, batchId: "b2").Answer!;
        var otherClient = _f.Report("z", "S", 1, batchId: "b1").Answer!;

        Assert.Equal((1, 0), (first.Accepted, first.Duplicates));
        Assert.Equal((0, 1), (again.Accepted, again.Duplicates));
        Assert.Equal((1, 0), (other.Accepted, other.Duplicates));
        Assert.Equal((1, 0), (otherClient.Accepted, otherClient.Duplicates));
        Assert.Equal(16, _f.Measure("S").Used);
    }

    [Fact]
    public void Past_slices_up_to_30_days_are_accepted_and_future_or_older_ones_refuse_the_batch()
    {
        _f.Item("S", LicenseMode.PerScan, 1000);
        TestCatalog.AddCode(_f.Store, "216998-app", ["S"]);
        Assert.Null(_f.Auth("a").Error);

        Assert.Equal(1, _f.Report("a", "S", 1, slice: _f.Now - TimeSpan.FromDays(29)).Answer!.Accepted);
        Assert.Equal(ErrorCodes.Malformed, _f.Report("a", "S", 1, slice: _f.Now - TimeSpan.FromDays(31)).Error!.ErrorCode);
        Assert.Equal(ErrorCodes.Malformed, _f.Report("a", "S", 1, slice: _f.Now + TimeSlice.Length).Error!.ErrorCode);
        Assert.Equal([new RefusedRecord(0, ErrorCodes.NoMatchingItem)], _f.Report("a", "nope", 1).Answer!.RefusedRecords);
        Assert.Equal(1, _f.Measure("S").Used);
    }

    [Fact]
    public async Task The_writer_commits_a_batch_and_a_failing_request_fails_alone()
    {
        await using var writer = new GroupCommitWriter(_f.Store);
        var tasks = Enumerable.Range(0, 50).Select(i => writer.SubmitAsync(work =>
        {
            var (connection, transaction) = Units.Sqlite(work);
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO audit_log (time, \"user\", action, target) VALUES ('t', 'u', 'test', @i);";
            command.Parameters.AddWithValue("@i", i.ToString());
            command.ExecuteNonQuery();
            if (i == 7)
            {
                throw new InvalidOperationException("request 7 fails");
            }

            return i;
        })).ToList();

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => tasks[7]);
        Assert.Equal("request 7 fails", failure.Message);
        var done = await Task.WhenAll(tasks.Where((_, i) => i != 7));
        Assert.Equal(49, done.Length);
        var targets = _f.Store.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*), sum(CASE WHEN target = '7' THEN 1 ELSE 0 END) FROM audit_log WHERE action = 'test';";
            using var reader = command.ExecuteReader();
            reader.Read();
            return (reader.GetInt64(0), reader.GetInt64(1));
        });
        Assert.Equal((49L, 0L), targets);
    }

    [Fact]
    public async Task Racing_devices_through_the_writer_never_exceed_quantity_plus_tolerance()
    {
        _f.Item("R", LicenseMode.PerDeviceYearly, 20, product: "DLR");
        TestCatalog.AddCode(_f.Store, "216998-app", ["R"]);
        await using var writer = new GroupCommitWriter(_f.Store);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => Task.Run(() =>
            writer.SubmitAsync(work => _f.Authority.Authorize(work, AuthorityFixture.Request($"racer-{i}", product: "DLR"), _f.Now)))));

        Assert.Equal(22, outcomes.Count(o => o.Grant is not null));
        Assert.All(outcomes.Where(o => o.Grant is null), o => Assert.Equal(ErrorCodes.QuotaUsedUp, o.Error!.ErrorCode));
    }
}
