namespace Dls.Core.Storage.Migrations;

internal sealed class M0030_UsageRollups : Migration
{
    public override int Version => 30;

    public override string Description => "usage roll-ups per slice, hour, day and month; raw-record retention setting";

    // grain: 0 slice (3 min), 1 hour, 2 day, 3 month. period: unix seconds (UTC) of the period's start.
    // level: 0 = per code and item; 1 = per code over all its items (item_id = ''); 2 = per item over all
    // codes (handshake_code = ''). Levels 1 and 2 exist because distinct devices do not add up: a device that
    // uses two items of a code is one device of the code.
    // Distinct devices are kept as counters, bumped when a device is seen for the first time in a period:
    // usage_device (level 0, with the device's own counters) and usage_seen (levels 1 and 2) remember who was seen.
    // What follows the raw-record retention and what is kept for ever: UsageRetention and docs/usage.md.
    protected override string Sql => """
        CREATE TABLE usage_client (
            id                  INTEGER PRIMARY KEY,
            client_uuid         TEXT NOT NULL UNIQUE
        );

        CREATE TABLE usage_rollup (
            level               INTEGER NOT NULL,
            grain               INTEGER NOT NULL,
            period              INTEGER NOT NULL,
            handshake_code      TEXT NOT NULL,
            item_id             TEXT NOT NULL,
            count               INTEGER NOT NULL DEFAULT 0,
            reports             INTEGER NOT NULL DEFAULT 0,
            devices             INTEGER NOT NULL DEFAULT 0,
            instances           INTEGER NOT NULL DEFAULT 0,
            peak_devices        INTEGER NOT NULL DEFAULT 0,
            peak_instances      INTEGER NOT NULL DEFAULT 0,
            authorizations      INTEGER NOT NULL DEFAULT 0,
            failed_authorizations INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (level, grain, period, handshake_code, item_id)
        ) WITHOUT ROWID;

        CREATE TABLE usage_device (
            grain               INTEGER NOT NULL,
            period              INTEGER NOT NULL,
            handshake_code      TEXT NOT NULL,
            item_id             TEXT NOT NULL,
            client_id           INTEGER NOT NULL,
            count               INTEGER NOT NULL DEFAULT 0,
            reports             INTEGER NOT NULL DEFAULT 0,
            authorizations      INTEGER NOT NULL DEFAULT 0,
            failed_authorizations INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (grain, period, handshake_code, item_id, client_id)
        ) WITHOUT ROWID;

        CREATE TABLE usage_seen (
            level               INTEGER NOT NULL,
            grain               INTEGER NOT NULL,
            period              INTEGER NOT NULL,
            handshake_code      TEXT NOT NULL,
            item_id             TEXT NOT NULL,
            client_id           INTEGER NOT NULL,
            PRIMARY KEY (level, grain, period, handshake_code, item_id, client_id)
        ) WITHOUT ROWID;

        CREATE TABLE usage_instance_seen (
            level               INTEGER NOT NULL,
            period              INTEGER NOT NULL,
            handshake_code      TEXT NOT NULL,
            item_id             TEXT NOT NULL,
            client_id           INTEGER NOT NULL,
            instance_id         TEXT NOT NULL,
            PRIMARY KEY (level, period, handshake_code, item_id, client_id, instance_id)
        ) WITHOUT ROWID;

        CREATE TABLE usage_feature (
            grain               INTEGER NOT NULL,
            period              INTEGER NOT NULL,
            handshake_code      TEXT NOT NULL,
            item_id             TEXT NOT NULL,
            feature             TEXT NOT NULL,
            count               INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (grain, period, handshake_code, item_id, feature)
        ) WITHOUT ROWID;

        CREATE TABLE usage_setting (
            name                TEXT PRIMARY KEY,
            value               TEXT NOT NULL
        );
        INSERT INTO usage_setting (name, value) VALUES ('raw_retention_days', '400');

        """;
}
