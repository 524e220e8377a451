using System.Text;

namespace Dls.Bench;

/// <summary>
/// The current and previous 3-minute UTC slice (SPEC §4) as the 20 ASCII bytes a report record carries. Report
/// records alternate between the two, as a client that reports a slice just after it ends would; nothing is in the
/// future for the listener, whose clock is this machine's.
/// </summary>
public sealed class SliceClock
{
    private static readonly long SliceTicks = TimeSpan.FromMinutes(3).Ticks;

    private Slices _slices = Make(DateTime.UtcNow.Ticks);

    public sealed record Slices(long UntilTicks, byte[] Current, byte[] Previous);

    public Slices Now()
    {
        var slices = Volatile.Read(ref _slices);
        var now = DateTime.UtcNow.Ticks;
        if (now < slices.UntilTicks)
        {
            return slices;
        }

        // Several connections may remake it at the boundary; each makes the same value.
        slices = Make(now);
        Volatile.Write(ref _slices, slices);
        return slices;
    }

    private static Slices Make(long nowTicks)
    {
        var start = nowTicks - (nowTicks % SliceTicks);
        return new Slices(start + SliceTicks, Format(start), Format(start - SliceTicks));
    }

    private static byte[] Format(long ticks) =>
        Encoding.ASCII.GetBytes(new DateTime(ticks, DateTimeKind.Utc).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture));
}
