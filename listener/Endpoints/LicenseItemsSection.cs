using System.Globalization;
using System.Net;
using System.Text;
using Dls.Core.Accounting;
using Dls.Core.Licensing;
using Dls.Core.Storage;

namespace Dls.Listener.Endpoints;

/// <summary>"License items at a glance" on the home page (SPEC §4): each item with used / quantity and status.</summary>
public sealed class LicenseItemsSection(DlsStore store, TimeProvider time) : IHomeSection
{
    public string Render()
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        var now = time.GetUtcNow();
        var rows = store.Query(work => LicenseCatalog.AllItems(work)
            .Select(item => (Item: item, Measure: QuotaMeter.Measure(work, item, now),
                Status: item.StatusAt(now, LicenseCatalog.IsRevoked(work, item))))
            .ToList());
        var html = new StringBuilder("<h2>License items</h2>");
        if (rows.Count == 0)
        {
            html.Append("<p class=\"muted\" id=\"items\">No license imported yet.</p>");
            return html.ToString();
        }

        html.Append("<table id=\"items\"><tr><th>Item</th><th>Product</th><th>Mode</th><th>Used</th><th>Quantity</th><th>%</th><th>Status</th><th>Expires</th></tr>");
        foreach (var (item, measure, status) in rows)
        {
            html.Append(CultureInfo.InvariantCulture,
                $"<tr><td><code>{E(item.ItemId)}</code></td><td>{E(item.Product)} {E(item.Version)} {E(item.Deployment.ToString())}</td><td>{E(item.Mode.ToString())}</td>" +
                $"<td>{measure.Used}</td><td>{measure.Quantity}</td><td>{measure.PercentUsed.ToString("0.#", CultureInfo.InvariantCulture)}</td><td>{E(status.ToString())}</td><td>{item.ExpirationDate:yyyy-MM-dd}</td></tr>");
        }

        html.Append("</table>");
        return html.ToString();
    }
}
