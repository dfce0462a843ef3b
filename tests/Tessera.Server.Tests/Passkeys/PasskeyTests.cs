using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.Core.Users;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Passkeys;

public sealed class SqlitePasskeyTests(SqlitePasskeyHost host) : PasskeyTests<SqlitePasskeyHost>(host);

public sealed class PostgresPasskeyTests(PostgresPasskeyHost host) : PasskeyTests<PostgresPasskeyHost>(host);

/// <summary>The in-process test client has no address, so all of a class's anonymous ceremonies share one rate-limit partition.</summary>
internal static class PasskeyHostSettings
{
    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?> { ["Tessera:Passkeys:RequestsPerFiveMinutes"] = "10000" };
}

public sealed class SqlitePasskeyHost() : HostFixture("sqlite")
{
    protected override IReadOnlyDictionary<string, string?>? Settings => PasskeyHostSettings.Settings;
}

public sealed class PostgresPasskeyHost() : HostFixture("postgres")
{
    protected override IReadOnlyDictionary<string, string?>? Settings => PasskeyHostSettings.Settings;
}

/// <summary>
/// Passkeys over HTTP with a software authenticator: registration on the profile, passwordless sign-in, step-up,
/// and every refusal answered with one code that tells nothing about users or credentials.
/// </summary>
public abstract partial class PasskeyTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private const string Password = "Passkey-Password-1";
    private TesseraApp App => _ownApp ?? host.App;
    private TesseraApp? _ownApp;
    private readonly SoftwareAuthenticator _authenticator = new();

    [Fact]
    public async Task A_user_registers_a_passkey_and_signs_in_with_it_alone_with_amr_hwk_and_mfa()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var credential = await RegisterAsync(user, "Work laptop");

        await using (var scope = App.Scope(out var db))
        {
            var stored = await db.Passkeys.SingleAsync(p => p.UserId == user.Id);
            Assert.Equal("Work laptop", stored.Name);
            Assert.Equal(credential.Id, stored.CredentialId);
            Assert.Equal(SoftwareAuthenticator.Aaguid, stored.AaGuid);
            Assert.Equal("internal", stored.Transports);
            Assert.Null(stored.LastUsedAt);
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "mfa.passkey.registered" && a.Outcome == "success" && a.TargetId == user.Id.ToString()));
        }

        using var browser = App.Client(cookies: true);
        var signedIn = await PasswordlessAsync(browser, credential);
        Assert.Equal("/", (await Expect.ResponseAsync(signedIn, HttpStatusCode.OK)).GetProperty("redirect").GetString());
        var session = SessionOf(signedIn);
        Assert.Equal(user.Id.ToString(), session.FindFirst(TesseraClaims.Subject)?.Value);
        Assert.Equal(["hwk", "mfa"], session.FindAll(TesseraClaims.Amr).Select(c => c.Value).Order().ToArray());
        Assert.NotNull(session.FindFirst(TesseraClaims.SecondFactorAt));

        var profile = await browser.GetAsync("/profile/mfa");
        Assert.Equal(HttpStatusCode.OK, profile.StatusCode);
        var html = await profile.Content.ReadAsStringAsync();
        Assert.Contains(user.Username, html, StringComparison.Ordinal);
        Assert.Contains("id=\"passkeys-card\"", html, StringComparison.Ordinal);
        Assert.Contains("Work laptop", html, StringComparison.Ordinal);

        await using (var scope = App.Scope(out var db))
        {
            Assert.NotNull((await db.Passkeys.SingleAsync(p => p.UserId == user.Id)).LastUsedAt);
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "signin.passkey" && a.Outcome == "success" && a.TargetId == user.Id.ToString()));
            Assert.NotNull((await db.Users.SingleAsync(u => u.Id == user.Id)).LastSignInAt);
        }
    }

    [Fact]
    public async Task A_second_passkey_has_its_own_name_and_removing_one_ends_only_that_one()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var client = await SignedInAsync(user);
        var first = await RegisterAsync(client, "Phone");
        var second = await RegisterAsync(client, "  Security key  ");

        await using (var scope = App.Scope(out var db))
        {
            var names = await db.Passkeys.Where(p => p.UserId == user.Id).OrderBy(p => p.CreatedAt).Select(p => p.Name).ToListAsync();
            Assert.Equal(["Phone", "Security key"], names.Order().ToArray());
        }

        // The second creation excluded the first credential.
        var options = await OptionsAsync(client, "/profile/passkeys/options");
        Assert.Equal(2, options.GetProperty("excludeCredentials").GetArrayLength());
        Assert.Equal("required", options.GetProperty("authenticatorSelection").GetProperty("residentKey").GetString());
        Assert.Equal("required", options.GetProperty("authenticatorSelection").GetProperty("userVerification").GetString());

        Guid firstId;
        await using (var scope = App.Scope(out var db))
        {
            firstId = await db.Passkeys.Where(p => p.CredentialId == first.Id).Select(p => p.Id).SingleAsync();
        }

        // Another user cannot remove it: not found, as an unknown id.
        var other = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using (var otherClient = await SignedInAsync(other))
        {
            await Expect.ProblemAsync(await PostAsync(otherClient, $"/profile/passkeys/{firstId}/delete", await TokenAsync(otherClient, "/profile/mfa"), new { }), HttpStatusCode.NotFound, "not_found");
        }

        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(client, $"/profile/passkeys/{firstId}/delete", await TokenAsync(client, "/profile/mfa"), new { })).StatusCode);
        await using (var scope = App.Scope(out var db))
        {
            Assert.Equal(["Security key"], await db.Passkeys.Where(p => p.UserId == user.Id).Select(p => p.Name).ToArrayAsync());
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "mfa.passkey.removed" && a.TargetId == user.Id.ToString()));
        }

        using var browser = App.Client(cookies: true);
        await Expect.ProblemAsync(await PasswordlessAsync(browser, first), HttpStatusCode.BadRequest, "passkey_failed");
        Assert.Equal(HttpStatusCode.OK, (await PasswordlessAsync(browser, second)).StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("line\nbreak")]
    [InlineData("right\u202Eto-left")]
    [InlineData("a-name-that-is-far-too-long-for-a-passkey-a-name-that-is-far-too-long")]
    public async Task A_bad_name_is_refused_and_stores_nothing(string name)
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var client = await SignedInAsync(user);
        var token = await TokenAsync(client, "/profile/mfa");
        var options = await OptionsAsync(client, "/profile/passkeys/options", token);
        var (response, _) = _authenticator.Create(options);
        await Expect.ProblemAsync(await PostAsync(client, "/profile/passkeys", token, new { name, credential = response }), HttpStatusCode.BadRequest, "invalid_passkey_name");
        await using var scope = App.Scope(out var db);
        Assert.False(await db.Passkeys.AnyAsync(p => p.UserId == user.Id));
    }

    [Fact]
    public async Task A_credential_id_that_exists_already_is_refused()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var credential = await RegisterAsync(user, "First");
        var other = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var client = await SignedInAsync(other);
        var token = await TokenAsync(client, "/profile/mfa");
        var options = await OptionsAsync(client, "/profile/passkeys/options", token);
        var (response, _) = _authenticator.Create(options, credentialId: credential.Id);
        await Expect.ProblemAsync(await PostAsync(client, "/profile/passkeys", token, new { name = "Copy", credential = response }), HttpStatusCode.Conflict, "passkey_exists");
        await using var scope = App.Scope(out var db);
        Assert.Equal(user.Id, (await db.Passkeys.SingleAsync(p => p.CredentialId == credential.Id)).UserId);
    }

    [Fact]
    public async Task Registration_without_user_verification_or_for_another_origin_is_refused()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var client = await SignedInAsync(user);
        var token = await TokenAsync(client, "/profile/mfa");
        var (unverified, _) = _authenticator.Create(await OptionsAsync(client, "/profile/passkeys/options", token), userVerified: false);
        await Expect.ProblemAsync(await PostAsync(client, "/profile/passkeys", token, new { name = "No UV", credential = unverified }), HttpStatusCode.BadRequest, "passkey_failed");

        var elsewhere = new SoftwareAuthenticator(origin: "http://evil.example");
        var (foreign, _) = elsewhere.Create(await OptionsAsync(client, "/profile/passkeys/options", token));
        await Expect.ProblemAsync(await PostAsync(client, "/profile/passkeys", token, new { name = "Foreign", credential = foreign }), HttpStatusCode.BadRequest, "passkey_failed");

        await using var scope = App.Scope(out var db);
        Assert.False(await db.Passkeys.AnyAsync(p => p.UserId == user.Id));
    }

    [Fact]
    public async Task A_wrong_signature_a_replayed_counter_and_a_reused_challenge_are_refused()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var credential = await RegisterAsync(user, "Key");
        using var browser = App.Client(cookies: true);

        await Expect.ProblemAsync(await PasswordlessAsync(browser, credential, badSignature: true), HttpStatusCode.BadRequest, "passkey_failed");
        await Expect.ProblemAsync(await PasswordlessAsync(browser, credential, userVerified: false), HttpStatusCode.BadRequest, "passkey_failed");

        Assert.Equal(HttpStatusCode.OK, (await PasswordlessAsync(browser, credential, counter: 7)).StatusCode);
        using var again = App.Client(cookies: true);
        var replay = await PasswordlessAsync(again, credential, counter: 7);
        await Expect.ProblemAsync(replay, HttpStatusCode.BadRequest, "passkey_failed");
        Assert.False(replay.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("tessera.session=", StringComparison.Ordinal)));

        // A challenge is answered once: after a refused answer, a good one to the same challenge finds no ceremony.
        using var twice = App.Client(cookies: true);
        var token = await TokenAsync(twice, "/signin");
        var options = await OptionsAsync(twice, "/signin/passkey/options", token, new { mode = "signin" });
        await Expect.ProblemAsync(await PostAsync(twice, "/signin/passkey", token, new { credential = _authenticator.Get(options, credential, counter: 8, badSignature: true) }), HttpStatusCode.BadRequest, "passkey_failed");
        await Expect.ProblemAsync(await PostAsync(twice, "/signin/passkey", token, new { credential = _authenticator.Get(options, credential, counter: 9) }), HttpStatusCode.BadRequest, "passkey_ceremony_expired");

        // And a ceremony older than five minutes by the host's clock has expired.
        options = await OptionsAsync(twice, "/signin/passkey/options", token, new { mode = "signin" });
        App.Clock.Advance(TimeSpan.FromMinutes(6));
        try
        {
            await Expect.ProblemAsync(await PostAsync(twice, "/signin/passkey", token, new { credential = _authenticator.Get(options, credential, counter: 9) }), HttpStatusCode.BadRequest, "passkey_ceremony_expired");
        }
        finally
        {
            App.Clock.Advance(TimeSpan.FromMinutes(-6));
        }

        options = await OptionsAsync(twice, "/signin/passkey/options", token, new { mode = "signin" });
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(twice, "/signin/passkey", token, new { credential = _authenticator.Get(options, credential, counter: 9) })).StatusCode);

        await using var scope = App.Scope(out var db);
        Assert.Equal(9, (await db.Passkeys.SingleAsync(p => p.UserId == user.Id)).SignatureCounter);
        var failures = await db.AuditEvents.Where(a => a.Action == "signin.passkey" && a.Outcome == "failure" && a.TargetId == user.Id.ToString()).Select(a => a.Details!).ToListAsync();
        Assert.Contains(failures, d => d.Contains("invalid_assertion", StringComparison.Ordinal));
        Assert.Contains(failures, d => d.Contains("counter_replay", StringComparison.Ordinal));
        Assert.DoesNotContain(failures, d => d.Contains(SoftwareAuthenticator.ToBase64Url(credential.Id), StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unknown_credential_an_API_user_and_a_disabled_or_locked_user_get_the_same_refusal()
    {
        var unknown = new SoftwareAuthenticator.Credential
        {
            Id = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32),
            Key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256),
            UserHandle = Guid.NewGuid().ToByteArray(),
        };
        using var browser = App.Client(cookies: true);
        var unknownBody = await (await Expect.ProblemAsync(await PasswordlessAsync(browser, unknown), HttpStatusCode.BadRequest, "passkey_failed")).GetRawTextAsync();

        // An API user never gets a session, even with a valid passkey stored for it.
        var api = await Seed.UserAsync(App, UserType.Api, Password, "System");
        var apiCredential = await StoreDirectlyAsync(api.Id);
        var apiBody = await (await Expect.ProblemAsync(await PasswordlessAsync(browser, apiCredential), HttpStatusCode.BadRequest, "passkey_failed")).GetRawTextAsync();
        Assert.Equal(unknownBody, apiBody);

        var disabled = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var disabledCredential = await RegisterAsync(disabled, "Key");
        await Seed.UpdateUserAsync(App, disabled.Id, u => u.Status = UserStatus.Disabled);
        Assert.Equal(unknownBody, await (await Expect.ProblemAsync(await PasswordlessAsync(browser, disabledCredential), HttpStatusCode.BadRequest, "passkey_failed")).GetRawTextAsync());

        var locked = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var lockedCredential = await RegisterAsync(locked, "Key");
        await Seed.UpdateUserAsync(App, locked.Id, u =>
        {
            u.Status = UserStatus.Locked;
            u.LockedUntil = App.Clock.GetUtcNow().UtcDateTime.AddMinutes(10);
        });
        await Expect.ProblemAsync(await PasswordlessAsync(browser, lockedCredential), HttpStatusCode.BadRequest, "passkey_failed");

        Assert.False((await browser.GetAsync("/profile")).StatusCode == HttpStatusCode.OK);
        await using var scope = App.Scope(out var db);
        var reasons = await db.AuditEvents.Where(a => a.Action == "signin.passkey" && a.Outcome == "failure").Select(a => a.Details!).ToListAsync();
        Assert.Contains(reasons, d => d.Contains("api_user_on_web", StringComparison.Ordinal));
        Assert.Contains(reasons, d => d.Contains("disabled", StringComparison.Ordinal));
        Assert.Contains(reasons, d => d.Contains("locked", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Requests_without_the_antiforgery_token_are_refused_and_change_nothing()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var client = await SignedInAsync(user);
        await Expect.ProblemAsync(await client.PostAsJsonAsync("/profile/passkeys/options", new { }), HttpStatusCode.BadRequest, "antiforgery_failed");
        var token = await TokenAsync(client, "/profile/mfa");
        var (response, credential) = _authenticator.Create(await OptionsAsync(client, "/profile/passkeys/options", token));
        await Expect.ProblemAsync(await client.PostAsJsonAsync("/profile/passkeys", new { name = "Sneaky", credential = response }), HttpStatusCode.BadRequest, "antiforgery_failed");
        await Expect.ProblemAsync(await PostAsync(client, "/profile/passkeys", "not-the-token", new { name = "Sneaky", credential = response }), HttpStatusCode.BadRequest, "antiforgery_failed");
        await using (var scope = App.Scope(out var db))
        {
            Assert.False(await db.Passkeys.AnyAsync(p => p.UserId == user.Id));
        }

        using var anonymous = App.Client(cookies: true);
        await Expect.ProblemAsync(await anonymous.PostAsJsonAsync("/signin/passkey/options", new { mode = "signin" }), HttpStatusCode.BadRequest, "antiforgery_failed");

        // Without a session or a pending enrolment there is nobody to add a passkey to.
        var anonymousToken = await TokenAsync(anonymous, "/signin");
        await Expect.ProblemAsync(await PostAsync(anonymous, "/profile/passkeys/options", anonymousToken, new { }), HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task A_step_up_takes_only_the_session_users_own_passkey()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var client = await SignedInAsync(user);
        var own = await RegisterAsync(client, "Mine");
        var other = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var theirs = await RegisterAsync(other, "Theirs");

        var token = await TokenAsync(client, "/profile/mfa");
        var options = await OptionsAsync(client, "/signin/passkey/options", token, new { mode = "step-up", returnUrl = "/profile" });
        Assert.Single(options.GetProperty("allowCredentials").EnumerateArray());
        await Expect.ProblemAsync(await PostAsync(client, "/signin/passkey", token, new { credential = _authenticator.Get(options, theirs) }), HttpStatusCode.BadRequest, "passkey_failed");

        options = await OptionsAsync(client, "/signin/passkey/options", token, new { mode = "step-up", returnUrl = "/profile" });
        var stepped = await PostAsync(client, "/signin/passkey", token, new { credential = _authenticator.Get(options, own) });
        Assert.Equal("/profile", (await Expect.ResponseAsync(stepped, HttpStatusCode.OK)).GetProperty("redirect").GetString());
        // Step-up moves the stored session on (no new cookie): its record now names the passkey and a fresh second factor.
        var session = LatestSessionOf(user.Id);
        Assert.NotNull(session.FindFirst(TesseraClaims.SecondFactorAt));
        Assert.Contains("hwk", session.FindAll(TesseraClaims.Amr).Select(c => c.Value));
        Assert.Contains("pwd", session.FindAll(TesseraClaims.Amr).Select(c => c.Value));

        await using var scope = App.Scope(out var db);
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "mfa.step_up" && a.Outcome == "success" && a.TargetId == user.Id.ToString()));
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "mfa.step_up" && a.Outcome == "failure" && a.TargetId == other.Id.ToString()));
    }

    [Fact]
    public async Task A_passkey_answers_the_second_step_of_a_pending_sign_in_and_a_wrong_one_counts_toward_the_lockout()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var own = await RegisterAsync(user, "Mine");
        var other = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var theirs = await RegisterAsync(other, "Theirs");

        var (browser, cookies) = await PendingBrowserAsync(user, PendingStage.SecondFactor);
        using (browser)
        {
            var token = await TokenAsync(browser, "/signin");
            var options = await OptionsAsync(browser, "/signin/passkey/options", token, new { mode = "second-factor" });
            Assert.Single(options.GetProperty("allowCredentials").EnumerateArray());
            await Expect.ProblemAsync(await PostAsync(browser, "/signin/passkey", token, new { credential = _authenticator.Get(options, theirs) }), HttpStatusCode.BadRequest, "passkey_failed");
            await using (var scope = App.Scope(out var db))
            {
                Assert.Equal(1, (await db.Users.SingleAsync(u => u.Id == user.Id)).FailedSignInCount);
                Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "signin.mfa" && a.Outcome == "failure" && a.TargetId == user.Id.ToString() && a.Details!.Contains("passkey_failed")));
            }

            options = await OptionsAsync(browser, "/signin/passkey/options", token, new { mode = "second-factor" });
            var done = await PostAsync(browser, "/signin/passkey", token, new { credential = _authenticator.Get(options, own) });
            Assert.Equal("/", (await Expect.ResponseAsync(done, HttpStatusCode.OK)).GetProperty("redirect").GetString());
            Assert.Equal(["hwk", "mfa", "pwd"], SessionOf(done).FindAll(TesseraClaims.Amr).Select(c => c.Value).Order().ToArray());
            Assert.Null(cookies.GetCookies(new Uri(App.BaseUrl))["tessera.pending"]);
            Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/profile")).StatusCode);
        }

        await using (var scope = App.Scope(out var db))
        {
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "signin.mfa" && a.Outcome == "success" && a.TargetId == user.Id.ToString() && a.Details!.Contains("\"method\":\"passkey\"")));
        }
    }

    [Fact]
    public async Task A_user_who_must_enrol_adds_a_first_passkey_and_that_completes_the_sign_in()
    {
        // The product default: an administrator owes a second factor, and this one holds none yet.
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password, "Administrator");
        using var admin = await Seed.AdminApiAsync(App);
        await SetRequiredAsync(admin, "privileged");
        try
        {
            var (browser, _) = await PendingBrowserAsync(user, PendingStage.Enrolment);
            using (browser)
            {
                // Nothing but the enrolment opens meanwhile.
                var elsewhere = await browser.GetAsync("/profile");
                Assert.Equal("/profile/mfa", elsewhere.Headers.Location?.OriginalString);

                var token = await TokenAsync(browser, "/profile/mfa");
                var options = await OptionsAsync(browser, "/profile/passkeys/options", token);
                var (response, _) = _authenticator.Create(options);
                var created = await PostAsync(browser, "/profile/passkeys", token, new { name = "First key", credential = response });
                Assert.Equal("/", (await Expect.ResponseAsync(created, HttpStatusCode.Created)).GetProperty("redirect").GetString());
                Assert.Equal(["hwk", "mfa", "pwd"], SessionOf(created).FindAll(TesseraClaims.Amr).Select(c => c.Value).Order().ToArray());
                Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/profile")).StatusCode);
            }

            // The passkey now counts as the user's second factor: the next password sign-in owes the second step, and that
            // pending sign-in (not an enrolment) adds no passkey.
            var (second, _) = await PendingBrowserAsync(user, PendingStage.SecondFactor);
            using (second)
            {
                await Expect.ProblemAsync(await PostAsync(second, "/profile/passkeys/options", await TokenAsync(second, "/signin"), new { }), HttpStatusCode.Unauthorized, "unauthorized");
            }

            var methods = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{user.Id}/mfa"), HttpStatusCode.OK);
            Assert.Equal(["passkey"], methods.GetProperty("methods").EnumerateArray().Select(m => m.GetProperty("type").GetString()!).ToArray());

            // An administrator's reset removes the passkey with the other methods.
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/users/{user.Id}/mfa")).StatusCode);
            await using var scope = App.Scope(out var db);
            Assert.Equal(0, await db.Passkeys.CountAsync(p => p.UserId == user.Id));
        }
        finally
        {
            await SetRequiredAsync(admin, "none");
        }
    }

    private static async Task SetRequiredAsync(HttpClient admin, string required)
        => await Expect.ResponseAsync(await admin.PutAsJsonAsync("/api/v1/mfa-policy", new { required, requiredRoles = Array.Empty<string>(), stepUpMinutes = 15, trustProviderMfa = true }), HttpStatusCode.OK);

    [Fact]
    public async Task No_log_line_at_any_level_holds_a_challenge_a_credential_a_signature_or_the_ceremony_cookie()
    {
        using var logs = new CapturedLogs();
        _ownApp = new TesseraApp(TestDatabase.Create(host.Provider), PasskeyHostSettings.Settings)
        {
            Logging = logging =>
            {
                logging.ClearProviders();
                logs.Everything(logging);
            },
        }.Started();
        try
        {
            var secrets = new List<(string What, string Value)>();
            var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
            using var client = await SignedInAsync(user);
            var token = await TokenAsync(client, "/profile/mfa");
            var creation = await PostAsync(client, "/profile/passkeys/options", token, new { });
            var creationOptions = await Expect.ResponseAsync(creation, HttpStatusCode.OK);
            secrets.Add(("registration challenge", creationOptions.GetProperty("challenge").GetString()!));
            secrets.Add(("ceremony cookie", creation.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("tessera.passkey=", StringComparison.Ordinal)).Split(';')[0]["tessera.passkey=".Length..]));
            var (attestation, credential) = _authenticator.Create(creationOptions);
            secrets.Add(("attestation object", attestation["response"]!["attestationObject"]!.GetValue<string>()));
            secrets.Add(("credential id", SoftwareAuthenticator.ToBase64Url(credential.Id)));
            secrets.Add(("public key", SoftwareAuthenticator.ToBase64Url(credential.CosePublicKey)));
            await Expect.ResponseAsync(await PostAsync(client, "/profile/passkeys", token, new { name = "Logged", credential = attestation }), HttpStatusCode.Created);

            using var browser = App.Client(cookies: true);
            var signInToken = await TokenAsync(browser, "/signin");
            var options = await OptionsAsync(browser, "/signin/passkey/options", signInToken, new { mode = "signin" });
            secrets.Add(("assertion challenge", options.GetProperty("challenge").GetString()!));
            var bad = _authenticator.Get(options, credential, badSignature: true);
            secrets.Add(("refused signature", bad["response"]!["signature"]!.GetValue<string>()));
            await Expect.ProblemAsync(await PostAsync(browser, "/signin/passkey", signInToken, new { credential = bad }), HttpStatusCode.BadRequest, "passkey_failed");
            options = await OptionsAsync(browser, "/signin/passkey/options", signInToken, new { mode = "signin" });
            var good = _authenticator.Get(options, credential);
            secrets.Add(("signature", good["response"]!["signature"]!.GetValue<string>()));
            secrets.Add(("authenticator data", good["response"]!["authenticatorData"]!.GetValue<string>()));
            Assert.Equal(HttpStatusCode.OK, (await PostAsync(browser, "/signin/passkey", signInToken, new { credential = good })).StatusCode);

            Assert.True(logs.Count > 100, $"Only {logs.Count} log entries were captured; the capture is not working.");
            foreach (var (what, value) in secrets)
            {
                Assert.True(!logs.EntriesWith(value).Any(), $"The {what} was logged:\n{string.Join('\n', logs.EntriesWith(value).Take(3))}");
            }
        }
        finally
        {
            await _ownApp.DisposeAsync();
            await _ownApp.Database.DisposeAsync();
        }
    }

    [Fact]
    public async Task Passkey_requests_beyond_the_limit_get_429_with_Retry_After()
    {
        _ownApp = new TesseraApp(TestDatabase.Create(host.Provider), new Dictionary<string, string?> { ["Tessera:Passkeys:RequestsPerFiveMinutes"] = "2" }).Started();
        try
        {
            using var browser = App.Client(cookies: true);
            var token = await TokenAsync(browser, "/signin");
            for (var i = 0; i < 2; i++)
            {
                await OptionsAsync(browser, "/signin/passkey/options", token, new { mode = "signin" });
            }

            var refused = await PostAsync(browser, "/signin/passkey/options", token, new { mode = "signin" });
            await Expect.ProblemAsync(refused, HttpStatusCode.TooManyRequests, "too_many_requests");
            Assert.True(refused.Headers.RetryAfter is not null, "429 without Retry-After");
        }
        finally
        {
            await _ownApp.DisposeAsync();
            await _ownApp.Database.DisposeAsync();
        }
    }

    [Fact]
    public async Task Without_a_pending_sign_in_a_second_factor_ceremony_does_not_start()
    {
        using var browser = App.Client(cookies: true);
        var token = await TokenAsync(browser, "/signin");
        await Expect.ProblemAsync(await PostAsync(browser, "/signin/passkey/options", token, new { mode = "second-factor" }), HttpStatusCode.BadRequest, "passkey_ceremony_expired");
        await Expect.ProblemAsync(await PostAsync(browser, "/signin/passkey/options", token, new { mode = "elsewhere" }), HttpStatusCode.BadRequest, "invalid_mode");
        await Expect.ProblemAsync(await PostAsync(browser, "/signin/passkey", token, new { credential = "nonsense" }), HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task The_sign_in_page_offers_the_passkey_button_and_its_script()
    {
        using var browser = App.Client(cookies: true);
        var html = await browser.GetStringAsync("/signin");
        Assert.Contains("data-passkey-mode=\"signin\"", html, StringComparison.Ordinal);
        Assert.Contains("Sign in with a passkey", html, StringComparison.Ordinal);
        Assert.Contains("<script src=\"/js/passkeys.js\"", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/js/passkeys.js")).StatusCode);
    }

    [Fact]
    public async Task Deleting_a_user_deletes_their_passkeys()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        await RegisterAsync(user, "Key");
        using var api = await Seed.AdminApiAsync(App);
        Assert.Equal(HttpStatusCode.NoContent, (await api.DeleteAsync($"/api/v1/users/{user.Id}")).StatusCode);
        await using var scope = App.Scope(out var db);
        Assert.False(await db.Passkeys.AnyAsync(p => p.UserId == user.Id));
    }

    [Fact]
    public async Task The_store_lists_and_removes_a_users_passkeys_for_the_MFA_administration()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var client = await SignedInAsync(user);
        await RegisterAsync(client, "One");
        await RegisterAsync(client, "Two");
        await using var scope = App.Scope(out var db);
        var store = scope.ServiceProvider.GetRequiredService<Tessera.Server.Passkeys.PasskeyStore>();
        Assert.Equal(["One", "Two"], (await store.ListAsync(db, user.Id, default)).Select(p => p.Name).Order().ToArray());
        Assert.Equal(2, await store.RemoveAllAsync(db, user.Id, default));
        Assert.Empty(await store.ListAsync(db, user.Id, default));
    }

    // --- helpers ---

    private async Task<HttpClient> SignedInAsync(User user)
    {
        var client = App.Client(cookies: true);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(client, user.Username, Password)).StatusCode);
        return client;
    }

    private async Task<SoftwareAuthenticator.Credential> RegisterAsync(User user, string name)
    {
        using var client = await SignedInAsync(user);
        return await RegisterAsync(client, name);
    }

    private async Task<SoftwareAuthenticator.Credential> RegisterAsync(HttpClient client, string name)
    {
        var token = await TokenAsync(client, "/profile/mfa");
        var options = await OptionsAsync(client, "/profile/passkeys/options", token);
        var (response, credential) = _authenticator.Create(options);
        var created = await Expect.ResponseAsync(await PostAsync(client, "/profile/passkeys", token, new { name, credential = response }), HttpStatusCode.Created);
        Assert.Equal(name.Trim(), created.GetProperty("name").GetString());
        return credential;
    }

    private async Task<HttpResponseMessage> PasswordlessAsync(HttpClient browser, SoftwareAuthenticator.Credential credential, uint? counter = null, bool badSignature = false, bool userVerified = true)
    {
        var token = await TokenAsync(browser, "/signin");
        var options = await OptionsAsync(browser, "/signin/passkey/options", token, new { mode = "signin" });
        Assert.Equal(0, options.TryGetProperty("allowCredentials", out var allowed) ? allowed.GetArrayLength() : 0);
        Assert.Equal("required", options.GetProperty("userVerification").GetString());
        return await PostAsync(browser, "/signin/passkey", token, new { credential = _authenticator.Get(options, credential, counter, userVerified, badSignature) });
    }

    /// <summary>A passkey row written straight to the database, for a user who could never register one through the pages.</summary>
    private async Task<SoftwareAuthenticator.Credential> StoreDirectlyAsync(Guid userId)
    {
        var credential = new SoftwareAuthenticator.Credential
        {
            Id = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32),
            Key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256),
            UserHandle = userId.ToByteArray(),
        };
        await using var scope = App.Scope(out var db);
        db.Passkeys.Add(new Passkey { UserId = userId, CredentialId = credential.Id, PublicKey = credential.CosePublicKey, UserHandle = credential.UserHandle, Name = "Direct", CreatedAt = DateTime.UtcNow });
        await db.SaveChangesAsync();
        return credential;
    }

    /// <summary>
    /// A browser past the password step of a real sign-in that owes a second factor or an enrolment: SignInFlow.ContinueAsync
    /// issued its pending cookie and sent it to <paramref name="expectedStage"/>'s page.
    /// </summary>
    private async Task<(HttpClient Client, CookieContainer Cookies)> PendingBrowserAsync(User user, PendingStage expectedStage)
    {
        var cookies = new CookieContainer();
        var client = App.CreateDefaultClient(new Uri(App.BaseUrl), new Microsoft.AspNetCore.Mvc.Testing.Handlers.CookieContainerHandler(cookies));
        var response = await Seed.SignInAsync(client, user.Username, Password);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(expectedStage == PendingStage.SecondFactor ? "/signin/mfa" : "/profile/mfa", response.Headers.Location?.OriginalString);
        Assert.NotNull(cookies.GetCookies(new Uri(App.BaseUrl))["tessera.pending"]);
        Assert.Null(cookies.GetCookies(new Uri(App.BaseUrl))["tessera.session"]);
        return (client, cookies);
    }

    private async Task<string> TokenAsync(HttpClient client, string page)
    {
        var html = await client.GetStringAsync(page);
        return AntiforgeryAttribute().Match(html) is { Success: true } m ? WebUtility.HtmlDecode(m.Groups[1].Value) : throw new InvalidOperationException("No passkey antiforgery token in:\n" + html);
    }

    private async Task<JsonElement> OptionsAsync(HttpClient client, string path, string? token = null, object? body = null)
    {
        token ??= await TokenAsync(client, "/profile/mfa");
        return await Expect.ResponseAsync(await PostAsync(client, path, token, body ?? new { }), HttpStatusCode.OK);
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string token, object body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("RequestVerificationToken", token);
        return client.SendAsync(request);
    }

    /// <summary>The session a response set, read with the host's own cookie protection.</summary>
    /// <summary>The session a response's cookie opens, as the server rebuilds it from its stored record (the cookie holds only the record's key).</summary>
    private System.Security.Claims.ClaimsPrincipal SessionOf(HttpResponseMessage response)
    {
        var cookie = response.Headers.GetValues("Set-Cookie").Last(c => c.StartsWith("tessera.session=", StringComparison.Ordinal));
        var value = cookie["tessera.session=".Length..cookie.IndexOf(';', StringComparison.Ordinal)];
        var options = App.Services.GetRequiredService<IOptionsMonitor<CookieAuthenticationOptions>>().Get(WebSessions.Scheme);
        var key = options.TicketDataFormat.Unprotect(value)?.Principal.Claims.SingleOrDefault(c => c.Type.EndsWith("SessionId", StringComparison.Ordinal))?.Value
            ?? throw new InvalidOperationException("The session cookie does not open.");
        using var scope = App.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        var record = db.WebSessions.AsNoTracking().Single(s => s.Id == Guid.Parse(key));
        var username = db.Users.AsNoTracking().Where(u => u.Id == record.UserId).Select(u => u.Username).Single();
        return WebSessions.Principal(record, username);
    }

    /// <summary>The user's most recent stored session, as the server rebuilds it.</summary>
    private System.Security.Claims.ClaimsPrincipal LatestSessionOf(Guid userId)
    {
        using var scope = App.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        var record = db.WebSessions.AsNoTracking().Where(s => s.UserId == userId && s.EndedAt == null).AsEnumerable().MaxBy(s => s.CreatedAt)
            ?? throw new InvalidOperationException("The user has no open session.");
        return WebSessions.Principal(record, db.Users.AsNoTracking().Where(u => u.Id == userId).Select(u => u.Username).Single());
    }

    [GeneratedRegex("data-antiforgery=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryAttribute();
}

/// <summary>The relying party's settings are checked at the start, by name.</summary>
public sealed class PasskeySettingsTests
{
    [Theory]
    [InlineData("not an origin")]
    [InlineData("ftp://localhost")]
    [InlineData("http://localhost/path")]
    [InlineData("https://elsewhere.example")]
    public async Task A_bad_extra_origin_stops_the_start_and_names_the_setting(string origin)
    {
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database, new Dictionary<string, string?> { ["Tessera:Passkeys:ExtraOrigins:0"] = origin });
        var failure = Assert.ThrowsAny<Exception>(() => app.Started());
        Assert.Contains("Tessera:Passkeys:ExtraOrigins:0", failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_subdomain_of_the_relying_party_is_a_valid_extra_origin()
    {
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database, new Dictionary<string, string?> { ["Tessera:Passkeys:ExtraOrigins:0"] = "https://admin.localhost:8443" }).Started();
        Assert.NotNull(app.Services.GetRequiredService<Tessera.Server.Passkeys.PasskeyConfiguration>().Fido2.Origins.SingleOrDefault(o => o == "https://admin.localhost:8443"));
    }
}

internal static class JsonElementText
{
    /// <summary>What a refusal says (status, title, code, detail), without the per-request trace id.</summary>
    public static Task<string> GetRawTextAsync(this JsonElement element)
        => Task.FromResult(string.Join('|', new[] { "status", "title", "code", "detail" }.Select(k => element.TryGetProperty(k, out var v) ? v.ToString() : "")));
}
