using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.IO;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Dls.Client.Internal;

namespace Dls.Client;

/// <summary>
/// The client an SDK embeds to use a DLS license server (docs/client.md): authorizes with the server named in the
/// license key (the standby when the main does not answer), keeps the signed authorization on disk to work offline
/// until its <c>cacheUntil</c>, sums usage per 3-minute slice and reports it in batches that stay on disk until the
/// server acknowledges them. Thread-safe; create one per application and license key, and dispose it at exit (that
/// sends what is left).
/// </summary>
public sealed class DlsClient : IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan DefaultReportInterval = TimeSpan.FromSeconds(180);

    // How long an authorization served from the cache is reused before the servers are asked again: offline, each
    // attempt may wait a request timeout per server, which an application calling AuthorizeAsync often must not pay.
    private static readonly TimeSpan OfflineRetryInterval = TimeSpan.FromSeconds(30);

    // A grant older than this is renewed at the next report: well inside the 7 days an authorization may be cached.
    private static readonly TimeSpan RenewAfter = TimeSpan.FromDays(1);

    // How often usage not yet sealed into a batch is written to the journal: what a killed process can lose at most.
    private static readonly TimeSpan JournalInterval = TimeSpan.FromSeconds(5);

    private readonly DlsLicenseKey _key;
    private readonly DlsClientOptions _options;
    private readonly ClientCache _cache;
    private readonly PendingBatches _pending;
    private readonly TokenVerifier _verifier;
    private readonly ServerRoute _route;
    private readonly UsageLedger _ledger = new();
    private readonly UsageJournal _journal;
    private readonly object _journalGate = new();
    private readonly Timer _journalTimer;
    private long _journaledVersion;
    private readonly ConcurrentDictionary<AuthRequestKey, Held> _held = new();
    private readonly SemaphoreSlim _flushGate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _gate = new();
    private readonly Random _jitter = new();
    private Task? _background;
    private long _clockOffsetTicks;
    private TimeSpan _reportInterval = DefaultReportInterval;
    private DateTimeOffset _nextSendAt = DateTimeOffset.MinValue;
    private int _disposed;

    private DlsClient(DlsLicenseKey key, DlsApplication application, DlsClientOptions options)
    {
        _key = key;
        Application = application;
        _options = options;
        _cache = new ClientCache(options.CacheFolder ?? ClientCache.DefaultRoot(), application.Name, key);
        _pending = new PendingBatches(_cache.PendingFolder);
        _verifier = new TokenVerifier(key.ServerPublicKey);
        _route = new ServerRoute(key, options, server => Raise(new DlsClientEventArgs(DlsClientEventKind.ServerChanged, $"Now served by {server}.") { Server = server }));
        DeviceUuid = _cache.DeviceUuid(out _);
        _journal = new UsageJournal(_cache.PendingFolder, DeviceUuid, key.HandshakeCode);
        AdoptOrphans();
        _journalTimer = new Timer(_ => SaveJournal(), null, JournalInterval, JournalInterval);

        // An application that exits without disposing the client still keeps what it recorded: it is sealed to disk and
        // sent by the next run. (A killed process loses at most what it recorded after the journal's last write.)
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    /// <summary>Something the client did or met: failover, cache use, batches stored, sent or refused. Handlers must not block.</summary>
    public event EventHandler<DlsClientEventArgs>? Event;

    /// <summary>The license key the client was created with.</summary>
    public DlsLicenseKey LicenseKey => _key;

    /// <summary>The application's identity.</summary>
    public DlsApplication Application { get; }

    /// <summary>This device's UUID (the <c>clientUuid</c> the server counts), generated once per user and kept in the cache folder.</summary>
    public string DeviceUuid { get; }

    /// <summary>The folder of this application's cache (authorizations and pending batches).</summary>
    public string CacheFolder => _cache.ApplicationFolder;

    /// <summary>The server that answered last, main or standby (null before the first answer).</summary>
    public Uri? CurrentServer => _route.Current;

    /// <summary>Batches on disk that no server has acknowledged yet (also those of earlier runs).</summary>
    public int PendingBatchCount => _pending.Count;

    /// <summary>
    /// A client for <paramref name="licenseKey"/> (the <c>DLS2...</c> string). Batches an earlier run left on disk are
    /// sent in the background right away (unless <see cref="DlsClientOptions.ReportInBackground"/> is off).
    /// </summary>
    /// <exception cref="FormatException">The license key is not one.</exception>
    /// <exception cref="ArgumentException">An option is out of range (a timeout or back-off of zero or less, a maximum back-off below the minimum).</exception>
    /// <exception cref="IOException">The cache folder cannot be created or its device id file cannot be written.</exception>
    /// <exception cref="UnauthorizedAccessException">The cache folder is not writable by this user.</exception>
    public static DlsClient Create(string licenseKey, DlsApplication application, DlsClientOptions? options = null)
    {
        if (application is null)
        {
            throw new ArgumentNullException(nameof(application));
        }

        options ??= new DlsClientOptions();
        options.Validate();
        var client = new DlsClient(DlsLicenseKey.Parse(licenseKey), application, options);
        if (client._options.ReportInBackground && client._pending.Count > 0)
        {
            client.StartBackground(TimeSpan.Zero);
        }

        return client;
    }

    /// <summary>
    /// Authorizes <paramref name="product"/> for this device: asks the server (main, else standby), and when none answers
    /// uses the cached authorization while it is valid (<see cref="DlsAuthorization.FromCache"/>). Within one report
    /// interval a repeated call answers from memory (within 30 s when the last answer came from the cache).
    /// </summary>
    /// <param name="product">The product, e.g. <c>DBR</c>.</param>
    /// <param name="version">The product's version; its major part is matched against the items (<c>10.4.2000</c> → 10).</param>
    /// <param name="deployment">Where the application runs.</param>
    /// <param name="edition">The edition, when the license distinguishes them.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="DlsClientException">The server refused (its errorCode), or none answered and no valid authorization is cached.</exception>
    public async Task<DlsAuthorization> AuthorizeAsync(string product, string version, DlsDeployment deployment, string? edition = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        if (string.IsNullOrWhiteSpace(product))
        {
            throw new ArgumentException("A product is required.", nameof(product));
        }

        if (string.IsNullOrWhiteSpace(version))
        {
            throw new ArgumentException("A version is required.", nameof(version));
        }

        var request = new AuthRequestKey(product, version, deployment, edition, Application.InstanceId);
        var now = Now();
        if (_held.TryGetValue(request, out var held) && held.RefusedCode is null && !held.Stale && held.Authorization.CacheUntil > ServerNow()
            && now - held.ReceivedAt < (held.Authorization.FromCache ? OfflineRetryInterval : _reportInterval))
        {
            return held.Authorization;
        }

        return await AuthorizeOnlineAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Records <paramref name="count"/> units of usage (scans, pages, ...; 1 by default) of an authorized product or item,
    /// with optional per-feature counts. Summed in memory per 3-minute slice and reported in the background every report
    /// interval, by <see cref="FlushAsync"/> and at dispose. Works offline: usage waits on disk until a server acknowledges it.
    /// </summary>
    /// <param name="itemIdOrProduct">The item id of an authorization, or its product.</param>
    /// <param name="count">Units used, 0 … 10⁹.</param>
    /// <param name="features">Counts per feature name (1–128 characters, no control characters).</param>
    /// <exception cref="InvalidOperationException">Nothing authorized matches <paramref name="itemIdOrProduct"/>: authorize first.</exception>
    /// <exception cref="DlsClientException">
    /// The server refused the product's authorization since (its errorCode), or its authorization ran out (cacheUntil)
    /// with no server to renew it (<see cref="DlsClientException.Unreachable"/>).
    /// </exception>
    public void Record(string itemIdOrProduct, long count = 1, IReadOnlyDictionary<string, long>? features = null)
    {
        ThrowIfDisposed();
        if (itemIdOrProduct is null)
        {
            throw new ArgumentNullException(nameof(itemIdOrProduct));
        }

        if (count < 0 || count > UsageLedger.MaxCount)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"A count is between 0 and {UsageLedger.MaxCount}.");
        }

        if (features is not null)
        {
            foreach (var feature in features)
            {
                if (string.IsNullOrEmpty(feature.Key) || feature.Key.Length > 128 || feature.Key.Any(char.IsControl))
                {
                    throw new ArgumentException($"The feature name '{feature.Key}' is empty, longer than 128 characters or holds control characters.", nameof(features));
                }

                if (feature.Value < 0 || feature.Value > UsageLedger.MaxCount)
                {
                    throw new ArgumentOutOfRangeException(nameof(features), feature.Value, $"The count of feature '{feature.Key}' is not between 0 and {UsageLedger.MaxCount}.");
                }
            }
        }

        var held = Find(itemIdOrProduct)
            ?? throw new InvalidOperationException($"'{itemIdOrProduct}' is not authorized on this client: call AuthorizeAsync for its product first.");
        if (held.RefusedCode is int refused)
        {
            throw new DlsClientException(refused, $"The server refused '{held.Authorization.Product}' (errorCode {refused}): {held.RefusedMessage}");
        }

        // Past cacheUntil no grant covers new usage: the server would refuse it (105) and it would be lost unseen.
        var serverNow = ServerNow();
        if (held.Authorization.CacheUntil <= serverNow)
        {
            throw new DlsClientException(
                DlsClientException.Unreachable,
                $"The authorization of '{held.Authorization.Product}' ran out at {held.Authorization.CacheUntil:u} (cacheUntil) without a server renewing it: authorize again once a server answers.");
        }

        _ledger.Add(TimeSlice.Start(serverNow), held.Authorization.ItemId, held.Authorization.Product, held.Request.InstanceId.Length == 0 ? null : held.Request.InstanceId, count, features);
    }

    /// <summary>
    /// Seals the usage recorded so far into batches on disk and sends every pending batch (this run's and earlier
    /// ones'). What no server acknowledges stays on disk for the next attempt; nothing is lost or counted twice.
    /// </summary>
    public async Task<DlsFlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return await FlushCoreAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops reporting in the background and sends what is left (within <see cref="DlsClientOptions.DisposeTimeout"/>; the rest stays on disk).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await StopBackgroundAsync().ConfigureAwait(false);
            using var timeout = new CancellationTokenSource(_options.DisposeTimeout);
            await FlushCoreAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Out of time: what was not sent is on disk (SealToDisk runs first in a flush; this covers one cut short).
            SealToDisk();
        }
        finally
        {
            Release();
        }
    }

    /// <summary>Stops reporting and writes the usage not yet sent to disk, without the network (it is sent on the next start).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            StopBackgroundAsync().ConfigureAwait(false).GetAwaiter().GetResult();
            _flushGate.Wait();
            try
            {
                SealToDisk();
            }
            finally
            {
                _flushGate.Release();
            }
        }
        finally
        {
            Release();
        }
    }

    /// <summary>The held authorization of an item id, else of a product (Record runs per scan: no snapshot of the dictionary).</summary>
    private Held? Find(string itemIdOrProduct)
    {
        Held? byProduct = null;
        foreach (var pair in _held)
        {
            if (string.Equals(pair.Value.Authorization.ItemId, itemIdOrProduct, StringComparison.Ordinal))
            {
                return pair.Value;
            }

            if (byProduct is null && string.Equals(pair.Value.Authorization.Product, itemIdOrProduct, StringComparison.OrdinalIgnoreCase))
            {
                byProduct = pair.Value;
            }
        }

        return byProduct;
    }

    private async Task<DlsAuthorization> AuthorizeOnlineAsync(AuthRequestKey request, CancellationToken cancellationToken)
    {
        var body = Wire.AuthBody(_key, Application, DeviceUuid, request, Guid.NewGuid().ToString("N"));
        ServerAnswer answer;
        try
        {
            answer = await _route.PostAsync("api/v1/auth", body, cancellationToken).ConfigureAwait(false);
        }
        catch (ServerUnreachableException unreachable)
        {
            return FromCacheOrThrow(request, unreachable.Message, DlsClientException.Unreachable, null, unreachable);
        }

        LearnClock(answer);
        if (!answer.IsSuccess)
        {
            var (code, message) = Wire.ReadError(answer.Status, answer.Body);
            if (answer.Status == 429)
            {
                return FromCacheOrThrow(request, $"{answer.Server} limits this device: {message}", code, answer.RetryAfterSeconds, null);
            }

            // A refusal in words: whatever was granted before no longer holds.
            Forget(request, code, message);
            Raise(new DlsClientEventArgs(DlsClientEventKind.AuthorizationRefused, $"{answer.Server} refused {request.Product} (errorCode {code}): {message}")
            {
                Server = answer.Server,
                ErrorCode = code,
            });
            throw new DlsClientException(code, message);
        }

        var receivedAt = Now();
        var token = ReadToken(answer.Body);
        var claims = token is null ? null : _verifier.Verify(token);
        if (claims is null || claims.ClientUuid != DeviceUuid || claims.HandshakeCode != _key.HandshakeCode)
        {
            throw new DlsClientException(
                DlsClientException.InvalidToken,
                $"{answer.Server} answered with an authorization that does not verify with the license key's server public key (or names another device or code): is it the server the key was issued by?");
        }

        var authorization = Authorization(request, claims, token!, fromCache: false, answer.Server);
        ClockOffset = claims.ServerTime - receivedAt;
        try
        {
            AtomicFile.Write(_cache.AuthPath(request), ClientCache.AuthFileContent(request, token!));
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            Raise(new DlsClientEventArgs(DlsClientEventKind.CacheProblem, $"The authorization could not be cached ({error.Message}); the client cannot work offline with it."));
        }

        _held[request] = new Held(request, authorization, receivedAt);
        SetReportInterval(claims.ReportIntervalSeconds);
        Raise(new DlsClientEventArgs(DlsClientEventKind.Authorized, $"{answer.Server} authorized {request.Product} with item {claims.ItemId} ({claims.Mode}) until {claims.GrantedUntil:u}; offline until {claims.CacheUntil:u}.")
        {
            Server = answer.Server,
        });
        EnsureBackground();
        return authorization;
    }

    private DlsAuthorization FromCacheOrThrow(AuthRequestKey request, string problem, int errorCode, int? retryAfter, Exception? inner)
    {
        var cached = LoadCached(request);
        if (cached is null)
        {
            throw new DlsClientException(errorCode, problem + " No valid authorization of " + request.Product + " is cached on this device.", inner) { RetryAfterSeconds = retryAfter };
        }

        _held[request] = new Held(request, cached, Now());
        SetReportInterval(cached.ReportIntervalSeconds);
        Raise(new DlsClientEventArgs(DlsClientEventKind.AuthorizedFromCache, $"{problem} Using the cached authorization of {request.Product} (item {cached.ItemId}), valid until {cached.CacheUntil:u}."));
        EnsureBackground();
        return cached;
    }

    /// <summary>The cached authorization of <paramref name="request"/> when its file is intact, verifies, is this device's and still valid.</summary>
    private DlsAuthorization? LoadCached(AuthRequestKey request)
    {
        var path = _cache.AuthPath(request);
        byte[]? content;
        try
        {
            content = AtomicFile.ReadOrNull(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            Raise(new DlsClientEventArgs(DlsClientEventKind.CacheProblem, $"The cached authorization '{path}' could not be read: {error.Message}"));
            return null;
        }

        if (content is null)
        {
            return null;
        }

        var token = ClientCache.TokenFromFile(content, request);
        var claims = token is null ? null : _verifier.Verify(token);
        if (claims is null || claims.ClientUuid != DeviceUuid || claims.HandshakeCode != _key.HandshakeCode)
        {
            AtomicFile.TryDelete(path);
            Raise(new DlsClientEventArgs(DlsClientEventKind.CacheRejected, $"The cached authorization of {request.Product} was changed or is not this device's; it was removed."));
            return null;
        }

        return claims.CacheUntil > ServerNow() ? Authorization(request, claims, token!, fromCache: true, server: null) : null;
    }

    private void Forget(AuthRequestKey request, int code, string message)
    {
        AtomicFile.TryDelete(_cache.AuthPath(request));
        if (_held.TryGetValue(request, out var held))
        {
            _held[request] = held.Refused(code, message);
        }
    }

    private async Task<DlsFlushResult> FlushCoreAsync(CancellationToken cancellationToken)
    {
        await _flushGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        DlsFlushResult result;
        DateTimeOffset? newestHandshake;
        try
        {
            SealToDisk();
            (result, newestHandshake) = await SendPendingAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _flushGate.Release();
        }

        // Authorizing again is for a client that goes on; one being disposed only delivers its usage.
        if (_disposed == 0)
        {
            if (newestHandshake is DateTimeOffset changedAt)
            {
                await ReauthorizeIfOlderAsync(changedAt, cancellationToken).ConfigureAwait(false);
            }

            await RenewAsync(cancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>
    /// Turns the usage summed in memory into batches on disk (at most 1000 records and well under the listener's 1 MiB
    /// body limit each), under the journal's batch id, and closes the journal (<see cref="UsageJournal"/>).
    /// </summary>
    private void SealToDisk()
    {
        lock (_journalGate)
        {
            var records = _ledger.Drain();
            try
            {
                foreach (var (batchId, count, units) in _journal.Seal(records, Now()))
                {
                    Raise(new DlsClientEventArgs(DlsClientEventKind.BatchStored, $"Stored batch {batchId} ({count} record(s), {units} unit(s)).") { BatchId = batchId });
                }

                if (_journal.Deferred is { } deferred)
                {
                    // The journal holds the records; the next seal (or the next process) writes their batches.
                    Raise(new DlsClientEventArgs(DlsClientEventKind.CacheProblem, $"Usage is in the journal in '{_cache.PendingFolder}' but its batches could not be written yet ({deferred.Message}); tried again at the next seal."));
                }
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                // Not even the journal could be written: the records stay in memory and are sealed again later.
                _ledger.Restore(records);
                Raise(new DlsClientEventArgs(DlsClientEventKind.CacheProblem, $"Usage could not be written to '{_cache.PendingFolder}' ({error.Message}); it is kept in memory and tried again."));
            }
        }
    }

    /// <summary>Writes the usage not yet sealed to the journal when it changed since the last time (every few seconds).</summary>
    private void SaveJournal()
    {
        lock (_journalGate)
        {
            if (_disposed != 0)
            {
                return;
            }

            var (records, version) = _ledger.Snapshot();
            if (version == _journaledVersion)
            {
                return;
            }

            try
            {
                _journal.Save(records, Now());
                _journaledVersion = version;
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                Raise(new DlsClientEventArgs(DlsClientEventKind.CacheProblem, $"Usage could not be journaled in '{_cache.PendingFolder}' ({error.Message}); it is kept in memory."));
            }
        }
    }

    /// <summary>Seals the journals of this application's processes that ended without sealing them (killed, crashed).</summary>
    private void AdoptOrphans()
    {
        try
        {
            var adopted = UsageJournal.AdoptOrphans(_cache.PendingFolder);
            if (adopted > 0)
            {
                Raise(new DlsClientEventArgs(DlsClientEventKind.BatchStored, $"Took over the usage journal of {adopted} ended process(es) as pending batches."));
            }
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            Raise(new DlsClientEventArgs(DlsClientEventKind.CacheProblem, $"The usage journals in '{_cache.PendingFolder}' could not be read: {error.Message}"));
        }
    }

    private async Task<(DlsFlushResult Result, DateTimeOffset? NewestHandshake)> SendPendingAsync(CancellationToken cancellationToken)
    {
        int sent = 0, accepted = 0, duplicates = 0, refused = 0;
        DateTimeOffset? newestHandshake = null;
        if (Now() < _nextSendAt)
        {
            return (new DlsFlushResult(0, 0, 0, 0, _pending.Count), null);
        }

        // One process of the application sends at a time; another one sending now sends these files too.
        using var folderLock = await FolderLock.AcquireAsync(_cache.LockPath, _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        if (folderLock is null)
        {
            return (new DlsFlushResult(0, 0, 0, 0, _pending.Count), null);
        }

        AdoptOrphans();

        foreach (var path in _pending.List())
        {
            var content = AtomicFile.ReadOrNull(path);
            if (content is null)
            {
                continue;
            }

            string batchId;
            List<UsageRecord> records;
            try
            {
                (_, _, batchId, records) = Wire.ReadReport(content);
            }
            catch (FormatException)
            {
                PendingBatches.SetAside(path);
                Raise(new DlsClientEventArgs(DlsClientEventKind.CacheProblem, $"The batch file '{path}' is damaged; it was set aside ({Path.GetFileName(path)}.damaged)."));
                continue;
            }

            var oldest = TimeSlice.Start(Now() + ClockOffset) - TimeSlice.MaxAge;
            var expired = records.Where(r => r.Slice < oldest).ToList();
            if (expired.Count > 0)
            {
                records = records.Where(r => r.Slice >= oldest).ToList();
                Raise(new DlsClientEventArgs(DlsClientEventKind.UsageExpired, $"Batch {batchId} held {expired.Count} record(s) older than the server accepts (30 days); they were dropped.") { BatchId = batchId });
                if (records.Count == 0)
                {
                    AtomicFile.TryDelete(path);
                    continue;
                }
            }

            var changed = expired.Count > 0 | NotAfterServerSlice(records);
            ServerAnswer answer;
            try
            {
                answer = await _route.PostAsync("api/v1/reports", changed ? Wire.ReportBody(DeviceUuid, _key.HandshakeCode, batchId, records) : content, cancellationToken).ConfigureAwait(false);
                LearnClock(answer);

                // A slice after the server's current one makes the whole batch malformed (400). When the server's clock,
                // learned from this answer, shows this device's clock ahead, the records move to the server's slice and
                // the batch goes once more under its id: the usage happened, only the device's clock was wrong.
                if (answer.Status == 400 && NotAfterServerSlice(records))
                {
                    answer = await _route.PostAsync("api/v1/reports", Wire.ReportBody(DeviceUuid, _key.HandshakeCode, batchId, records), cancellationToken).ConfigureAwait(false);
                    LearnClock(answer);
                }
            }
            catch (ServerUnreachableException unreachable)
            {
                Raise(new DlsClientEventArgs(DlsClientEventKind.Offline, $"{unreachable.Message} {_pending.Count} batch(es) wait on disk.") { BatchId = batchId });
                break;
            }

            if (answer.Status == 429)
            {
                _nextSendAt = Now() + TimeSpan.FromSeconds(answer.RetryAfterSeconds ?? 60);
                Raise(new DlsClientEventArgs(DlsClientEventKind.Offline, $"{answer.Server} limits this device; sending again after {answer.RetryAfterSeconds ?? 60} s.") { BatchId = batchId, Server = answer.Server, ErrorCode = 429 });
                break;
            }

            if (!answer.IsSuccess)
            {
                var (code, message) = Wire.ReadError(answer.Status, answer.Body);
                AtomicFile.TryDelete(path);
                sent++;
                refused += records.Count;
                Raise(new DlsClientEventArgs(DlsClientEventKind.BatchRefused, $"{answer.Server} refused batch {batchId} (errorCode {code}): {message}. Its {records.Count} record(s) are dropped.")
                {
                    BatchId = batchId,
                    Server = answer.Server,
                    ErrorCode = code,
                });
                continue;
            }

            var report = ReportAnswer.Read(answer.Body);
            AtomicFile.TryDelete(path);
            sent++;
            accepted += report.Accepted;
            duplicates += report.Duplicates;
            refused += report.Refused.Count;
            if (report.HandshakeUpdateTime is DateTimeOffset changedAt && (newestHandshake is null || changedAt > newestHandshake))
            {
                newestHandshake = changedAt;
            }

            if (report.Refused.Count > 0)
            {
                var refusedRecords = report.Refused
                    .Where(r => r.Index >= 0 && r.Index < records.Count)
                    .Select(r => new DlsRefusedRecord(records[r.Index].Slice, records[r.Index].ItemId, records[r.Index].Product, records[r.Index].Count, r.ErrorCode))
                    .ToList();
                Raise(new DlsClientEventArgs(
                    DlsClientEventKind.RecordsRefused,
                    $"{answer.Server} refused {report.Refused.Count} record(s) of batch {batchId} ({string.Join(", ", report.Refused.Select(r => r.ErrorCode).Distinct())}); they are dropped, never resent.")
                {
                    BatchId = batchId,
                    Server = answer.Server,
                    RefusedRecords = refusedRecords,
                });
            }

            Raise(new DlsClientEventArgs(DlsClientEventKind.BatchSent, $"{answer.Server} acknowledged batch {batchId}: {report.Accepted} accepted, {report.Duplicates} duplicate(s), {report.Refused.Count} refused.")
            {
                BatchId = batchId,
                Server = answer.Server,
                Accepted = report.Accepted,
                Duplicates = report.Duplicates,
            });
        }

        return (new DlsFlushResult(sent, accepted, duplicates, refused, _pending.Count), newestHandshake);
    }

    /// <summary>
    /// Renews every held authorization the server granted more than <see cref="RenewAfter"/> ago, so that an application
    /// running for days keeps a grant (and a cacheUntil) ahead of its usage; offline, each report interval tries again.
    /// </summary>
    private async Task RenewAsync(CancellationToken cancellationToken)
    {
        var serverNow = ServerNow();
        foreach (var held in _held.Values.Where(h => h.RefusedCode is null && serverNow - h.Authorization.ServerTime > RenewAfter).ToList())
        {
            try
            {
                await AuthorizeOnlineAsync(held.Request, cancellationToken).ConfigureAwait(false);
            }
            catch (DlsClientException)
            {
                // Raised as an event (refused), or no server answered: the cached grant serves until its cacheUntil.
            }
        }
    }

    /// <summary>Authorizes again every held authorization older than the code's last change (SPEC §4, handshakeUpdateTime).</summary>
    private async Task ReauthorizeIfOlderAsync(DateTimeOffset changedAt, CancellationToken cancellationToken)
    {
        foreach (var held in _held.Values.Where(h => h.RefusedCode is null && h.Authorization.HandshakeUpdateTime < changedAt).ToList())
        {
            _held[held.Request] = held.MarkStale();
            Raise(new DlsClientEventArgs(DlsClientEventKind.HandshakeUpdated, $"The handshake code changed at {changedAt:u}, after the authorization of {held.Request.Product}: authorizing again."));
            try
            {
                await AuthorizeOnlineAsync(held.Request, cancellationToken).ConfigureAwait(false);
            }
            catch (DlsClientException)
            {
                // Raised as an event already (refused), or no server answered: the next report tries again.
            }
        }
    }

    /// <summary>
    /// Moves records of slices after the server's current slice (a device clock ahead of the server's) into that slice;
    /// true when any moved.
    /// </summary>
    private bool NotAfterServerSlice(List<UsageRecord> records)
    {
        var serverSlice = TimeSlice.Start(Now() + ClockOffset);
        var moved = false;
        for (var i = 0; i < records.Count; i++)
        {
            if (records[i].Slice > serverSlice)
            {
                var r = records[i];
                records[i] = new UsageRecord(serverSlice, r.ItemId, r.Product, r.Count, r.InstanceId, r.Features);
                moved = true;
            }
        }

        return moved;
    }

    /// <summary>Keeps the server's clock from an answer's Date header (to the second) when it differs from what the client knew.</summary>
    private void LearnClock(ServerAnswer answer)
    {
        if (answer.ServerDate is DateTimeOffset date)
        {
            var offset = date - Now();
            if (Math.Abs((offset - ClockOffset).TotalSeconds) > 5)
            {
                ClockOffset = offset;
            }
        }
    }

    private void EnsureBackground()
    {
        if (_options.ReportInBackground)
        {
            StartBackground(null);
        }
    }

    private void StartBackground(TimeSpan? firstDelay)
    {
        lock (_gate)
        {
            if (_background is null && _disposed == 0)
            {
                _background = Task.Run(() => ReportLoopAsync(firstDelay, _stopping.Token));
            }
        }
    }

    private async Task ReportLoopAsync(TimeSpan? firstDelay, CancellationToken stopping)
    {
        var delay = firstDelay;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await _options.TimeProvider.Delay(delay ?? NextInterval(), stopping).ConfigureAwait(false);
                delay = null;
                await FlushCoreAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception error)
            {
                Raise(new DlsClientEventArgs(DlsClientEventKind.CacheProblem, $"Reporting failed: {error.Message}; it is tried again at the next interval."));
            }
        }
    }

    /// <summary>The report interval with ±10 % jitter, so that clients started together do not report together.</summary>
    private TimeSpan NextInterval()
    {
        lock (_gate)
        {
            return TimeSpan.FromMilliseconds(_reportInterval.TotalMilliseconds * (0.9 + (_jitter.NextDouble() * 0.2)));
        }
    }

    private void SetReportInterval(int seconds)
    {
        lock (_gate)
        {
            _reportInterval = TimeSpan.FromSeconds(Math.Max(10, Math.Min(3600, seconds)));
        }
    }

    private async Task StopBackgroundAsync()
    {
        Task? background;
        lock (_gate)
        {
            _stopping.Cancel();
            background = _background;
        }

        if (background is not null)
        {
            await background.ConfigureAwait(false);
        }
    }

    private void OnProcessExit(object? sender, EventArgs e)
    {
        if (_disposed == 0)
        {
            SealToDisk();
        }
    }

    private void Release()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        _journalTimer.Dispose();
        lock (_journalGate)
        {
            _journal.Dispose();
        }

        _route.Dispose();
        _verifier.Dispose();
        _stopping.Dispose();
    }

    private DateTimeOffset Now() => _options.TimeProvider.GetUtcNow();

    /// <summary>Now on the server's clock, as far as the client knows it.</summary>
    private DateTimeOffset ServerNow() => Now() + ClockOffset;

    /// <summary>The server's clock minus this device's, as last learned: slices are the server's.</summary>
    private TimeSpan ClockOffset
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _clockOffsetTicks));
        set => Interlocked.Exchange(ref _clockOffsetTicks, value.Ticks);
    }

    private void ThrowIfDisposed()
    {
        if (_disposed != 0)
        {
            throw new ObjectDisposedException(nameof(DlsClient));
        }
    }

    private void Raise(DlsClientEventArgs args)
    {
        try
        {
            Event?.Invoke(this, args);
        }
        catch (Exception)
        {
            // A handler's failure must not stop authorization or lose usage.
        }
    }

    private static string? ReadToken(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("authorization", out var token) && token.ValueKind == JsonValueKind.String
                ? token.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static DlsAuthorization Authorization(AuthRequestKey request, TokenClaims claims, string token, bool fromCache, Uri? server) =>
        new(request.Product, claims.ItemId, claims.Mode, claims.GrantedUntil, claims.CacheUntil, claims.ReportIntervalSeconds,
            claims.HandshakeUpdateTime, claims.ServerTime, claims.Warning, token, fromCache, server);

    /// <summary>An authorization the client holds for a request, with when it came and whether the server has refused it since.</summary>
    private sealed class Held
    {
        public Held(AuthRequestKey request, DlsAuthorization authorization, DateTimeOffset receivedAt, bool stale = false, int? refusedCode = null, string? refusedMessage = null)
        {
            Request = request;
            Authorization = authorization;
            ReceivedAt = receivedAt;
            Stale = stale;
            RefusedCode = refusedCode;
            RefusedMessage = refusedMessage;
        }

        public AuthRequestKey Request { get; }

        public DlsAuthorization Authorization { get; }

        public DateTimeOffset ReceivedAt { get; }

        public bool Stale { get; }

        public int? RefusedCode { get; }

        public string? RefusedMessage { get; }

        public Held MarkStale() => new(Request, Authorization, ReceivedAt, stale: true);

        public Held Refused(int code, string message) => new(Request, Authorization, ReceivedAt, Stale, code, message);
    }
}
