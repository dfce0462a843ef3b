using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Tessera.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tessera.Server.Tests.ScaleOut;

/// <summary>
/// The lag bounds are the product's on the machine, not on a machine that another test class of this process shares:
/// on two cores a class running beside them (an import, a PBKDF2 loop) once delayed one change past the bound
/// (both other instances showed it after 1,152 ms, while the run's p50 was 12.7 ms), so these tests run alone.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LatencyMeasured
{
    public const string Name = "latency measured";
}

/// <summary>
/// Three instances behind a real load balancer (HAProxy) on one PostgreSQL database, as docs/operations.md deploys
/// them. PostgreSQL only by nature: SQLite serves one instance. Changes are made through one instance and observed
/// on the others directly, bypassing the balancer; every wait polls against a hard deadline.
/// </summary>
[Trait("Category", "ScaleOut")]
[Collection(LatencyMeasured.Name)]
public sealed class ScaleOutTests(ScaleOutCluster cluster, ITestOutputHelper output) : IClassFixture<ScaleOutCluster>
{
    /// <summary>The issue's bound for a change to reach every instance.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(1);

    /// <summary>The shipped Tessera:Tokens:CallerCacheSeconds: the bound when notifications are lost.</summary>
    private static readonly TimeSpan Fallback = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_Back_Office_session_and_an_API_token_keep_working_across_round_robin_requests_to_all_three_instances()
    {
        using var admin = await cluster.AdminApiAsync();
        var (_, username, secret) = await ApiUserAsync(admin, role: null);

        using var browser = cluster.ThroughBalancer(cookies: true);
        var signedIn = await Seed.SignInAsync(browser, ScaleOutCluster.AdminUsername, ScaleOutCluster.AdminPassword);
        Assert.True(signedIn.StatusCode == HttpStatusCode.Redirect, $"sign-in: {(int)signedIn.StatusCode} {await signedIn.Content.ReadAsStringAsync()}");

        using var api = cluster.ThroughBalancer();
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await Seed.TokenAsync(api, username, secret));

        var servedBy = new List<string>();
        for (var i = 0; i < 36; i++)
        {
            // The session cookie (and the antiforgery token) were made by one instance and are read by every other.
            using (var page = await browser.GetAsync("/"))
            {
                var html = await page.Content.ReadAsStringAsync();
                Assert.True(page.StatusCode == HttpStatusCode.OK && html.Contains(">Sign out<", StringComparison.Ordinal),
                    $"request {i} of the session, served by {ServedBy(page)}: {(int)page.StatusCode} {page.Headers.Location}");
                servedBy.Add(ServedBy(page));
            }

            using (var me = await api.GetAsync("/api/v1/me"))
            {
                var body = await me.Content.ReadAsStringAsync();
                Assert.True(me.StatusCode == HttpStatusCode.OK && body.Contains(username, StringComparison.Ordinal),
                    $"request {i} of the token, served by {ServedBy(me)}: {(int)me.StatusCode} {body}");
                servedBy.Add(ServedBy(me));
            }
        }

        var counts = servedBy.GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine("served by: " + string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}")));
        Assert.Equal(Enumerable.Range(0, ScaleOutCluster.Instances).Select(HaproxyProcess.ServerName).ToHashSet(), counts.Keys.ToHashSet());

        // Round-robin: an even share each.
        Assert.All(counts.Values, c => Assert.Equal(servedBy.Count / ScaleOutCluster.Instances, c));
    }

    [Fact]
    public async Task A_disable_through_one_instance_is_refused_on_every_instance_within_a_second()
    {
        using var admin = await cluster.AdminApiAsync(cluster.Direct(0));

        // The first refusal of a process also compiles its code path (seen at 0.8 s on a loaded machine), which is not
        // what is measured here: a first round warms it, the second is measured. Both must be within the bound.
        for (var round = 1; round <= 2; round++)
        {
            var (id, username, secret) = await ApiUserAsync(admin, role: null);
            var direct = await TokenOnEveryInstanceAsync(username, secret, "/api/v1/me");
            using (var disabled = await admin.PatchAsJsonAsync($"/api/v1/users/{id}", new { status = "disabled" }))
            {
                await Expect.ResponseAsync(disabled, HttpStatusCode.OK);
            }

            var lags = await Task.WhenAll(direct.Select(client => UntilStatusAsync(client, "/api/v1/me", HttpStatusCode.Unauthorized)));
            output.WriteLine($"round {round}, refused after: " + string.Join(", ", lags.Select((l, i) => $"{HaproxyProcess.ServerName(i)} {l.TotalMilliseconds:0} ms")));
            Assert.All(lags, lag => Assert.True(lag < Bound, $"round {round}: an instance honoured the token {lag.TotalMilliseconds:0} ms after the disable."));
            direct.ForEach(c => c.Dispose());
        }
    }

    /// <summary>
    /// 50 changes, each through one instance (in turn) and observed on the two others: a role taken away and given
    /// back (the token loses and regains VIEW_USERS), then a disable or a revocation of the user's tokens. The lag is from the change's answer to the first
    /// answer of another instance that shows it, so it includes one polling interval.
    /// </summary>
    [Fact]
    public async Task Invalidation_lag_over_50_changes_is_within_a_second_at_p99()
    {
        const int Users = 10;
        var clients = Enumerable.Range(0, ScaleOutCluster.Instances).Select(i => cluster.Direct(i)).ToList();
        var admins = new List<HttpClient>();
        foreach (var client in clients)
        {
            admins.Add(await cluster.AdminApiAsync(client));
        }

        using var setup = await cluster.AdminApiAsync();
        var (_, role) = await RoleAsync(setup, Tessera.Core.Access.Privileges.ViewUsers);
        var lags = new List<(string Change, double Milliseconds)>();
        var change = 0;
        for (var u = 0; u < Users; u++)
        {
            var (id, username, secret) = await ApiUserAsync(setup, role);
            var tokens = await TokenOnEveryInstanceAsync(username, secret, "/api/v1/users?limit=1");
            var steps = new (string Name, string Method, string Change, object? Body, string Path, HttpStatusCode Shows)[]
            {
                ("role removed", "PUT", $"/api/v1/users/{id}/roles", new { roles = new[] { "System" } }, "/api/v1/users?limit=1", HttpStatusCode.Forbidden),
                ("role granted", "PUT", $"/api/v1/users/{id}/roles", new { roles = new[] { "System", role } }, "/api/v1/users?limit=1", HttpStatusCode.OK),
                ("role removed", "PUT", $"/api/v1/users/{id}/roles", new { roles = new[] { "System" } }, "/api/v1/users?limit=1", HttpStatusCode.Forbidden),
                ("role granted", "PUT", $"/api/v1/users/{id}/roles", new { roles = new[] { "System", role } }, "/api/v1/users?limit=1", HttpStatusCode.OK),

                // Both end the token: a new security stamp.
                u % 2 == 0
                    ? ("disabled", "PATCH", $"/api/v1/users/{id}", new { status = "disabled" }, "/api/v1/me", HttpStatusCode.Unauthorized)
                    : ("tokens revoked", "POST", $"/api/v1/users/{id}/revoke-tokens", null, "/api/v1/me", HttpStatusCode.Unauthorized),
            };
            foreach (var step in steps)
            {
                var through = change++ % ScaleOutCluster.Instances;
                var others = Enumerable.Range(0, ScaleOutCluster.Instances).Where(i => i != through).ToList();

                // Every other instance holds the caller in its cache before the change (the shipped bound is 5 s).
                foreach (var i in others)
                {
                    using var before = await tokens[i].GetAsync(step.Path);
                    Assert.True(before.StatusCode != step.Shows, $"{step.Name}: instance {i} shows the change before it was made");
                }

                using (var request = new HttpRequestMessage(new HttpMethod(step.Method), step.Change) { Content = step.Body is null ? null : JsonContent.Create(step.Body) })
                using (var response = await admins[through].SendAsync(request))
                {
                    Assert.True(response.IsSuccessStatusCode, $"{step.Name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }

                foreach (var lag in await Task.WhenAll(others.Select(i => UntilStatusAsync(tokens[i], step.Path, step.Shows))))
                {
                    lags.Add((step.Name, lag.TotalMilliseconds));
                }
            }

            tokens.ForEach(t => t.Dispose());
        }

        var sorted = lags.Select(l => l.Milliseconds).Order().ToList();
        var p50 = Percentile(sorted, 0.50);
        var p99 = Percentile(sorted, 0.99);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"invalidation lag over {change} changes ({sorted.Count} observations on the other instances): p50 {p50:0.0} ms, p99 {p99:0.0} ms, max {sorted[^1]:0.0} ms; fallback bound {Fallback.TotalMilliseconds:0} ms"));
        foreach (var kind in lags.GroupBy(l => l.Change))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {kind.Key}: max {kind.Max(l => l.Milliseconds):0.0} ms over {kind.Count()}"));
        }

        Assert.Equal(50, change);
        Assert.True(p99 <= Bound.TotalMilliseconds, $"p99 {p99:0} ms exceeds {Bound.TotalMilliseconds:0} ms");
        admins.ForEach(a => a.Dispose());
    }

    /// <summary>
    /// The per-address limits are counters of each instance, in memory: behind N round-robin instances an address gets
    /// the configured limit × N. 20 sign-in POSTs from one address through the balancer: 3 × 5 answered, 5 refused.
    /// Each instance alone refuses an address its 6th.
    /// </summary>
    [Fact]
    public async Task Per_address_sign_in_limits_are_per_instance_so_the_effective_limit_is_the_limit_times_the_instances()
    {
        const int Attempts = 20;
        var address = cluster.NextClientAddress();
        using var browser = HaproxyProcess.ClientFrom(address, cluster.Balancer.Url, cookies: true);
        var antiforgery = Seed.AntiforgeryToken(await browser.GetStringAsync("/signin"));

        var answers = new List<(HttpStatusCode Status, string? RetryAfter, string Server, bool Checked)>();
        for (var i = 0; i < Attempts; i++)
        {
            using var response = await WrongSignInAsync(browser, antiforgery);
            answers.Add((response.StatusCode, response.Headers.RetryAfter?.ToString(), ServedBy(response), await WrongCredentialsAsync(response)));
        }

        output.WriteLine("through the balancer: " + string.Join(", ", answers.Select(a => $"{(int)a.Status}@{a.Server}")));
        var limit = ScaleOutCluster.SignInPermitLimit;
        Assert.Equal(limit * ScaleOutCluster.Instances, answers.Count(a => a.Status != HttpStatusCode.TooManyRequests));
        Assert.Equal(Attempts - (limit * ScaleOutCluster.Instances), answers.Count(a => a.Status == HttpStatusCode.TooManyRequests));
        Assert.All(answers.Where(a => a.Status == HttpStatusCode.TooManyRequests), a => Assert.True(int.TryParse(a.RetryAfter, out var s) && s > 0, $"429 without Retry-After from {a.Server}"));
        // Each answer that was not refused checked the credentials (a wrong sign-in is the form again, 400, saying so).
        Assert.All(answers.Where(a => a.Status != HttpStatusCode.TooManyRequests), a => Assert.True(a.Checked, $"{(int)a.Status} from {a.Server} is not the wrong-credentials page"));

        // The address the instances counted was the client's, as X-Forwarded-For carried it, not the balancer's:
        // the same address is refused on each instance directly, another is served.
        for (var i = 0; i < ScaleOutCluster.Instances; i++)
        {
            using var same = HaproxyProcess.ClientFrom(address, $"http://127.0.0.1:{cluster.Ports[i]}", cookies: true);
            var token = Seed.AntiforgeryToken(await same.GetStringAsync("/signin"));
            using var refused = await WrongSignInAsync(same, token);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        }

        // Each instance alone: a fresh address gets the configured limit, and its next attempt is refused.
        for (var i = 0; i < ScaleOutCluster.Instances; i++)
        {
            using var direct = HaproxyProcess.ClientFrom(cluster.NextClientAddress(), $"http://127.0.0.1:{cluster.Ports[i]}", cookies: true);
            var token = Seed.AntiforgeryToken(await direct.GetStringAsync("/signin"));
            for (var attempt = 1; attempt <= limit + 1; attempt++)
            {
                using var response = await WrongSignInAsync(direct, token);
                if (attempt <= limit)
                {
                    Assert.True(await WrongCredentialsAsync(response), $"instance {i}, attempt {attempt}: {(int)response.StatusCode}");
                }
                else
                {
                    Assert.True(response.StatusCode == HttpStatusCode.TooManyRequests, $"instance {i}, attempt {attempt}: {(int)response.StatusCode}");
                    Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, $"instance {i}: 429 without Retry-After");
                }
            }
        }
    }

    /// <summary>
    /// An instance killed with SIGKILL under load, reads and writes: the balancer retries what the dead instance left
    /// unanswered on another, so clients see at most the requests in flight at the kill fail, and every write that was
    /// acknowledged is stored. The victim is the cluster's fourth instance, behind a balancer of its own with two of
    /// the cluster's instances, so the other tests keep three.
    /// </summary>
    [Fact]
    public async Task A_SIGKILLed_instance_costs_clients_at_most_the_requests_in_flight_and_loses_no_acknowledged_write()
    {
        await using var balancer = await HaproxyProcess.StartAsync([cluster.Ports[0], cluster.Ports[1], cluster.VictimPort]);
        await ScaleOutCluster.WaitUntilBalancedAsync(balancer);

        using var tokenClient = cluster.ThroughBalancer();
        var bearer = await Seed.TokenAsync(tokenClient, ScaleOutCluster.ApiClientId, ScaleOutCluster.ApiClientSecret);
        var created = new ConcurrentBag<Guid>();
        var outcomes = new ConcurrentQueue<(bool Write, int Status, string Server, string Detail, long At)>();
        var inFlight = 0;
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var killServerName = HaproxyProcess.ServerName(2);

        var workers = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            using var client = HaproxyProcess.ClientFrom(cluster.NextClientAddress(), balancer.Url);
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var write = i % 2 == 0;
                var username = Seed.Unique("kill");
                Interlocked.Increment(ref inFlight);
                try
                {
                    using var response = write
                        ? await client.PostAsJsonAsync("/api/v1/users", new { username, email = $"{username}@scaleout.test", firstName = "Kill", lastName = "Test", type = "backoffice" })
                        : await client.GetAsync("/api/v1/users?limit=1");
                    var body = await response.Content.ReadAsStringAsync();
                    if (write && response.StatusCode == HttpStatusCode.Created)
                    {
                        created.Add((await Seed.JsonAsync(response)).GetProperty("id").GetGuid());
                    }

                    outcomes.Enqueue((write, (int)response.StatusCode, ServedBy(response), body.Length > 200 ? body[..200] : body, clock.ElapsedMilliseconds));
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    outcomes.Enqueue((write, 0, "", e.Message, clock.ElapsedMilliseconds));
                }
                finally
                {
                    Interlocked.Decrement(ref inFlight);
                }
            }
        })).ToList();

        // Let the load reach the victim, kill it mid-run, and keep the load on until the balancer has taken it out.
        await UntilAsync(() => outcomes.Count(o => o.Server == killServerName && o.Write && o.Status == 201) >= 3, TimeSpan.FromSeconds(30), "the victim acknowledged writes");
        var atKill = Volatile.Read(ref inFlight);
        var killedAt = clock.ElapsedMilliseconds;
        await cluster.KillAsync(cluster.Victim);
        var beforeKill = outcomes.Count;
        await UntilAsync(() => outcomes.Count(o => o.At > killedAt + 2000) >= 20, TimeSpan.FromSeconds(30), "the load went on for 2 s after the kill");
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        var failures = outcomes.Where(o => o.Status is < 200 or >= 300).ToList();
        output.WriteLine($"{outcomes.Count} requests ({beforeKill} before the kill), {created.Count} users created, {atKill} in flight at the kill, {failures.Count} failed");
        foreach (var failure in failures)
        {
            output.WriteLine($"  failed: {(failure.Write ? "write" : "read")} {failure.Status} at {failure.At - killedAt} ms after the kill, from {failure.Server}: {failure.Detail}");
        }

        Assert.True(failures.Count <= atKill, $"{failures.Count} requests failed, {atKill} were in flight at the kill");
        Assert.Contains(outcomes, o => o.At > killedAt && o.Status is >= 200 and < 300);

        // Every acknowledged write is stored, as the surviving instances read it.
        var survivors = new[] { cluster.Direct(0), cluster.Direct(1) };
        foreach (var client in survivors)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        var n = 0;
        foreach (var id in created)
        {
            using var read = await survivors[n++ % 2].GetAsync($"/api/v1/users/{id}");
            Assert.True(read.StatusCode == HttpStatusCode.OK, $"acknowledged user {id}: {(int)read.StatusCode}");
        }

        foreach (var client in survivors)
        {
            client.Dispose();
        }
    }

    private static string ServedBy(HttpResponseMessage response)
        => response.Headers.TryGetValues("X-Served-By", out var values) ? string.Join(",", values) : "(none)";

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static Task<HttpResponseMessage> WrongSignInAsync(HttpClient client, string antiforgery)
        => client.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Login"] = "nobody.at.all",
            ["Password"] = "Not-The-Password-1",
            ["returnUrl"] = "/",
            ["__RequestVerificationToken"] = antiforgery,
        }));

    private static async Task<bool> WrongCredentialsAsync(HttpResponseMessage response)
        => response.StatusCode == HttpStatusCode.BadRequest
            && (await response.Content.ReadAsStringAsync()).Contains("The username or password is incorrect", StringComparison.Ordinal);

    private async Task<(Guid Id, string Username, string Secret)> ApiUserAsync(HttpClient admin, string? role)
    {
        var username = Seed.Unique("api");
        var secret = Seed.Unique("Secret-Aa1") + "-x9!";
        string[] roles = role is null ? ["System"] : ["System", role];
        var user = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/users", new
        {
            username, email = $"{username}@scaleout.test", firstName = "Api", lastName = "Scale", type = "api", roles, password = secret,
        }), HttpStatusCode.Created);
        return (user.GetProperty("id").GetGuid(), username, secret);
    }

    private static async Task<(Guid Id, string Name)> RoleAsync(HttpClient admin, params string[] privileges)
    {
        var name = Seed.Unique("viewer");
        var role = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/roles", new { name, description = "scale-out test", privileges }), HttpStatusCode.Created);
        return (role.GetProperty("id").GetGuid(), name);
    }

    /// <summary>A bearer client of each instance directly, all with one token, each answering 200 at <paramref name="path"/> (so each caches the caller).</summary>
    private async Task<List<HttpClient>> TokenOnEveryInstanceAsync(string username, string secret, string path)
    {
        using var anonymous = cluster.ThroughBalancer();
        var token = await Seed.TokenAsync(anonymous, username, secret);
        var clients = new List<HttpClient>();
        for (var i = 0; i < ScaleOutCluster.Instances; i++)
        {
            var client = cluster.Direct(i);
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await client.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"instance {i}, {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            clients.Add(client);
        }

        return clients;
    }

    /// <summary>Polls until <paramref name="path"/> answers <paramref name="status"/>; fails after ten seconds, twice the fallback bound.</summary>
    private static async Task<TimeSpan> UntilStatusAsync(HttpClient client, string path, HttpStatusCode status)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < Fallback * 2)
        {
            using var response = await client.GetAsync(path);
            if (response.StatusCode == status)
            {
                return watch.Elapsed;
            }

            await Task.Delay(5);
        }

        throw new Xunit.Sdk.XunitException($"{client.BaseAddress}{path} never answered {(int)status} within {(Fallback * 2).TotalSeconds:0} s.");
    }

    private static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout)
            {
                throw new Xunit.Sdk.XunitException($"Waiting until {what}: not within {timeout.TotalSeconds:0} s.");
            }

            await Task.Delay(20);
        }
    }
}
