using System.Globalization;
using System.Net;
using System.Text;

namespace Dls.Core.Usage;

/// <summary>
/// The report's pictures as inline SVG, drawn here rather than by a JavaScript charting library: the file then
/// opens anywhere without network or scripts (mail attachments, locked-down browsers), prints as drawn, and DLS
/// ships and patches no third-party front-end code.
/// </summary>
internal static class SvgCharts
{
    public static readonly string[] Palette =
        ["#2f6fde", "#e8702a", "#1b9e77", "#c23b80", "#7a5cc9", "#d4a017", "#17a2b8", "#8c564b", "#5b8c2a", "#e377c2", "#6c757d", "#b8860b"];

    public static string Color(int index) => Palette[index % Palette.Length];

    public static string Number(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Encode(string text) => WebUtility.HtmlEncode(text);

    /// <summary>A donut of shares with the total in the middle.</summary>
    public static string Donut(IReadOnlyList<(string Label, long Value, string Color)> slices, string centerLabel)
    {
        const double size = 180, radius = 70, stroke = 28, c = size / 2;
        var total = slices.Sum(s => s.Value);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg class=\"donut\" viewBox=\"0 0 {size} {size}\" width=\"{size}\" height=\"{size}\" role=\"img\" aria-label=\"{Encode(centerLabel)}\">");
        svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{c}\" cy=\"{c}\" r=\"{radius}\" fill=\"none\" stroke=\"#e9ecef\" stroke-width=\"{stroke}\"/>");
        if (total > 0)
        {
            var circumference = 2 * Math.PI * radius;
            double offset = 0;
            foreach (var (label, value, color) in slices.Where(s => s.Value > 0))
            {
                var length = circumference * value / total;
                svg.Append(CultureInfo.InvariantCulture,
                    $"<circle cx=\"{c}\" cy=\"{c}\" r=\"{radius}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{stroke}\" stroke-dasharray=\"{Number(length)} {Number(circumference - length)}\" stroke-dashoffset=\"{Number(-offset)}\" transform=\"rotate(-90 {c} {c})\"><title>{Encode(label)}: {Count(value)}</title></circle>");
                offset += length;
            }
        }

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{c}\" y=\"{c - 2}\" text-anchor=\"middle\" class=\"donut-total\">{Count(total)}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{c}\" y=\"{c + 18}\" text-anchor=\"middle\" class=\"donut-label\">{Encode(centerLabel)}</text>");
        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>Stacked bars per period with a y axis of round numbers and thinned x labels.</summary>
    public static string StackedBars(IReadOnlyList<string> periods, IReadOnlyList<(string Label, string Color, long[] Values)> series, string yTitle)
    {
        const double width = 1100, height = 320, left = 64, right = 16, top = 16, bottom = 56;
        var plotWidth = width - left - right;
        var plotHeight = height - top - bottom;
        var totals = Enumerable.Range(0, periods.Count).Select(i => series.Sum(s => s.Values[i])).ToArray();
        var max = NiceMax(totals.DefaultIfEmpty(0).Max());
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg class=\"trend\" viewBox=\"0 0 {width} {height}\" width=\"100%\" role=\"img\" aria-label=\"{Encode(yTitle)} per period\">");
        for (var t = 0; t <= 4; t++)
        {
            var value = max * t / 4;
            var y = top + plotHeight - plotHeight * t / 4;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{Number(y)}\" y2=\"{Number(y)}\" class=\"grid\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 8}\" y=\"{Number(y + 4)}\" text-anchor=\"end\" class=\"axis\">{Count(value)}</text>");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{Number(top + plotHeight / 2)}\" transform=\"rotate(-90 14 {Number(top + plotHeight / 2)})\" text-anchor=\"middle\" class=\"axis\">{Encode(yTitle)}</text>");
        var slot = periods.Count == 0 ? plotWidth : plotWidth / periods.Count;
        var barWidth = Math.Max(1, slot * 0.72);
        var labelEvery = Math.Max(1, (int)Math.Ceiling(periods.Count / 14.0));
        for (var i = 0; i < periods.Count; i++)
        {
            var x = left + slot * i + (slot - barWidth) / 2;
            double stacked = 0;
            foreach (var (label, color, values) in series)
            {
                if (values[i] <= 0)
                {
                    continue;
                }

                var h = max == 0 ? 0 : plotHeight * values[i] / (double)max;
                var y = top + plotHeight - stacked - h;
                svg.Append(CultureInfo.InvariantCulture,
                    $"<rect x=\"{Number(x)}\" y=\"{Number(y)}\" width=\"{Number(barWidth)}\" height=\"{Number(h)}\" fill=\"{color}\"><title>{Encode(periods[i])} · {Encode(label)}: {Count(values[i])}</title></rect>");
                stacked += h;
            }

            if (i % labelEvery == 0)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Number(left + slot * i + slot / 2)}\" y=\"{height - bottom + 18}\" text-anchor=\"middle\" class=\"axis\">{Encode(periods[i])}</text>");
            }
        }

        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{top + plotHeight}\" y2=\"{top + plotHeight}\" class=\"baseline\"/>");
        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>A half-circle gauge: used of quantity, in the item's own unit; red once the quantity is reached.</summary>
    public static string Gauge(double percent, string caption)
    {
        const double width = 180, height = 110, cx = 90, cy = 95, r = 70;
        var shown = Math.Clamp(percent, 0, 100);
        var angle = Math.PI * (1 - shown / 100);
        var (x, y) = (cx + r * Math.Cos(angle), cy - r * Math.Sin(angle));
        var color = percent >= 100 ? "#d62828" : percent >= 80 ? "#f08c00" : "#2b9348";
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg class=\"gauge\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{Encode(caption)}\">");
        svg.Append(CultureInfo.InvariantCulture, $"<path d=\"M {cx - r} {cy} A {r} {r} 0 0 1 {cx + r} {cy}\" fill=\"none\" stroke=\"#e9ecef\" stroke-width=\"18\" stroke-linecap=\"round\"/>");
        if (shown > 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<path d=\"M {cx - r} {cy} A {r} {r} 0 0 1 {Number(x)} {Number(y)}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"18\" stroke-linecap=\"round\"/>");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{cx}\" y=\"{cy - 8}\" text-anchor=\"middle\" class=\"gauge-value\" fill=\"{color}\">{Number(Math.Round(percent, 1))} %</text>");
        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>The smallest 1, 2 or 5 × 10^n at or above <paramref name="value"/> (at least 1), so the axis reads well.</summary>
    private static long NiceMax(long value)
    {
        if (value <= 1)
        {
            return 1;
        }

        var magnitude = (long)Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var step in new[] { 1, 2, 4, 5, 10 })
        {
            if (step * magnitude >= value)
            {
                return step * magnitude;
            }
        }

        return 10 * magnitude;
    }
}
