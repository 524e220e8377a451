namespace Dls.Core.Storage.Migrations;

internal sealed class M0080_DeviceListing : Migration
{
    public override int Version => 80;

    public override string Description => "grants indexed by item, for Get-DlsDevice on count and concurrent items";

    // Get-DlsDevice lists a count or concurrent item's devices from its grants (core/Accounting/DeviceService.cs), which
    // are keyed by device first. A grant row is inserted once per device, code and item; its upserts change only
    // cache_until, which is not indexed, so the listener pays one index entry per new grant.
    protected override string Sql => """
        CREATE INDEX client_grant_item ON client_grant (item_id, client_uuid);
        """;
}
