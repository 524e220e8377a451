using System.Globalization;
using System.Text;
using Dls.Core.Accounting;
using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Server;
using Dls.Core.Storage;

namespace Dls.Core.Usage;

/// <summary>
/// Builds the one-file HTML usage report (Export-DlsUsageReport): all-history, selected-period and today breakdowns
/// per item, the trend over the period, a quota gauge per item and the detail table, for one handshake code or for
/// everything. Everything is inline (CSS and SVG): no script, font, image or style sheet is loaded from anywhere.
/// </summary>
public sealed class UsageReportBuilder
{
    private readonly DlsStore _store;
    private readonly TimeProvider _time;

    public UsageReportBuilder(DlsStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
    }

    /// <summary>The interval the trend and the detail table use for a range: hours up to 3 days, days up to 6 months, else months.</summary>
    public static UsageInterval TrendInterval(DateTimeOffset from, DateTimeOffset to) =>
        (to - from).TotalDays <= 3 ? UsageInterval.Hour : (to - from).TotalDays <= 186 ? UsageInterval.Day : UsageInterval.Month;

    /// <param name="progress">Told the percentage done and what is being done, for Write-Progress.</param>
    public string Build(DateTimeOffset? from, DateTimeOffset? to, string? handshakeCode, Action<int, string>? progress = null, CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        var (start, end) = UsageQuery.ResolveRange(from, to, now);
        var today = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var interval = TrendInterval(start, end);
        var server = new ServerService(_store, _time).Get();

        return _store.QuerySnapshot(work =>
        {
            if (handshakeCode is not null && LicenseCatalog.FindCode(work, handshakeCode) is null && !work.Stores.Usage.HasCodeUsage(work, handshakeCode))
            {
                throw new DlsException(ErrorIds.HandshakeCodeNotFound, DlsErrorKind.NotFound, $"There is no handshake code '{handshakeCode}' and no usage recorded for it.", handshakeCode);
            }

            progress?.Invoke(5, "Reading all-history totals");
            var historyStart = work.Stores.Usage.FirstUsageDay(work) ?? today;
            var history = UsageQuery.Run(work, historyStart, today.AddDays(1), UsageInterval.Total, UsageGrouping.Item, handshakeCode, null, cancellationToken);
            progress?.Invoke(20, "Reading the selected period");
            var period = UsageQuery.Run(work, start, end, UsageInterval.Total, UsageGrouping.Item, handshakeCode, null, cancellationToken);
            var todayRows = UsageQuery.Run(work, today, today.AddDays(1), UsageInterval.Total, UsageGrouping.Item, handshakeCode, null, cancellationToken);
            progress?.Invoke(35, $"Reading the trend per {interval.ToString().ToLowerInvariant()}");
            var trend = UsageQuery.Run(work, start, end, interval, UsageGrouping.Item, handshakeCode, null, cancellationToken);
            var codes = handshakeCode is null
                ? UsageQuery.Run(work, start, end, UsageInterval.Total, UsageGrouping.Code, null, null, cancellationToken)
                : [];
            progress?.Invoke(55, "Measuring quotas");
            var items = handshakeCode is null ? LicenseCatalog.AllItems(work) : LicenseCatalog.ItemsOfCode(work, handshakeCode);
            var quotas = items.Select(item => QuotaMeter.Measure(work, item, now)).ToList();

            progress?.Invoke(75, "Drawing the charts");
            var itemIds = items.Select(i => i.ItemId)
                .Concat(history.Concat(period).Concat(trend).Select(r => r.ItemId ?? string.Empty))
                .Distinct(StringComparer.Ordinal).ToList();
            var colors = itemIds.Select((id, i) => (id, SvgCharts.Color(i))).ToDictionary(p => p.id, p => p.Item2, StringComparer.Ordinal);
            var html = Render(server, handshakeCode, start, end, now, interval, itemIds, colors, history, period, todayRows, trend, codes, items, quotas);
            progress?.Invoke(100, "Done");
            return html;
        });
    }

    private static string Render(
        ServerInfo server, string? code, DateTimeOffset start, DateTimeOffset end, DateTimeOffset now, UsageInterval interval,
        List<string> itemIds, Dictionary<string, string> colors, IReadOnlyList<UsageRow> history, IReadOnlyList<UsageRow> period,
        IReadOnlyList<UsageRow> today, IReadOnlyList<UsageRow> trend, IReadOnlyList<UsageRow> codes, IReadOnlyList<LicenseItem> items,
        IReadOnlyList<QuotaMeasure> quotas)
    {
        var scope = code is null ? "All handshake codes" : "Handshake code " + code;
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        html.Append(CultureInfo.InvariantCulture, $"<title>DLS usage report · {SvgCharts.Encode(scope)} · {Day(start)} – {Day(end.AddTicks(-1))}</title>");
        html.Append("<style>").Append(Css).Append("</style></head><body>");
        html.Append(CultureInfo.InvariantCulture, $"""
            <header><h1>Usage report</h1>
            <p class="scope">{SvgCharts.Encode(scope)} · {Stamp(start)} to {Stamp(end)} UTC (to exclusive) · per {interval.ToString().ToLowerInvariant()}</p>
            <p class="meta">Server {SvgCharts.Encode(server.Uuid)} · organization {SvgCharts.Encode(server.OrganizationId)} · generated {Stamp(now)} UTC by DLS {SvgCharts.Encode(server.Version)}</p></header>
            """);

        html.Append("<section><h2>Usage by item</h2><div class=\"cards\">");
        foreach (var (title, rows) in new[] { ("All history", history), ("Selected period", period), ("Today (UTC)", today) })
        {
            var slices = itemIds.Select(id => (id.Length == 0 ? "(none)" : id, rows.Where(r => r.ItemId == id).Sum(r => r.UsageCount), colors[id])).ToList();
            html.Append("<div class=\"card\"><h3>").Append(SvgCharts.Encode(title)).Append("</h3><div class=\"donut-row\">");
            html.Append(SvgCharts.Donut(slices, "count"));
            html.Append("<ul class=\"legend\">");
            var total = slices.Sum(s => s.Item2);
            foreach (var (label, value, color) in slices.Where(s => s.Item2 > 0))
            {
                html.Append(CultureInfo.InvariantCulture,
                    $"<li><span class=\"swatch\" style=\"background:{color}\"></span>{SvgCharts.Encode(label)} <b>{SvgCharts.Count(value)}</b> <span class=\"muted\">{SvgCharts.Number(Math.Round(100.0 * value / total, 1))} %</span></li>");
            }

            if (total == 0)
            {
                html.Append("<li class=\"muted\">No usage reported</li>");
            }

            html.Append("</ul></div>");
            html.Append(CultureInfo.InvariantCulture,
                $"<p class=\"facts\">Authorizations <b>{SvgCharts.Count(rows.Sum(r => r.Authorizations ?? 0))}</b> · failed <b>{SvgCharts.Count(rows.Sum(r => r.FailedAuthorizations ?? 0))}</b></p></div>");
        }

        html.Append("</div></section>");

        var periods = Periods(start, end, interval);
        var series = itemIds
            .Select(id => (id.Length == 0 ? "(none)" : id, colors[id], periods.Select(p => trend.Where(r => r.ItemId == id && r.PeriodStart == p.Start).Sum(r => r.UsageCount)).ToArray()))
            .Where(s => s.Item3.Any(v => v > 0))
            .ToList();
        html.Append(CultureInfo.InvariantCulture, $"<section><h2>Trend per {interval.ToString().ToLowerInvariant()}</h2>");
        html.Append(SvgCharts.StackedBars(periods.Select(p => p.Label).ToList(), series, "count"));
        html.Append("<ul class=\"legend inline\">");
        foreach (var (label, color, _) in series)
        {
            html.Append(CultureInfo.InvariantCulture, $"<li><span class=\"swatch\" style=\"background:{color}\"></span>{SvgCharts.Encode(label)}</li>");
        }

        html.Append(series.Count == 0 ? "<li class=\"muted\">No usage reported in this period</li>" : string.Empty).Append("</ul></section>");

        html.Append("<section><h2>Quota</h2><div class=\"cards gauges\">");
        foreach (var (item, quota) in items.Zip(quotas))
        {
            html.Append(CultureInfo.InvariantCulture, $"""
                <div class="card gauge-card"><h3><span class="swatch" style="background:{colors[item.ItemId]}"></span>{SvgCharts.Encode(item.ItemId)}</h3>
                {SvgCharts.Gauge(quota.PercentUsed, item.ItemId + " quota")}
                <p class="facts"><b>{SvgCharts.Count(quota.Used)}</b> of {SvgCharts.Count(quota.Quantity)} used · {SvgCharts.Encode(item.Mode.ToString())}</p>
                <p class="muted">{SvgCharts.Encode(item.Product)} {SvgCharts.Encode(item.Version)} {SvgCharts.Encode(item.Deployment.ToString())} · expires {item.ExpirationDate:yyyy-MM-dd}</p></div>
                """);
        }

        html.Append(items.Count == 0 ? "<p class=\"muted\">No license items.</p>" : string.Empty).Append("</div></section>");

        if (codes.Count > 0)
        {
            html.Append("<section><h2>By handshake code (selected period)</h2><table><thead><tr><th>Handshake code</th><th class=\"num\">Usage count</th><th class=\"num\">Devices</th><th class=\"num\">Peak concurrent</th><th class=\"num\">Authorizations</th><th class=\"num\">Failed</th></tr></thead><tbody>");
            foreach (var row in codes)
            {
                html.Append(CultureInfo.InvariantCulture,
                    $"<tr><td>{SvgCharts.Encode(row.HandshakeCode is { Length: > 0 } c ? c : "(none)")}</td>{Cell(row.UsageCount)}{Cell(row.Devices)}{Cell(row.PeakConcurrent)}{Cell(row.Authorizations)}{Cell(row.FailedAuthorizations)}</tr>");
            }

            html.Append("</tbody></table></section>");
        }

        html.Append(CultureInfo.InvariantCulture, $"<section><h2>Detail per {interval.ToString().ToLowerInvariant()} and item</h2>");
        html.Append("<table id=\"detail\"><thead><tr><th>Period start (UTC)</th><th>Item</th><th class=\"num\">Usage count</th><th class=\"num\">Devices</th><th class=\"num\">Peak concurrent</th><th class=\"num\">Peak instances</th><th class=\"num\">Authorizations</th><th class=\"num\">Failed</th></tr></thead><tbody>");
        foreach (var row in trend)
        {
            html.Append(CultureInfo.InvariantCulture,
                $"<tr><td>{Stamp(new DateTimeOffset(row.PeriodStart))}</td><td>{SvgCharts.Encode(row.ItemId is { Length: > 0 } id ? id : "(none)")}</td>{Cell(row.UsageCount)}{Cell(row.Devices)}{Cell(row.PeakConcurrent)}{Cell(row.PeakInstances)}{Cell(row.Authorizations)}{Cell(row.FailedAuthorizations)}</tr>");
        }

        if (trend.Count == 0)
        {
            html.Append("<tr><td colspan=\"8\" class=\"muted\">No usage or authorizations in this period.</td></tr>");
        }

        html.Append("</tbody></table></section>");
        html.Append("<footer>Counts are reported usage; devices are distinct devices that reported usage; peak concurrent is the busiest 3-minute slice. Authorizations include refused ones.</footer>");
        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static List<(DateTime Start, string Label)> Periods(DateTimeOffset start, DateTimeOffset end, UsageInterval interval)
    {
        var grain = (UsageGrain)(int)interval;
        var a = UsagePeriods.Ceiling(UsageGrain.Slice, UsagePeriods.ToSeconds(start));
        var b = UsagePeriods.Ceiling(UsageGrain.Slice, UsagePeriods.ToSeconds(end));
        var list = new List<(DateTime, string)>();
        for (var p = UsagePeriods.Floor(grain, a); p < b; p = UsagePeriods.Next(grain, p))
        {
            // Query rows start at the range start when the first period is cut by it.
            var shown = UsagePeriods.ToUtc(Math.Max(p, a));
            var label = interval switch
            {
                UsageInterval.Hour => UsagePeriods.ToUtc(p).ToString("MM-dd HH:00", CultureInfo.InvariantCulture),
                UsageInterval.Month => UsagePeriods.ToUtc(p).ToString("yyyy-MM", CultureInfo.InvariantCulture),
                _ => UsagePeriods.ToUtc(p).ToString("MM-dd", CultureInfo.InvariantCulture),
            };
            list.Add((shown, label));
        }

        return list;
    }

    private static string Cell(long? value) => value is null ? "<td></td>" : $"<td class=\"num\">{SvgCharts.Count(value.Value)}</td>";

    private static string Stamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    private static string Day(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private const string Css = """
        :root { color-scheme: light; }
        body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; margin: 0; padding: 24px 32px; color: #212529; background: #f6f7f9; }
        header h1 { margin: 0 0 4px; font-size: 26px; }
        .scope { margin: 0; font-size: 16px; font-weight: 600; color: #2f3e56; }
        .meta, .muted { color: #6c757d; font-size: 13px; }
        section { background: #fff; border: 1px solid #e3e6ea; border-radius: 10px; padding: 16px 20px; margin: 18px 0; }
        h2 { font-size: 18px; margin: 0 0 12px; }
        h3 { font-size: 15px; margin: 0 0 8px; display: flex; align-items: center; gap: 6px; }
        .cards { display: flex; flex-wrap: wrap; gap: 16px; }
        .card { flex: 1 1 300px; border: 1px solid #eef0f3; border-radius: 8px; padding: 12px 14px; }
        .gauge-card { flex: 0 1 210px; text-align: center; }
        .gauge-card h3 { justify-content: center; }
        .donut-row { display: flex; align-items: center; gap: 14px; }
        .legend { list-style: none; padding: 0; margin: 0; font-size: 13px; }
        .legend li { margin: 3px 0; }
        .legend.inline li { display: inline-block; margin-right: 16px; }
        .swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
        .facts { font-size: 13px; margin: 8px 0 2px; }
        .donut-total { font-size: 24px; font-weight: 700; fill: #212529; }
        .donut-label, .axis { font-size: 12px; fill: #6c757d; }
        .gauge-value { font-size: 22px; font-weight: 700; }
        .grid { stroke: #eef0f3; } .baseline { stroke: #adb5bd; }
        table { border-collapse: collapse; width: 100%; font-size: 13px; }
        th, td { padding: 6px 10px; border-bottom: 1px solid #eef0f3; text-align: left; }
        th { background: #f1f3f5; font-weight: 600; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        tbody tr:nth-child(even) { background: #fafbfc; }
        footer { color: #6c757d; font-size: 12px; margin-top: 8px; }
        """;
}
