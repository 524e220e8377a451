using Dls.Core.Server;
using Dls.Core.Storage;
using Microsoft.Extensions.Time.Testing;

namespace Dls.Core.Tests;

/// <summary>A real store file in a fresh temporary folder, removed afterwards.</summary>
public sealed class TempStore : IDisposable
{
    public TempStore()
    {
        Folder = Directory.CreateTempSubdirectory("dls-test-").FullName;
        Path = System.IO.Path.Combine(Folder, "dls.db");
        Clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero));
    }

    public string Folder { get; }

    public string Path { get; }

    public FakeTimeProvider Clock { get; }

    public DlsStore Open() => DlsStore.OpenOrCreate(Path);

    /// <summary>A store with a server identity, as Initialize-DlsServer leaves it.</summary>
    public DlsStore Initialized(string organizationId = "216998")
    {
        var store = Open();
        new ServerService(store, Clock).Initialize(organizationId, force: false);
        return store;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
