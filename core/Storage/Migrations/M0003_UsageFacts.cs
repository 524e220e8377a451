namespace Dls.Core.Storage.Migrations;

internal sealed class M0003_UsageFacts : Migration
{
    public override int Version => 3;

    public override string Description => "raw statistics facts: authorizations and reported usage";

    // The facts every statistic is derived from. Written by UsageStatistics in the transaction of the
    // request that produced them; roll-ups for queries live in their own tables.
    protected override string Sql => """
        CREATE TABLE auth_event (
            id                  INTEGER PRIMARY KEY,
            time                TEXT NOT NULL,
            slice               TEXT NOT NULL,
            handshake_code      TEXT NOT NULL,
            item_id             TEXT NOT NULL,
            client_uuid         TEXT NOT NULL,
            error_code          INTEGER NOT NULL
        );
        CREATE INDEX auth_event_time ON auth_event (time);

        CREATE TABLE usage_record (
            id                  INTEGER PRIMARY KEY,
            received_at         TEXT NOT NULL,
            slice               TEXT NOT NULL,
            handshake_code      TEXT NOT NULL,
            item_id             TEXT NOT NULL,
            client_uuid         TEXT NOT NULL,
            instance_id         TEXT NOT NULL DEFAULT '',
            count               INTEGER NOT NULL,
            features            TEXT
        );
        CREATE INDEX usage_record_slice ON usage_record (slice);
        """;
}
