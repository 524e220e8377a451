using Dls.Core.Listeners;
using Dls.Core.Server;

namespace Dls.Core.Tests;

/// <summary>
/// Main and standby in the store (SPEC §7): heartbeats, who counts as alive, who serves, and the tasks that run once
/// across the listeners of a store.
/// </summary>
public sealed class ListenerHeartbeatTests : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void A_standby_serves_only_while_no_main_has_beaten_within_five_seconds()
    {
        var store = _temp.Initialized();
        var registry = new ListenerRegistry(store, _temp.Clock);
        registry.Register("http://127.0.0.1:48080/", 101, null, "1.0", ServerRole.Main, serving: true);
        registry.Register("http://127.0.0.1:48081/", 102, null, "1.0", ServerRole.Standby);

        var all = registry.Heartbeat(["http://127.0.0.1:48081/"], 102, null, "1.0", ServerRole.Standby, serving: false);
        var others = ServingRule.Others(all, 102).ToList();
        Assert.Equal(["http://127.0.0.1:48080/"], others.Select(o => o.Url));
        Assert.False(ServingRule.Serves(ServerRole.Standby, others, _temp.Clock.GetUtcNow()));
        Assert.False(ServingRule.Alone(others, _temp.Clock.GetUtcNow()));
        Assert.True(ServingRule.Serves(ServerRole.Main, others, _temp.Clock.GetUtcNow()));

        // Five seconds without a beat is still alive; a moment more is dead.
        _temp.Clock.Advance(ListenerLiveness.AliveWithin);
        Assert.False(ServingRule.Serves(ServerRole.Standby, others, _temp.Clock.GetUtcNow()));
        _temp.Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(ServingRule.Serves(ServerRole.Standby, others, _temp.Clock.GetUtcNow()));
        Assert.True(ServingRule.Alone(others, _temp.Clock.GetUtcNow()));

        // The main beats again: the standby stands by.
        registry.Heartbeat(["http://127.0.0.1:48080/"], 101, null, "1.0", ServerRole.Main, serving: true);
        others = ServingRule.Others(registry.List(), 102).ToList();
        Assert.False(ServingRule.Serves(ServerRole.Standby, others, _temp.Clock.GetUtcNow()));
    }

    [Fact]
    public void Another_standby_does_not_keep_a_standby_from_serving_but_it_is_not_alone()
    {
        var store = _temp.Initialized();
        var registry = new ListenerRegistry(store, _temp.Clock);
        registry.Register("http://127.0.0.1:48081/", 102, null, "1.0", ServerRole.Standby);
        registry.Register("http://127.0.0.1:48082/", 103, null, "1.0", ServerRole.Standby);

        var others = ServingRule.Others(registry.List(), 102).ToList();

        Assert.True(ServingRule.Serves(ServerRole.Standby, others, _temp.Clock.GetUtcNow()));
        Assert.False(ServingRule.Alone(others, _temp.Clock.GetUtcNow()));
    }

    [Fact]
    public void The_store_records_role_host_heartbeat_and_serving_and_a_removed_record_comes_back_at_the_next_beat()
    {
        var store = _temp.Initialized();
        var registry = new ListenerRegistry(store, _temp.Clock);
        var url = "http://127.0.0.1:48081/";
        registry.Register(url, 102, null, "1.0", ServerRole.Standby);
        _temp.Clock.Advance(TimeSpan.FromSeconds(3));
        registry.Heartbeat([url], 102, null, "1.0", ServerRole.Standby, serving: true);

        var record = Assert.Single(registry.List());
        Assert.Equal((ServerRole.Standby, Environment.MachineName, _temp.Clock.GetUtcNow().UtcDateTime, true), (record.Role, record.Host, record.HeartbeatAt, record.Serving));
        Assert.True(record.IsOnThisMachine);

        // Removed (Stop-DlsListener thought it gone): the next beat records it again.
        registry.Unregister(url, 102);
        Assert.Empty(registry.List());
        registry.Heartbeat([url], 102, null, "1.0", ServerRole.Standby, serving: true);
        Assert.Equal(102, Assert.Single(registry.List()).ProcessId);

        // Taken by another listener meanwhile: the beat leaves it to that one.
        registry.Register(url, 200, null, "1.0", ServerRole.Main, serving: true);
        registry.Heartbeat([url], 102, null, "1.0", ServerRole.Standby, serving: true);
        Assert.Equal((200, ServerRole.Main), (Assert.Single(registry.List()).ProcessId, Assert.Single(registry.List()).Role));
    }

    [Fact]
    public void A_task_is_claimed_once_per_interval_whoever_asks()
    {
        var store = _temp.Initialized();
        var tasks = new ListenerTasks(store, _temp.Clock);
        var day = TimeSpan.FromDays(1);

        Assert.True(tasks.TryClaim(ListenerTasks.Retention, day, "host-a:1"));
        Assert.False(tasks.TryClaim(ListenerTasks.Retention, day, "host-b:2"));
        _temp.Clock.Advance(TimeSpan.FromHours(23));
        Assert.False(tasks.TryClaim(ListenerTasks.Retention, day, "host-b:2"));
        _temp.Clock.Advance(TimeSpan.FromHours(1));
        Assert.True(tasks.TryClaim(ListenerTasks.Retention, day, "host-b:2"));
        Assert.False(tasks.TryClaim(ListenerTasks.Retention, day, "host-a:1"));
    }
}
