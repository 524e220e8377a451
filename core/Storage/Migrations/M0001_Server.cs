namespace Dls.Core.Storage.Migrations;

internal sealed class M0001_Server : Migration
{
    public override int Version => 1;

    public override string Description => "server identity, listener registry, audit log";

    protected override string Sql => """
        CREATE TABLE server (
            id                  INTEGER PRIMARY KEY CHECK (id = 1),
            uuid                TEXT NOT NULL,
            organization_id     TEXT NOT NULL DEFAULT '',
            main_server_url     TEXT NOT NULL,
            standby_server_url  TEXT NOT NULL DEFAULT '',
            role                TEXT NOT NULL DEFAULT 'Main',
            private_key         BLOB NOT NULL,
            public_key          BLOB NOT NULL,
            created_at          TEXT NOT NULL,
            updated_at          TEXT NOT NULL
        );

        CREATE TABLE listener (
            url                 TEXT PRIMARY KEY,
            process_id          INTEGER NOT NULL,
            process_started_at  TEXT,
            started_at          TEXT NOT NULL,
            version             TEXT NOT NULL
        );

        CREATE TABLE audit_log (
            id                  INTEGER PRIMARY KEY,
            time                TEXT NOT NULL,
            user                TEXT NOT NULL,
            action              TEXT NOT NULL,
            target              TEXT NOT NULL,
            details             TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX audit_log_time ON audit_log (time);
        """;
}
