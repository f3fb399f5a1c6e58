using CsCheck;
using Tmpfs.Shmem;

namespace Tmpfs.Tests.Properties;

/// <summary>The page cache radix tree against a dictionary model, including huge sparse indices.</summary>
public sealed class PageCacheTreeTests
{
    private static readonly Gen<long> Index = Gen.OneOf(
        Gen.Long[0, 200],
        Gen.Long[0, long.MaxValue >> 12],
        Gen.Int[0, 51].Select(b => 1L << b),
        Gen.Int[1, 51].Select(b => (1L << b) - 1));

    [Fact]
    public void TreeMatchesDictionary()
    {
        Gen.Select(Index, Gen.Long[-5, 5]).Array[1, 200].Sample(ops =>
        {
            var tree = default(PageCacheTree);
            var model = new SortedDictionary<long, long>();
            foreach (var (index, value) in ops)
            {
                var old = tree.Set(index, value);
                Assert.Equal(model.GetValueOrDefault(index), old);
                if (value == 0)
                {
                    model.Remove(index);
                }
                else
                {
                    model[index] = value;
                }

                Assert.Equal(model.Count, tree.Count);
            }

            foreach (var (index, value) in model)
            {
                Assert.Equal(value, tree.Get(index));
            }

            // NextPresent visits exactly the model's keys, in order.
            var seen = new List<long>();
            long from = 0;
            while (tree.NextPresent(from, long.MaxValue, out var found, out var entry))
            {
                Assert.Equal(model[found], entry);
                seen.Add(found);
                from = found + 1;
            }

            Assert.Equal(model.Keys, seen);
        }, iter: 300);
    }
}
