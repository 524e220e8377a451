using Dls.Core.Accounting;
using Dls.Core.Crypto;
using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Storage;
using Dls.Tests;

namespace Dls.Core.Tests;

/// <summary>
/// The writer's running count of active seats (one connection, many requests) must decide exactly as a fresh count
/// would: when seats lapse with time, when another process frees one, and when the writer rolls a request back.
/// </summary>
public sealed class ActiveSeatCounterTests : IDisposable
{
    private readonly AuthorityFixture _f = new();
    private readonly LicenseAuthority _authority = new(new SessionPasswordCache());

    public ActiveSeatCounterTests()
    {
        // Two devices a day and no tolerance (10 % of 2 rounds to 0).
        _f.Item("D", LicenseMode.PerDeviceDaily, 2, product: "DLR");
        TestCatalog.AddCode(_f.Store, "216998-app", ["D"]);
    }

    public void Dispose() => _f.Dispose();

    [Fact]
    public async Task Seats_that_lapse_with_time_are_free_again_for_the_same_writer()
    {
        await using var writer = NewWriter();
        Assert.Null(await Error(writer, "a"));
        Assert.Null(await Error(writer, "b"));
        Assert.Equal(ErrorCodes.QuotaUsedUp, await Error(writer, "c"));

        _f.Clock.Advance(TimeSpan.FromHours(25));
        Assert.Null(await Error(writer, "c"));
        Assert.Null(await Error(writer, "d"));
        Assert.Equal(ErrorCodes.QuotaUsedUp, await Error(writer, "e"));
    }

    [Fact]
    public async Task A_seat_freed_by_another_process_is_free_for_the_next_request()
    {
        await using var writer = NewWriter();
        Assert.Null(await Error(writer, "a"));
        Assert.Null(await Error(writer, "b"));
        Assert.Equal(ErrorCodes.QuotaUsedUp, await Error(writer, "c"));

        new DeviceService(_f.Store, _f.Clock).Remove("a", "D");
        Assert.Null(await Error(writer, "c"));
        Assert.Equal(ErrorCodes.QuotaUsedUp, await Error(writer, "a"));
    }

    [Fact]
    public async Task A_seat_taken_by_a_request_the_writer_rolled_back_was_never_taken()
    {
        await using var writer = NewWriter();
        await Assert.ThrowsAsync<InvalidOperationException>(() => writer.SubmitAsync<AuthOutcome>(work =>
        {
            Assert.NotNull(_authority.Authorize(work, AuthorityFixture.Request("a", product: "DLR"), _f.Now).Grant);
            throw new InvalidOperationException("the request fails after its decision");
        }));

        Assert.Null(await Error(writer, "b"));
        Assert.Null(await Error(writer, "c"));
        Assert.Equal(ErrorCodes.QuotaUsedUp, await Error(writer, "d"));
    }

    private GroupCommitWriter NewWriter() => new(_f.Store, afterRollback: _authority.RolledBack, afterCommit: _authority.Committed);

    private async Task<int?> Error(GroupCommitWriter writer, string client) =>
        (await writer.SubmitAsync(work => _authority.Authorize(work, AuthorityFixture.Request(client, product: "DLR"), _f.Now))).Error?.ErrorCode;
}
