namespace Dls.Core.Storage.Migrations;

internal sealed class M0080_DeviceListing : Migration
{
    public override int Version => 80;

    public override string Description => "indexes for Get-DlsDevice on count and concurrent items: grants by item, per-device usage rows by item and device";

    // Get-DlsDevice lists a count or concurrent item's devices from its grants, and each device's last contact from its
    // newest hour (or day) row in usage_device (core/Accounting/DeviceService.cs). Both are keyed by device first; these
    // indexes key them by item. The usage_device index is partial: hour, day and month rows are written once per device,
    // code and item per period, so it costs the listener one index entry per hour of a device's activity, not per
    // slice; grant upserts change only cache_until, which is not indexed.
    protected override string Sql => """
        CREATE INDEX client_grant_item ON client_grant (item_id, client_uuid);
        CREATE INDEX usage_device_item_client ON usage_device (item_id, client_id, grain, period) WHERE grain > 0;
        """;
}
