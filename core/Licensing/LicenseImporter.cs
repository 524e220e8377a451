using System.Globalization;
using System.Text;
using Dls.Core.Audit;
using Dls.Core.Errors;
using Dls.Core.Storage;

namespace Dls.Core.Licensing;

public enum LicenseImportAction
{
    /// <summary>A license this server does not hold yet.</summary>
    Add,

    /// <summary>A newer issue of a license the server holds: its items are replaced (SPEC §7 re-imports).</summary>
    Replace,

    /// <summary>The same license again: nothing about the license changes.</summary>
    Unchanged,
}

public enum ItemChangeKind
{
    Added,
    Changed,
    Removed,
    Unchanged,
}

/// <summary>One item's fate in an import, with the fields that change (<c>quantity: 10 → 20</c>).</summary>
public sealed record ItemChange(ItemChangeKind Kind, string ItemId, LicenseItem? Before, LicenseItem? After, IReadOnlyList<string> Differences);

/// <summary>What an import does to the handshake code it targets.</summary>
public sealed record CodeChange(string Code, bool Create, bool BecomesDefault, IReadOnlyList<string> AddedItemIds, IReadOnlyList<string> ItemIds);

/// <summary>
/// Everything an import would do, computed from the file and the store without changing either; what
/// Import-DlsLicense -WhatIf prints and what <see cref="LicenseImporter.Import"/> applies.
/// </summary>
public sealed record LicenseImportPlan(
    LicenseDocument Document,
    string IssuerKeyId,
    LicenseImportAction Action,
    IReadOnlyList<ItemChange> Items,
    IReadOnlyList<CodeLoss> CodesLosingItems,
    CodeChange? Code,
    string? AdoptedOrganizationId)
{
    public bool ChangesNothing =>
        Action == LicenseImportAction.Unchanged && AdoptedOrganizationId is null
        && (Code is null || (!Code.Create && Code.AddedItemIds.Count == 0));

    /// <summary>The plan in words, one line a change.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        var license = $"license '{Document.LicenseId}' ({Document.Alias}, issued {Document.IssuedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z)";
        text.AppendLine(Action switch
        {
            LicenseImportAction.Add => $"Add {license}",
            LicenseImportAction.Replace => $"Replace the items of {license} with this newer issue",
            _ => $"Keep {license}: this server holds this file already",
        });
        if (AdoptedOrganizationId is not null)
        {
            text.AppendLine($"  set the server's organization id to {AdoptedOrganizationId}");
        }

        foreach (var change in Items.Where(c => c.Kind != ItemChangeKind.Unchanged))
        {
            var item = change.After ?? change.Before!;
            var what = $"{item.ItemId}: {item.Product} {item.Version} {item.Deployment} {item.Mode}, quantity {item.Quantity}, {item.StartDate:yyyy-MM-dd} to {item.ExpirationDate:yyyy-MM-dd}"
                + (item.Revokes is null ? string.Empty : $", revokes {item.Revokes}");
            text.AppendLine(change.Kind switch
            {
                ItemChangeKind.Added => $"  add item {what}",
                ItemChangeKind.Removed => $"  remove item {what}",
                _ => $"  change item {item.ItemId}: {string.Join(", ", change.Differences)}",
            });
        }

        foreach (var loss in CodesLosingItems)
        {
            text.AppendLine($"  handshake code {loss.Code} loses {string.Join(", ", loss.ItemIds)}");
        }

        if (Code is not null && (Code.Create || Code.AddedItemIds.Count > 0))
        {
            text.AppendLine(Code.Create
                ? $"  create handshake code {Code.Code}{(Code.BecomesDefault ? " (the organization's default)" : string.Empty)} with items {string.Join(", ", Code.ItemIds)}"
                : $"  add {string.Join(", ", Code.AddedItemIds)} to handshake code {Code.Code}: items {string.Join(", ", Code.ItemIds)}");
        }

        return text.ToString().TrimEnd();
    }
}

/// <summary>
/// Import-DlsLicense (SPEC §5, §7): verifies a license file against the trusted issuers and this server, plans
/// what it changes (<see cref="Preview"/>, for -WhatIf) and applies that plan in one transaction (<see cref="Import"/>).
/// A refused file leaves the store untouched.
/// </summary>
/// <remarks>
/// Decisions (docs/licensing.md): a server without an organization adopts the license's; a different one is
/// refused (<c>LicenseOrganizationMismatch</c>). An item id that another license holds is refused
/// (<c>LicenseItemConflict</c>). The same payload again changes nothing; a newer <c>issuedAt</c> replaces the
/// items (ids that remain keep their usage); an older or equal one with other content is <c>LicenseSuperseded</c>.
/// A license belongs to the issuer key that first imported it (<c>license.issuer_key_id</c>): another issuer's
/// file for it is <see cref="OwnedByAnotherIssuer"/>, and <c>revokes</c> works only within one issuer
/// (<see cref="RevokesForeignItem"/>, <see cref="RevokedByAnotherIssuer"/>).
/// </remarks>
public sealed class LicenseImporter(DlsStore store, TimeProvider time)
{
    /// <summary>ErrorId: the license id belongs to another issuer (SPEC §7, issuers own their licenses).</summary>
    public const string OwnedByAnotherIssuer = ErrorIds.LicenseOwnedByAnotherIssuer;

    /// <summary>ErrorId: an item of the file revokes an item of another issuer's license.</summary>
    public const string RevokesForeignItem = ErrorIds.LicenseRevokesForeignItem;

    /// <summary>ErrorId: an item of the file is already revoked by an item of another issuer's license.</summary>
    public const string RevokedByAnotherIssuer = ErrorIds.LicenseItemRevokedByAnotherIssuer;

    /// <summary>The plan for importing <paramref name="file"/>, from one consistent read of the store.</summary>
    public LicenseImportPlan Preview(byte[] file, string? newCodeName = null, string? existingCode = null, object? target = null) =>
        store.QuerySnapshot(work => Plan(work, file, newCodeName, existingCode, target).Plan);

    /// <summary>Verifies, plans and applies in one write transaction; returns the plan applied and the license now.</summary>
    public (LicenseImportPlan Plan, LicenseInfo License) Import(byte[] file, string? newCodeName = null, string? existingCode = null, object? target = null) =>
        store.Write(work =>
        {
            var (plan, envelopeText, payloadSha256) = Plan(work, file, newCodeName, existingCode, target);
            if (!plan.ChangesNothing)
            {
                Apply(work, plan, envelopeText, payloadSha256);
            }

            return (plan, LicenseService.Find(work, plan.Document.LicenseId)!);
        });

    private (LicenseImportPlan Plan, string EnvelopeText, string PayloadSha256) Plan(
        UnitOfWork work, byte[] file, string? newCodeName, string? existingCode, object? target)
    {
        if (newCodeName is not null && existingCode is not null)
        {
            throw new DlsException(ErrorIds.ImportTargetAmbiguous, DlsErrorKind.InvalidArgument, "Give either a new handshake code name or an existing code, not both.");
        }

        if (newCodeName is not null)
        {
            HandshakeCodeService.ValidateName(newCodeName);
        }

        var server = Server.ServerService.Read(work, store.Path);
        var (envelope, document) = LicenseFile.Open(file, keyId => TrustedIssuerService.PublicKeyOf(work, keyId), target);
        if (document.ServerUuid != server.Uuid)
        {
            throw new DlsException(
                ErrorIds.LicenseBoundToOtherServer,
                DlsErrorKind.InvalidOperation,
                $"The license '{document.LicenseId}' is bound to server {document.ServerUuid}, not to this server ({server.Uuid}). Ask the issuer for a file activated with this server's UUID.",
                target);
        }

        string? adopted = null;
        if (server.OrganizationId.Length == 0)
        {
            adopted = document.OrganizationId;
        }
        else if (server.OrganizationId != document.OrganizationId)
        {
            throw new DlsException(
                ErrorIds.LicenseOrganizationMismatch,
                DlsErrorKind.InvalidOperation,
                $"The license '{document.LicenseId}' belongs to organization {document.OrganizationId}; this server belongs to {server.OrganizationId}.",
                target);
        }

        var payloadSha256 = envelope.PayloadSha256;
        var action = LicenseImportAction.Add;
        var existingItems = new List<LicenseItem>();
        if (work.Stores.Licenses.Source(work, document.LicenseId) is { } stored)
        {
            var owner = stored.IssuerKeyId;
            if (owner != envelope.KeyId)
            {
                // Checked before anything else about the license: whatever the other issuer's file says, even
                // the same payload or a later issuedAt, it does not get to speak for this license.
                throw new DlsException(
                    OwnedByAnotherIssuer,
                    DlsErrorKind.SecurityError,
                    $"The license '{document.LicenseId}' was imported from issuer key {owner}; this file is signed by issuer key {envelope.KeyId}. Only the issuer that first imported a license can replace it; remove the license first (Remove-DlsLicense) to take it from another issuer.",
                    target);
            }

            var issuedAt = stored.IssuedAt;
            action = stored.PayloadSha256 == payloadSha256 ? LicenseImportAction.Unchanged
                : document.IssuedAt > issuedAt ? LicenseImportAction.Replace
                : throw new DlsException(
                    ErrorIds.LicenseSuperseded,
                    DlsErrorKind.InvalidOperation,
                    $"This server holds license '{document.LicenseId}' issued {issuedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z; this file, issued {document.IssuedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, is not newer and says something else.",
                    target);
        }

        if (action != LicenseImportAction.Add)
        {
            existingItems = LicenseCatalog.AllItems(work).Where(i => i.LicenseId == document.LicenseId).ToList();
        }

        var changes = new List<ItemChange>();
        foreach (var spec in document.Items)
        {
            var current = LicenseCatalog.FindItem(work, spec.ItemId);
            if (current is not null && current.LicenseId != document.LicenseId)
            {
                throw new DlsException(
                    ErrorIds.LicenseItemConflict,
                    DlsErrorKind.AlreadyExists,
                    $"The item '{spec.ItemId}' of license '{document.LicenseId}' belongs to license '{current.LicenseId}' already. Item ids are unique on a server.",
                    target);
            }

            var after = spec.ToItem(document.LicenseId);
            changes.Add(current is null ? new ItemChange(ItemChangeKind.Added, spec.ItemId, null, after, [])
                : spec.SameAs(current) ? new ItemChange(ItemChangeKind.Unchanged, spec.ItemId, current, after, [])
                : new ItemChange(ItemChangeKind.Changed, spec.ItemId, current, after, Differences(current, after)));
        }

        CheckRevocations(work, document, envelope.KeyId, target);

        var removed = existingItems.Where(e => document.Items.All(i => i.ItemId != e.ItemId)).ToList();
        changes.AddRange(removed.Select(r => new ItemChange(ItemChangeKind.Removed, r.ItemId, r, null, [])));
        var losses = LicenseService.Losses(work, removed.Select(r => r.ItemId).ToList());

        CodeChange? code = null;
        var items = document.Items.Select(i => i.ToItem(document.LicenseId)).ToList();
        if (newCodeName is not null)
        {
            var codeText = HandshakeCodeService.Compose(adopted ?? server.OrganizationId, newCodeName);
            if (LicenseCatalog.FindCode(work, codeText) is not null)
            {
                throw new DlsException(ErrorIds.HandshakeCodeExists, DlsErrorKind.AlreadyExists, $"The handshake code '{codeText}' exists already; use -HandshakeCode to add to it.", codeText);
            }

            var ordered = CodeOrder.Default(items).Select(i => i.ItemId).ToList();
            code = new CodeChange(codeText, true, !work.Stores.Codes.OrganizationHasCodes(work, adopted ?? server.OrganizationId), ordered, ordered);
        }
        else if (existingCode is not null)
        {
            var found = LicenseCatalog.FindCode(work, existingCode) ?? throw HandshakeCodeService.NotFound(existingCode);
            var current = LicenseCatalog.ItemsOfCode(work, existingCode).Where(i => removed.All(r => r.ItemId != i.ItemId)).ToList();
            var merged = CodeOrder.Merge(current, items).Select(i => i.ItemId).ToList();
            code = new CodeChange(found.Code, false, false, merged.Where(id => current.All(c => c.ItemId != id)).ToList(), merged);
        }

        var plan = new LicenseImportPlan(document, envelope.KeyId, action, changes, losses, code, adopted);
        return (plan, Encoding.UTF8.GetString(file).Trim('\uFEFF', '\r', '\n'), payloadSha256);
    }

    /// <summary>
    /// <c>revokes</c> only cancels items of the same issuer (SPEC §7), in both directions: this file's items may not
    /// revoke another issuer's items, and another issuer's items may not already revoke this file's items (a
    /// revocation may name an item before it is imported). The issuer of an item is the issuer of its license.
    /// </summary>
    private static void CheckRevocations(UnitOfWork work, LicenseDocument document, string issuerKeyId, object? target)
    {
        foreach (var item in document.Items.Where(i => i.Revokes is not null))
        {
            var owner = work.Stores.Licenses.HolderOfItem(work, item.Revokes!);
            if (owner is { } foreign && foreign.KeyId != issuerKeyId)
            {
                throw new DlsException(
                    RevokesForeignItem,
                    DlsErrorKind.SecurityError,
                    $"The item '{item.ItemId}' of license '{document.LicenseId}' revokes '{item.Revokes}', an item of license '{foreign.LicenseId}' from issuer key {foreign.KeyId}; this file is signed by issuer key {issuerKeyId}. An issuer can revoke only its own items.",
                    target);
            }
        }

        foreach (var item in document.Items)
        {
            var revoker = work.Stores.Licenses.ForeignRevokerOf(work, item.ItemId, issuerKeyId);
            if (revoker is { } foreign)
            {
                throw new DlsException(
                    RevokedByAnotherIssuer,
                    DlsErrorKind.SecurityError,
                    $"The item '{item.ItemId}' of license '{document.LicenseId}' is revoked in advance by license '{foreign.LicenseId}' from issuer key {foreign.KeyId}; this file is signed by issuer key {issuerKeyId}. An issuer's items can be revoked only by the same issuer: remove license '{foreign.LicenseId}' or ask for other item ids.",
                    target);
            }
        }
    }

    private void Apply(UnitOfWork work, LicenseImportPlan plan, string envelopeText, string payloadSha256)
    {
        var now = time.GetUtcNow();
        var document = plan.Document;
        var licenses = work.Stores.Licenses;
        if (plan.AdoptedOrganizationId is not null)
        {
            work.Stores.Server.UpdateIdentity(work, plan.AdoptedOrganizationId, null, null, null, now);
            AuditLog.Write(work, now, "Server.AdoptOrganization", plan.AdoptedOrganizationId, $"from license {document.LicenseId}");
        }

        var imported = new ImportedLicense(
            document.LicenseId, document.Alias, document.OrganizationId, document.ServerUuid, document.IssuedAt, plan.IssuerKeyId, payloadSha256, envelopeText);
        if (plan.Action == LicenseImportAction.Add)
        {
            licenses.AddLicense(work, imported, now);
        }
        else if (plan.Action == LicenseImportAction.Replace)
        {
            licenses.ReplaceLicense(work, imported, StoredFileAlias(work, document.LicenseId), now);
        }

        foreach (var loss in plan.CodesLosingItems)
        {
            work.Stores.Codes.Touch(work, loss.Code, now);
        }

        foreach (var change in plan.Items)
        {
            switch (change.Kind)
            {
                case ItemChangeKind.Added:
                case ItemChangeKind.Changed:
                    licenses.WriteItem(work, change.After!, now);
                    break;
                case ItemChangeKind.Removed:
                    licenses.RemoveItem(work, change.ItemId);
                    break;
            }
        }

        if (plan.Code is { } code && (code.Create || code.AddedItemIds.Count > 0))
        {
            if (code.Create)
            {
                var name = code.Code[(code.Code.IndexOf('-', StringComparison.Ordinal) + 1)..];
                HandshakeCodeService.Insert(work, code.Code, plan.AdoptedOrganizationId ?? document.OrganizationId, name, code.BecomesDefault, now);
                AuditLog.Write(work, now, "HandshakeCode.New", code.Code, $"items={string.Join(",", code.ItemIds)}; default={code.BecomesDefault}; from license {document.LicenseId}");
            }
            else
            {
                AuditLog.Write(work, now, "HandshakeCode.Set", code.Code, $"items={string.Join(",", code.ItemIds)}; from license {document.LicenseId}");
            }

            HandshakeCodeService.WriteItems(work, code.Code, code.ItemIds, now);
        }

        if (plan.Action != LicenseImportAction.Unchanged)
        {
            var summary = string.Join("; ", plan.Items.Where(c => c.Kind != ItemChangeKind.Unchanged).Select(c => $"{c.Kind.ToString().ToLowerInvariant()} {c.ItemId}"));
            AuditLog.Write(work, now, plan.Action == LicenseImportAction.Add ? "License.Import" : "License.Replace", document.LicenseId,
                $"issuer={plan.IssuerKeyId}; issuedAt={document.IssuedAt.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}; {summary}");
        }
    }

    /// <summary>The alias the stored file gave the license (the stored file was verified when it was imported).</summary>
    private static string StoredFileAlias(UnitOfWork work, string licenseId) =>
        LicenseFile.ReadStored(work.Stores.Licenses.StoredDocument(work, licenseId)).Alias;

    private static List<string> Differences(LicenseItem before, LicenseItem after)
    {
        var differences = new List<string>();
        void Compare(string name, string was, string now)
        {
            if (was != now)
            {
                differences.Add($"{name} {was} → {now}");
            }
        }

        Compare("product", before.Product, after.Product);
        Compare("version", before.Version, after.Version);
        Compare("deployment", before.Deployment.ToString(), after.Deployment.ToString());
        Compare("edition", before.Edition, after.Edition);
        Compare("mode", before.Mode.ToString(), after.Mode.ToString());
        Compare("quantity", before.Quantity.ToString(CultureInfo.InvariantCulture), after.Quantity.ToString(CultureInfo.InvariantCulture));
        Compare("startDate", before.StartDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), after.StartDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        Compare("expirationDate", before.ExpirationDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), after.ExpirationDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        Compare("modules", string.Join(",", before.Modules), string.Join(",", after.Modules));
        Compare("revokes", before.Revokes ?? "(none)", after.Revokes ?? "(none)");
        return differences;
    }
}
