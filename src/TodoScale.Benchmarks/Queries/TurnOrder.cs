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
}
