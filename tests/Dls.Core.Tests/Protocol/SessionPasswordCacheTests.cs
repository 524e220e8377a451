using Dls.Core.Crypto;

namespace Dls.Core.Tests.Protocol;

public sealed class SessionPasswordCacheTests
{
    [Fact]
    public void New_hashes_follow_owasp_and_old_ones_still_verify()
    {
        var hash = SessionPasswords.Hash("secret");

        Assert.StartsWith("pbkdf2-sha256$600000$", hash, StringComparison.Ordinal);
        Assert.True(SessionPasswords.Verify(hash, "secret"));
        Assert.False(SessionPasswords.Verify(hash, "Secret"));
    }

    [Fact]
    public void A_full_cache_drops_the_entry_used_longest_ago_not_everything()
    {
        var cache = new SessionPasswordCache(capacity: 2);
        var hash = SessionPasswords.Hash("p1");

        Assert.True(cache.Verify("c", hash, "p1"));
        Assert.False(cache.Verify("c", hash, "p2"));
        Assert.True(cache.Verify("c", hash, "p1"));   // p1 is now the most recent
        Assert.False(cache.Verify("c", hash, "p3"));  // evicts p2

        Assert.Equal(2, cache.Count);
        Assert.True(cache.IsCached("c", hash, "p1"));
        Assert.True(cache.IsCached("c", hash, "p3"));
        Assert.False(cache.IsCached("c", hash, "p2"));
    }

    [Fact]
    public void Concurrent_first_checks_of_one_password_share_one_remembered_result()
    {
        var cache = new SessionPasswordCache();
        var hash = SessionPasswords.Hash("p");
        var results = new bool[8];

        Parallel.For(0, results.Length, i => results[i] = cache.Verify("c", hash, "p"));

        Assert.All(results, Assert.True);
        Assert.Equal(1, cache.Count);
    }
}
