using System.Collections.Frozen;
using BenchmarkDotNet.Attributes;
using Tessera.Core.Access;

namespace Tessera.Bench;

/// <summary>
/// EffectiveAccess.Decide for a user with 20 roles × 50 rules, against the floor of an empty method and
/// one frozen-dictionary lookup.
/// </summary>
[MemoryDiagnoser]
public class AccessBenchmarks
{
    private EffectiveAccess access = EffectiveAccess.None;
    private FrozenDictionary<string, bool> dictionary = FrozenDictionary<string, bool>.Empty;

    [GlobalSetup]
    public void Setup()
    {
        var grants = new List<RoleGrant>();
        for (var r = 0; r < 20; r++)
        {
            var rules = new List<PermissionRule>();
            for (var i = 0; i < 50; i++)
            {
                var effect = i % 10 == 9 ? PermissionEffect.Deny : PermissionEffect.Allow;
                rules.Add(new PermissionRule($"section{r}.area{i}", i % 3 == 0 ? "*" : "edit", effect));
            }

            grants.Add(new RoleGrant($"Role {r}", [$"PRIVILEGE_{r}"], rules, r % 4 == 0 ? $"Group {r}" : null));
        }

        access = EffectiveAccess.Compile(grants);
        dictionary = Enumerable.Range(0, 1000).ToFrozenDictionary(i => $"section{i / 50}.area{i % 50}", i => i % 2 == 0);
    }

    [Benchmark(Baseline = true)]
    public void EmptyMethod()
    {
    }

    [Benchmark]
    public bool DictionaryLookup() => dictionary.TryGetValue("section7.area21", out var allowed) && allowed;

    [Benchmark]
    public bool DecideAllowed() => access.Decide("section7.area21", "edit").Allowed;

    [Benchmark]
    public bool DecideDenied() => access.Decide("section7.area19", "edit").Allowed;

    [Benchmark]
    public bool DecideNoRule() => access.Decide("elsewhere.unknown", "view").Allowed;
}
