namespace TodoScale.Benchmarks.Tests;

/// <summary>The order in which a cell's layouts take their turns, round after round.</summary>
public sealed class TurnOrderTests
{
    [Theory(Timeout = TestTimeouts.Quick)]
    [InlineData(4, 4)]
    [InlineData(6, 6)]
    [InlineData(7, 14)]
    public void over_a_full_cycle_each_layout_takes_every_place_and_follows_every_other_layout_equally_often(int count, int cycle)
    {
        var layouts = Enumerable.Range(0, count).Select(i => $"layout{i}").ToArray();
        var rounds = Enumerable.Range(0, cycle).Select(r => TurnOrder.ForRound(layouts, r).ToList()).ToList();

        foreach (var order in rounds)
        {
            Assert.Equal(layouts, order.Order());
        }

        foreach (var layout in layouts)
        {
            var places = rounds.Select(order => order.IndexOf(layout)).CountBy(p => p).ToList();
            Assert.Equal(count, places.Count);
            Assert.All(places, p => Assert.Equal(cycle / count, p.Value));

            var predecessors = rounds
                .Select(order => order.IndexOf(layout))
                .Zip(rounds, (place, order) => place > 0 ? order[place - 1] : null)
                .OfType<string>()
                .CountBy(p => p)
                .ToList();
            Assert.Equal(count - 1, predecessors.Count);
            Assert.All(predecessors, p => Assert.Equal(cycle / count, p.Value));
        }
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public void the_first_round_keeps_the_stage_order_for_two_layouts_and_the_second_swaps_them()
    {
        string[] layouts = ["b", "final"];
        Assert.Equal(layouts, TurnOrder.ForRound(layouts, 0));
        Assert.Equal(["final", "b"], TurnOrder.ForRound(layouts, 1));
    }
}
