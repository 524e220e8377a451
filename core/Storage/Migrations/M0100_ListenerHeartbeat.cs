namespace Dls.Core.Storage.Migrations;

/// <summary>
/// Main and standby listeners (SPEC §7). Each listener records its role and the machine it runs on, and writes a
/// heartbeat (<c>heartbeat_at</c>, with whether it serves) every second: a listener is alive while its heartbeat is
/// recent (<see cref="Listeners.ListenerLiveness"/>), on any machine, which a process id alone cannot tell.
/// <c>task_lease</c> holds when each task that runs once across the listeners of a store (the usage retention) last
/// ran: a listener runs it only after claiming its row. Plain SQL that is the same on SQLite and PostgreSQL.
/// </summary>
internal sealed class M0100_ListenerHeartbeat : Migration
{
    public override int Version => 100;

    public override string Description => "listener role, host and heartbeat; leases of the tasks that run once across listeners";

    protected override string Sql => """
        ALTER TABLE listener ADD COLUMN role TEXT NOT NULL DEFAULT 'Main';
        ALTER TABLE listener ADD COLUMN host TEXT NOT NULL DEFAULT '';
        ALTER TABLE listener ADD COLUMN heartbeat_at TEXT;
        ALTER TABLE listener ADD COLUMN serving INTEGER NOT NULL DEFAULT 0;

        CREATE TABLE task_lease (
            name                TEXT PRIMARY KEY,
            holder              TEXT NOT NULL,
            ran_at              TEXT NOT NULL
        );
        """;
}
