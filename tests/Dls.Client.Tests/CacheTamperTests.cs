namespace Dls.Client.Tests;

/// <summary>
/// The on-disk authorization is the server's signed token: a cache file with any one byte changed is refused (and
/// removed) by the client, whatever the byte.
/// </summary>
public sealed class CacheTamperTests
{
    private const string Base64UrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    [Fact]
    public async Task A_cached_authorization_with_any_one_byte_changed_is_refused()
    {
        await using var scene = await ClientScene.StartAsync();
        var online = scene.NewClient(out _);
        await online.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);
        Assert.Equal(0, await scene.Main.TerminateAsync());

        var file = Assert.Single(Directory.GetFiles(Path.Combine(online.CacheFolder, "auth")));
        var original = File.ReadAllBytes(file);
        Assert.True((await AuthorizeOfflineAsync(scene)).FromCache, "the untouched cache must serve");

        var accepted = new List<int>();
        for (var i = 0; i < original.Length; i++)
        {
            var changed = (byte[])original.Clone();
            changed[i] = Changed(original[i]);
            File.WriteAllBytes(file, changed);
            var client = scene.NewClient(out var events);
            var refused = await Record.ExceptionAsync(() => client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop));
            if (refused is not DlsClientException { ErrorCode: DlsClientException.Unreachable })
            {
                accepted.Add(i);
                continue;
            }

            Assert.Contains(events, e => e.Kind == DlsClientEventKind.CacheRejected);
            Assert.False(File.Exists(file), $"the changed cache file (byte {i}) was kept");
        }

        Assert.True(accepted.Count == 0, $"{accepted.Count} of {original.Length} one-byte changes were accepted, at {string.Join(", ", accepted)}");

        // The original still serves: the refusals were the changes, not the place.
        File.WriteAllBytes(file, original);
        Assert.True((await AuthorizeOfflineAsync(scene)).FromCache);
    }

    private static Task<DlsAuthorization> AuthorizeOfflineAsync(ClientScene scene) =>
        scene.NewClient(out _).AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);

    /// <summary>Another character of the same kind where there is one (a base64url character stays base64url), else another byte.</summary>
    private static byte Changed(byte value)
    {
        var index = Base64UrlAlphabet.IndexOf((char)value);
        return index >= 0 ? (byte)Base64UrlAlphabet[(index + 1) % Base64UrlAlphabet.Length] : (byte)(value ^ 0x01);
    }
}
