namespace Dls.Core.Storage.Migrations;

internal sealed class M0020_Accounting : Migration
{
    public override int Version => 20;

    public override string Description => "quota accounting: seats, concurrent slots, counters, report batches, client fingerprints";

    // The state the listener's decisions read and write (SPEC §3). Raw statistics stay in auth_event/usage_record.
    protected override string Sql => """
        -- Per-device, per-server and per-domain seats. seat_key is the clientUuid (kind 'device') or the
        -- registrable domain (kind 'domain'). A seat counts while active_until is in the future.
        CREATE TABLE seat (
            item_id             TEXT NOT NULL,
            seat_key            TEXT NOT NULL,
            kind                TEXT NOT NULL,
            client_uuid         TEXT NOT NULL,
            first_seen          TEXT NOT NULL,
            last_seen           TEXT NOT NULL,
            active_until        TEXT NOT NULL,
            PRIMARY KEY (item_id, seat_key)
        );
        CREATE INDEX seat_item_active ON seat (item_id, active_until);
        CREATE INDEX seat_client ON seat (client_uuid);

        -- Concurrent items: who was active in which slice (seat_key = clientUuid, or clientUuid/instanceId).
        CREATE TABLE concurrent_slot (
            item_id             TEXT NOT NULL,
            slice               TEXT NOT NULL,
            seat_key            TEXT NOT NULL,
            client_uuid         TEXT NOT NULL,
            PRIMARY KEY (item_id, slice, seat_key)
        );
        CREATE TABLE concurrent_slice (
            item_id             TEXT NOT NULL,
            slice               TEXT NOT NULL,
            active              INTEGER NOT NULL,
            PRIMARY KEY (item_id, slice)
        );

        -- Running totals per item: counted scans/pages, and extra device/instance-slices used from the
        -- concurrent tolerance.
        CREATE TABLE item_counter (
            item_id             TEXT PRIMARY KEY,
            counted             INTEGER NOT NULL DEFAULT 0,
            overage             INTEGER NOT NULL DEFAULT 0
        );

        -- Report batches already counted: a re-sent batch counts nothing again.
        CREATE TABLE report_batch (
            client_uuid         TEXT NOT NULL,
            batch_id            TEXT NOT NULL,
            received_at         TEXT NOT NULL,
            records             INTEGER NOT NULL,
            PRIMARY KEY (client_uuid, batch_id)
        );
        CREATE INDEX report_batch_received ON report_batch (received_at);

        -- Clone rule (SPEC §7): the fingerprint a clientUuid was first seen with in a slice.
        CREATE TABLE client_fingerprint (
            client_uuid         TEXT NOT NULL,
            slice               TEXT NOT NULL,
            fingerprint         TEXT NOT NULL,
            PRIMARY KEY (client_uuid, slice)
        );
        CREATE INDEX client_fingerprint_slice ON client_fingerprint (slice);
        """;
}
