namespace Dls.Core.Storage.Migrations;

internal sealed class M0040_Alerts : Migration
{
    public override int Version => 40;

    public override string Description => "alert settings, level state (hysteresis), notification outbox";

    // alert_level_state holds the levels a condition has reached and notified: a row is removed (the level
    // re-arms) when a check finds the value back below it, so each crossing notifies once, across restarts.
    // alert_notification is what one check (or Send-DlsTestAlert) sent; alert_delivery is the outbox, one row a
    // channel, retried with back-off until delivered or out of attempts.
    protected override string Sql => """
        CREATE TABLE alert_setting (
            name                TEXT PRIMARY KEY,
            value               TEXT NOT NULL,
            updated_at          TEXT NOT NULL
        );

        CREATE TABLE alert_level_state (
            condition_key       TEXT NOT NULL,
            level               TEXT NOT NULL,
            reached_at          TEXT NOT NULL,
            PRIMARY KEY (condition_key, level)
        );

        CREATE TABLE alert_notification (
            id                  INTEGER PRIMARY KEY,
            time                TEXT NOT NULL,
            kind                TEXT NOT NULL,
            subject             TEXT NOT NULL,
            payload             TEXT NOT NULL
        );
        CREATE INDEX alert_notification_time ON alert_notification (time);

        CREATE TABLE alert_delivery (
            id                  INTEGER PRIMARY KEY,
            notification_id     INTEGER NOT NULL REFERENCES alert_notification (id) ON DELETE CASCADE,
            channel             TEXT NOT NULL,
            status              TEXT NOT NULL,
            attempts            INTEGER NOT NULL DEFAULT 0,
            max_attempts        INTEGER NOT NULL,
            next_attempt_at     TEXT,
            lease_until         TEXT,
            last_attempt_at     TEXT,
            delivered_at        TEXT,
            error               TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX alert_delivery_notification ON alert_delivery (notification_id);
        CREATE INDEX alert_delivery_due ON alert_delivery (next_attempt_at) WHERE status = 'Pending';
        """;
}
