namespace Dls.Core.Storage.Migrations;

internal sealed class M0070_Grants : Migration
{
    public override int Version => 70;

    public override string Description => "grants (who was authorized for which item through which code), listener protection settings, feature names per item";

    // Only authorized usage counts (SPEC §4): a report record counts when its client holds a grant for the item
    // through the code. cache_until is the latest cacheUntil an authorization answered, rounded up to the hour so
    // that a known device's authorizations rewrite the row at most once an hour. Rows that hold nothing any more
    // are purged with the usage retention.
    //
    // server_setting holds the listener's protection settings (Set-DlsServer -MaxCountPerSlice, -NewSeatsPerMinute,
    // ...); a missing row means the default.
    //
    // feature_name caps the distinct feature names an item's statistics keep (a hostile client could otherwise
    // invent new names for ever; the roll-ups per feature are kept for ever).
    protected override string Sql => """
        CREATE TABLE client_grant (
            client_uuid         TEXT NOT NULL,
            handshake_code      TEXT NOT NULL,
            item_id             TEXT NOT NULL,
            first_granted       TEXT NOT NULL,
            cache_until         TEXT NOT NULL,
            PRIMARY KEY (client_uuid, handshake_code, item_id)
        ) WITHOUT ROWID;
        CREATE INDEX client_grant_until ON client_grant (cache_until);

        CREATE TABLE server_setting (
            name                TEXT PRIMARY KEY,
            value               TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE feature_name (
            item_id             TEXT NOT NULL,
            feature             TEXT NOT NULL,
            PRIMARY KEY (item_id, feature)
        ) WITHOUT ROWID;
        """;
}
