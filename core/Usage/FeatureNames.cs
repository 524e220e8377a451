using Dls.Core.Storage;

namespace Dls.Core.Usage;

/// <summary>
/// Caps the distinct feature names an item's statistics keep. Feature roll-ups are kept for ever, one row per name
/// and period, so a client that invents a new name in every report would grow the store without bound. The first
/// <see cref="MaxPerItem"/> names an item sees are kept as they are; later new names are counted under
/// <see cref="Other"/>, so no count is lost. The writer's copy of the known names is a cache of the
/// <c>feature_name</c> table (one thread at a time, like the writer's connection).
/// </summary>
public sealed class FeatureNames
{
    public const int MaxPerItem = 256;

    /// <summary>The name that new feature names of an item over the cap are counted under.</summary>
    public const string Other = "(other)";

    private readonly Dictionary<string, HashSet<string>> _known = new(StringComparer.Ordinal);

    /// <summary>The record's features with names over the item's cap folded into <see cref="Other"/>; registers new names.</summary>
    public IReadOnlyDictionary<string, long>? Admit(UnitOfWork work, string itemId, IReadOnlyDictionary<string, long>? features)
    {
        if (features is null || features.Count == 0)
        {
            return features;
        }

        var known = Known(work, itemId);
        Dictionary<string, long>? folded = null;
        foreach (var (name, count) in features)
        {
            if (known.Contains(name))
            {
                continue;
            }

            if (known.Count < MaxPerItem)
            {
                work.Stores.Usage.AddFeatureName(work, itemId, name);
                known.Add(name);
                continue;
            }

            folded ??= new Dictionary<string, long>(features, StringComparer.Ordinal);
            folded.Remove(name);
            folded[Other] = folded.GetValueOrDefault(Other) + count;
        }

        return folded ?? features;
    }

    /// <summary>The writer rolled back: names registered since the last commit may not be in the store.</summary>
    public void Forget() => _known.Clear();

    private HashSet<string> Known(UnitOfWork work, string itemId)
    {
        if (!_known.TryGetValue(itemId, out var names))
        {
            names = new HashSet<string>(work.Stores.Usage.FeatureNames(work, itemId), StringComparer.Ordinal);
            _known[itemId] = names;
        }

        return names;
    }
}
