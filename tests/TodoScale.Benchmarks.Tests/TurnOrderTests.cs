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

    [Fact(Timeout = TestTimeouts.Quick)]
    public void paired_turns_put_each_twin_after_each_twin_of_the_other_family_equally_often_counting_the_previous_rounds_last_turn()
    {
        string[] layouts = ["b-small", "b-grown", "t-small", "t-grown"];
        var rounds = 2 * TurnOrder.PairedCycleLength;
        // The turns of consecutive rounds as the stage runs them: one sequence, so a round's first turn follows the
        // previous round's last.
        var turns = Enumerable.Range(0, rounds).SelectMany(r => TurnOrder.Paired(layouts, r)).ToList();
        Assert.All(turns.Chunk(4), round => Assert.Equal(layouts.Order(), round.Order()));

        // One full cycle of turns, each with the turn before it (for the cycle's first: the previous cycle's last).
        var follows = Enumerable.Range(4, 4 * TurnOrder.PairedCycleLength).Select(i => (Before: turns[i - 1], After: turns[i])).ToList();
        Assert.DoesNotContain(follows, f => f.Before[0] == f.After[0]);
        var counts = follows.CountBy(f => f).ToDictionary();
        foreach (var after in layouts)
        {
            var others = layouts.Where(l => l[0] != after[0]).Select(before => counts.GetValueOrDefault((before, after))).ToList();
            Assert.True(others.Distinct().Count() == 1, $"{after} follows the other family's twins {string.Join("/", others)} times");
        }

        // Each TodoScale twin takes each of its family's places equally often.
        foreach (var twin in new[] { "t-small", "t-grown" })
        {
            var places = Enumerable.Range(0, rounds).Select(r => TurnOrder.Paired(layouts, r).ToList().IndexOf(twin)).CountBy(p => p).Select(p => p.Value).Distinct();
            Assert.Single(places);
        }
    }

    [Fact(Timeout = TestTimeouts.Quick)]
    public void the_rotating_order_leaves_twins_unbalanced_once_the_previous_rounds_last_turn_counts()
    {
        // Why the growth stage does not use ForRound: over its 9 rounds the grown TodoScale layout followed a single-table
        // turn 7 times, its small twin 4.
        string[] layouts = ["b-small", "b-grown", "t-small", "t-grown"];
        var turns = Enumerable.Range(0, 9).SelectMany(r => TurnOrder.ForRound(layouts, r)).ToList();
        int AfterSingleTable(string twin) => turns.Select((t, i) => i > 0 && t == twin && turns[i - 1][0] == 'b').Count(x => x);
        Assert.Equal((7, 4), (AfterSingleTable("t-grown"), AfterSingleTable("t-small")));
    }
}
