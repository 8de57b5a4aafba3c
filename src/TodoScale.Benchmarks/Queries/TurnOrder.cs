namespace TodoScale.Benchmarks;

/// <summary>
/// The order in which a cell's layouts take their turns in one round. A fixed order made each layout always follow
/// the same neighbour, so a layout measured after one that evicts shared_buffers (an unclustered single table reading
/// a page per row) always started colder, and the ratio between two layouts carried their places in the queue; merely
/// rotating the start keeps every layout behind the same neighbour. The rounds follow a Williams design (a balanced
/// Latin square): over n rounds for n layouts (2n when n is odd) each layout takes every place equally often and is
/// preceded by every other layout equally often.
/// </summary>
public static class TurnOrder
{
    public static IReadOnlyList<T> ForRound<T>(IReadOnlyList<T> layouts, int round)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        var n = layouts.Count;
        if (n < 2)
        {
            return layouts;
        }

        // Row r of the square: r + 0, r + 1, r - 1, r + 2, r - 2, ... (mod n).
        var row = round % n;
        var order = new T[n];
        for (var j = 0; j < n; j++)
        {
            var offset = j % 2 == 1 ? (j + 1) / 2 : n - j / 2;
            order[j] = layouts[(row + offset) % n];
        }

        // With an odd count one square leaves some pairs adjacent twice and others never; its mirror evens them out.
        if (n % 2 == 1 && round / n % 2 == 1)
        {
            Array.Reverse(order);
        }

        return order;
    }

    // Rounds of Paired: indices into (x0, x1, y0, y1). Each twin of one family is preceded by each twin of the other
    // once per cycle, counting the previous round's last turn, and never by its own twin.
    private static readonly int[][] PairedCycle = [[0, 2, 1, 3], [1, 2, 0, 3], [0, 3, 1, 2], [1, 3, 0, 2]];

    /// <summary>The length of <see cref="Paired{T}"/>'s cycle: a stage balanced by it runs a multiple of this many rounds.</summary>
    public const int PairedCycleLength = 4;

    /// <summary>
    /// The order for two families of twins (x0, x1, y0, y1: a layout with its small and its grown history, say), where a
    /// ratio is taken between twins. <see cref="ForRound{T}"/> balances the neighbours within a round only; with the
    /// previous round's last turn counted, over 9 rounds it put the grown TodoScale layout right after a single-table
    /// turn (which evicts shared_buffers) 7 times and its small twin 4 times, and a cache-sensitive cell (the skewed
    /// users' dashboard, 0.1 s of warm-up) read 1.24x for the history alone. Here the families alternate, and over each
    /// cycle of <see cref="PairedCycleLength"/> rounds every twin follows each twin of the other family equally often.
    /// </summary>
    public static IReadOnlyList<T> Paired<T>(IReadOnlyList<T> layouts, int round)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(round);
        if (layouts.Count != 4)
        {
            throw new ArgumentException("paired turns need two families of two twins (4 layouts)", nameof(layouts));
        }

        return PairedCycle[round % PairedCycleLength].Select(i => layouts[i]).ToList();
    }
}
