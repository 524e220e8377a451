using System.Diagnostics;

namespace Dls.Tests;

/// <summary>
/// Waiting for something in a test: the condition is polled until it holds or the deadline passes, so a test waits
/// exactly as long as it must and never passes on a guess of how long something takes (no fixed sleeps).
/// </summary>
public static class Eventually
{
    /// <summary>How often the condition is asked.</summary>
    public static readonly TimeSpan Every = TimeSpan.FromMilliseconds(25);

    /// <summary>Whether <paramref name="condition"/> held within <paramref name="timeout"/> (asked once more at the deadline).</summary>
    public static Task<bool> Until(Func<bool> condition, TimeSpan timeout) =>
        Until(() => Task.FromResult(condition()), timeout);

    /// <inheritdoc cref="Until(Func{bool}, TimeSpan)"/>
    public static async Task<bool> Until(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var late = clock.Elapsed >= timeout;
            if (await condition())
            {
                return true;
            }

            if (late)
            {
                return false;
            }

            await Task.Delay(Every);
        }
    }
}
