namespace Dls.Core.Storage.Migrations;

/// <summary>
/// Main and standby listeners (SPEC §7). Each listener records its role and the machine it runs on, and writes a
/// heartbeat (<c>heartbeat_at</c>, with whether it serves) every second: a listener is alive while its heartbeat is
/// recent (<see cref="Listeners.ListenerLiveness"/>), on any machine, which a process id alone cannot tell.
/// <c>task_lease</c> holds when each task that runs once across the listeners of a store (the usage retention) last
/// ran: a listener runs it only after claiming its row.
/// </summary>
internal sealed class M0100_ListenerHeartbeat : Migration
{
    public override int Version => 100;

    public override string Description => "listener role, host and heartbeat; leases of the tasks that run once across listeners";

    // The listener table is made again, keyed by (host, url): listeners on two machines that both bind
    // http://0.0.0.0:48080/ are two listeners (a main and its standby on a PostgreSQL store, typically).
    protected override string Sql => """
        CREATE TABLE listener_next (
            host                TEXT NOT NULL DEFAULT '',
            url                 TEXT NOT NULL,
            process_id          INTEGER NOT NULL,
            process_started_at  TEXT,
            started_at          TEXT NOT NULL,
            version             TEXT NOT NULL,
            role                TEXT NOT NULL DEFAULT 'Main',
            heartbeat_at        TEXT,
            serving             INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (host, url)
        );
        INSERT INTO listener_next (url, process_id, process_started_at, started_at, version)
            SELECT url, process_id, process_started_at, started_at, version FROM listener;
        DROP TABLE listener;
        ALTER TABLE listener_next RENAME TO listener;

        CREATE TABLE task_lease (
            name                TEXT PRIMARY KEY,
            holder              TEXT NOT NULL,
            ran_at              TEXT NOT NULL
        );
        """;

    // The same in PostgreSQL's types of the baseline (text compared byte by byte, 64-bit integers).
    protected override string PostgresSql => Sql.Replace("TEXT", "TEXT COLLATE \"C\"", StringComparison.Ordinal).Replace("INTEGER", "BIGINT", StringComparison.Ordinal);
}
