using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;
using static Tessera.Server.Tests.Mfa.MfaSteps;

namespace Tessera.Server.Tests.Mfa;

public sealed class SqliteMfaTests(SqliteMfaHost host) : MfaTests<SqliteMfaHost>(host);

public sealed class PostgresMfaTests(PostgresMfaHost host) : MfaTests<PostgresMfaHost>(host);

/// <summary>
/// TOTP, recovery codes, the second step of sign-in, enrolment as the policy requires it, step-up, tokens' amr and
/// acr, and the administration of MFA, under the product's default policy (`privileged`). Codes are computed here
/// from the key the page shows, at the host's clock, which the tests move instead of waiting.
/// </summary>
public abstract class MfaTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private const string Password = "Quiet-Harbour-Lantern-73";
    private TesseraApp App => host.App;

    [Fact]
    public async Task The_privileged_default_sends_a_new_administrator_to_enrolment_and_nowhere_else_until_done()
    {
        var admin = await Seed.UserAsync(App, UserType.BackOffice, Password, "Administrator");
        using var browser = App.Client(cookies: true);
        var signedIn = await Seed.SignInAsync(browser, admin.Username, Password);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal("/profile/mfa", signedIn.Headers.Location?.OriginalString);
        Assert.False(HasSession(signedIn));

        foreach (var path in new[] { "/admin/users", "/profile", "/", new AuthorizationCodeClient().AuthorizeUrl() })
        {
            var elsewhere = await browser.GetAsync(path);
            Assert.True(elsewhere.StatusCode == HttpStatusCode.Redirect && elsewhere.Headers.Location?.OriginalString == "/profile/mfa",
                $"{path}: {(int)elsewhere.StatusCode} {elsewhere.Headers.Location}");
        }

        var page = await browser.GetStringAsync("/profile/mfa");
        Assert.Contains("id=\"enrol-required\"", page, StringComparison.Ordinal);
        Assert.Contains("src=\"data:image/png;base64,", page, StringComparison.Ordinal);
        Assert.Contains($"href=\"otpauth://totp/Tessera:{admin.Username}?secret=", page, StringComparison.Ordinal);
        var key = KeyFrom(page);
        var wrong = await browser.PostAsync("/profile/mfa?handler=Confirm", Form(page, ("code", Other(Code(App, key)))));
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);

        var (_, codes, confirmed) = await EnrolAsync(App, browser);
        Assert.True(HasSession(confirmed));
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/admin/users")).StatusCode);

        await using var scope = App.Scope(out var db);
        var stored = await db.TotpAuthenticators.SingleAsync(t => t.UserId == admin.Id);
        Assert.DoesNotContain(Encoding.ASCII.GetString(key), stored.ProtectedSecret, StringComparison.Ordinal);
        Assert.Equal(10, await db.RecoveryCodes.CountAsync(c => c.UserId == admin.Id));
        Assert.False(await db.RecoveryCodes.AnyAsync(c => c.UserId == admin.Id && codes.Contains(c.CodeHash)));
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "mfa.totp.enrolled" && a.TargetId == admin.Id.ToString() && a.ActorId == admin.Id));
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "mfa.recovery_codes.generated" && a.TargetId == admin.Id.ToString()));
    }

    [Fact]
    public async Task A_user_who_enrolled_signs_in_with_a_TOTP_code_once_within_one_step_of_drift()
    {
        var (user, key, _) = await EnrolledUserAsync();

        // Within the window of the code used at enrolment, that code is a replay.
        using (var replay = App.Client(cookies: true))
        {
            await SignInToSecondStepAsync(replay, user.Username);
            var refused = await SecondStepAsync(replay, Code(App, key));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.False(HasSession(refused));
        }

        App.Clock.Advance(TimeSpan.FromMinutes(2));
        foreach (var (steps, accepted) in new[] { (-1, true), (1, true), (-2, false), (2, false), (0, true) })
        {
            App.Clock.Advance(TimeSpan.FromMinutes(2));
            using var browser = App.Client(cookies: true);
            await SignInToSecondStepAsync(browser, user.Username);
            StartOfStep(App);
            var code = Code(App, key, steps);
            var response = await SecondStepAsync(browser, code);
            Assert.True(accepted == (response.StatusCode == HttpStatusCode.Redirect), $"{steps} steps: {(int)response.StatusCode}");
            Assert.Equal(accepted, HasSession(response));
            if (accepted)
            {
                Assert.Equal("/", response.Headers.Location?.OriginalString);
                Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/profile")).StatusCode);

                // The same code again, at once: refused.
                using var again = App.Client(cookies: true);
                await SignInToSecondStepAsync(again, user.Username);
                Assert.Equal(HttpStatusCode.BadRequest, (await SecondStepAsync(again, code)).StatusCode);
            }
        }

        await using var scope = App.Scope(out var db);
        var events = await db.AuditEvents.Where(a => a.Action == "signin.mfa" && a.TargetId == user.Id.ToString()).ToListAsync();
        Assert.Equal(3, events.Count(e => e.Outcome == "success" && e.Details!.Contains("\"method\":\"totp\"", StringComparison.Ordinal)));
        Assert.Equal(6, events.Count(e => e.Outcome == "failure" && e.Details!.Contains("wrong_code", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_recovery_code_works_once()
    {
        var (user, _, codes) = await EnrolledUserAsync();
        using (var browser = App.Client(cookies: true))
        {
            await SignInToSecondStepAsync(browser, user.Username);
            var response = await SecondStepAsync(browser, codes[3].ToLowerInvariant());
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.True(HasSession(response));
        }

        using (var browser = App.Client(cookies: true))
        {
            await SignInToSecondStepAsync(browser, user.Username);
            Assert.Equal(HttpStatusCode.BadRequest, (await SecondStepAsync(browser, codes[3])).StatusCode);
        }

        using var api = await Seed.AdminApiAsync(App);
        var methods = await Expect.ResponseAsync(await api.GetAsync($"/api/v1/users/{user.Id}/mfa"), HttpStatusCode.OK);
        var recovery = methods.GetProperty("methods").EnumerateArray().Single(m => m.GetProperty("type").GetString() == "recovery_codes");
        Assert.Equal(9, recovery.GetProperty("remaining").GetInt32());
        Assert.NotEqual(JsonValueKind.Null, recovery.GetProperty("lastUsedAt").ValueKind);
    }

    [Fact]
    public async Task Wrong_codes_count_toward_the_lockout_and_a_locked_user_gets_no_session_with_the_right_code()
    {
        var (user, key, _) = await EnrolledUserAsync();
        App.Clock.Advance(TimeSpan.FromMinutes(1));
        StartOfStep(App);
        using var browser = App.Client(cookies: true);
        await SignInToSecondStepAsync(browser, user.Username);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await SecondStepAsync(browser, Other(Code(App, key)))).StatusCode);
        }

        var page = await browser.GetAsync("/signin/mfa");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        using var retry = App.Client(cookies: true);
        var signIn = await Seed.SignInAsync(retry, user.Username, Password);
        Assert.Equal(HttpStatusCode.BadRequest, signIn.StatusCode);

        await using var scope = App.Scope(out var db);
        Assert.NotNull((await db.Users.SingleAsync(u => u.Id == user.Id)).LockedUntil);
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "user.locked" && a.TargetId == user.Id.ToString()));
    }

    [Fact]
    public async Task Sensitive_actions_prompt_for_a_second_factor_after_stepUpMinutes_and_are_not_done_before_it()
    {
        var admin = await Seed.UserAsync(App, UserType.BackOffice, Password, "Administrator");
        var target = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var browser = App.Client(cookies: true);
        await Seed.SignInAsync(browser, admin.Username, Password);
        var (key, _, _) = await EnrolAsync(App, browser);

        var first = await SetPasswordAsync(browser, target.Id, "Amber-Meadow-Compass-58");
        Assert.True(first.StatusCode == HttpStatusCode.Redirect && first.Headers.Location?.OriginalString == $"/admin/users/{target.Id}",
            $"{(int)first.StatusCode} {first.Headers.Location}");

        var policyPage = await browser.GetStringAsync("/admin/mfa-policy");
        Assert.Contains("id=\"required-privileged\" checked=\"checked\"", policyPage, StringComparison.Ordinal);

        App.Clock.Advance(TimeSpan.FromMinutes(16));
        var policyPrompt = await browser.PostAsync("/admin/mfa-policy", Form(policyPage, ("Required", "none"), ("StepUpMinutes", "15"), ("TrustProviderMfa", "true")));
        Assert.StartsWith("/signin/step-up?returnUrl=%2Fadmin%2Fmfa-policy", policyPrompt.Headers.Location?.OriginalString, StringComparison.Ordinal);
        using (var api = await Seed.AdminApiAsync(App))
        {
            Assert.Equal("privileged", (await Expect.ResponseAsync(await api.GetAsync("/api/v1/mfa-policy"), HttpStatusCode.OK)).GetProperty("required").GetString());
        }

        string StampOf() { using var s = App.Scope(out var db); return db.Users.AsNoTracking().Single(u => u.Id == target.Id).PasswordHash!; }
        var before = StampOf();
        var prompted = await SetPasswordAsync(browser, target.Id, "Copper-Willow-Signal-91");
        Assert.Equal(HttpStatusCode.Redirect, prompted.StatusCode);
        Assert.Equal($"/signin/step-up?returnUrl={Uri.EscapeDataString($"/admin/users/{target.Id}")}", prompted.Headers.Location?.OriginalString);
        Assert.Equal(before, StampOf());

        var prompt = await browser.GetStringAsync(prompted.Headers.Location!.OriginalString);
        StartOfStep(App);
        var wrong = await browser.PostAsync("/signin/step-up", Form(prompt, ("code", Other(Code(App, key))), ("returnUrl", $"/admin/users/{target.Id}")));
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        var stepped = await browser.PostAsync("/signin/step-up", Form(prompt, ("code", Code(App, key)), ("returnUrl", $"/admin/users/{target.Id}")));
        Assert.Equal(HttpStatusCode.Redirect, stepped.StatusCode);
        Assert.Equal($"/admin/users/{target.Id}", stepped.Headers.Location?.OriginalString);

        var again = await SetPasswordAsync(browser, target.Id, "Copper-Willow-Signal-91");
        Assert.Equal($"/admin/users/{target.Id}", again.Headers.Location?.OriginalString);
        Assert.NotEqual(before, StampOf());

        await using var scope = App.Scope(out var db);
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "mfa.step_up" && a.Outcome == "success" && a.TargetId == admin.Id.ToString()));
    }

    [Fact]
    public async Task Access_tokens_from_the_authorization_code_flow_carry_what_the_session_proved()
    {
        var (user, key, _) = await EnrolledUserAsync();
        App.Clock.Advance(TimeSpan.FromMinutes(1));
        StartOfStep(App);
        using (var browser = App.Client(cookies: true))
        {
            await SignInToSecondStepAsync(browser, user.Username);
            Assert.Equal(HttpStatusCode.Redirect, (await SecondStepAsync(browser, Code(App, key))).StatusCode);
            var claims = await TokenClaimsAsync(browser);
            Assert.Equal(["pwd", "otp", "mfa"], claims.GetProperty("amr").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal("2", claims.GetProperty("acr").GetString());
        }

        var plain = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using (var browser = App.Client(cookies: true))
        {
            Assert.Equal("/", (await Seed.SignInAsync(browser, plain.Username, Password)).Headers.Location?.OriginalString);
            var claims = await TokenClaimsAsync(browser);
            Assert.Equal(["pwd"], claims.GetProperty("amr").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal("1", claims.GetProperty("acr").GetString());
        }
    }

    [Fact]
    public async Task An_administrator_lists_and_resets_a_users_MFA_within_the_delegation_rules()
    {
        var (user, _, _) = await EnrolledUserAsync("Administrator");
        using var api = await Seed.AdminApiAsync(App);
        var listed = await Expect.ResponseAsync(await api.GetAsync($"/api/v1/users/{user.Id}/mfa"), HttpStatusCode.OK);
        Assert.Equal(["totp", "recovery_codes"], listed.GetProperty("methods").EnumerateArray().Select(m => m.GetProperty("type").GetString()));
        await Expect.ProblemAsync(await api.GetAsync($"/api/v1/users/{Guid.NewGuid()}/mfa"), HttpStatusCode.NotFound, "not_found");

        using var actor = await DelegationArrange.ActorAsync(App, api, [Privileges.ManageUsers, Privileges.ViewUsers]);
        await Expect.ProblemAsync(await actor.Client.DeleteAsync($"/api/v1/users/{user.Id}/mfa"), HttpStatusCode.Forbidden, "target_outranks_actor");
        using (var viewer = await DelegationArrange.ActorAsync(App, api, [Privileges.ViewRoles]))
        {
            await Expect.ProblemAsync(await viewer.Client.GetAsync($"/api/v1/users/{user.Id}/mfa"), HttpStatusCode.Forbidden, "forbidden");
        }

        Assert.Equal(2, (await Expect.ResponseAsync(await api.GetAsync($"/api/v1/users/{user.Id}/mfa"), HttpStatusCode.OK)).GetProperty("methods").GetArrayLength());

        string stamp;
        await using (var scope = App.Scope(out var db))
        {
            stamp = (await db.Users.SingleAsync(u => u.Id == user.Id)).SecurityStamp;
        }

        await Expect.ResponseAsync(await api.DeleteAsync($"/api/v1/users/{user.Id}/mfa"), HttpStatusCode.NoContent);
        Assert.Equal(0, (await Expect.ResponseAsync(await api.GetAsync($"/api/v1/users/{user.Id}/mfa"), HttpStatusCode.OK)).GetProperty("methods").GetArrayLength());

        // The policy requires MFA of an administrator: the next sign-in goes to enrolment again.
        using var browser = App.Client(cookies: true);
        Assert.Equal("/profile/mfa", (await Seed.SignInAsync(browser, user.Username, Password)).Headers.Location?.OriginalString);

        await using (var scope = App.Scope(out var db))
        {
            Assert.NotEqual(stamp, (await db.Users.SingleAsync(u => u.Id == user.Id)).SecurityStamp);
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "mfa.reset" && a.TargetId == user.Id.ToString() && a.Outcome == "success"));
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "access.denied" && a.TargetId == user.Id.ToString() && a.Details!.Contains("mfa.reset")));
        }
    }

    [Fact]
    public async Task The_MFA_policy_is_read_and_replaced_with_validation_and_its_own_privilege()
    {
        using var api = await Seed.AdminApiAsync(App);
        var policy = await Expect.ResponseAsync(await api.GetAsync("/api/v1/mfa-policy"), HttpStatusCode.OK);
        Assert.Equal("privileged", policy.GetProperty("required").GetString());
        Assert.Equal(15, policy.GetProperty("stepUpMinutes").GetInt32());
        Assert.True(policy.GetProperty("trustProviderMfa").GetBoolean());
        Assert.Equal(0, policy.GetProperty("requiredRoles").GetArrayLength());

        await Expect.ProblemAsync(await api.PutAsJsonAsync("/api/v1/mfa-policy", Body("sometimes")), HttpStatusCode.BadRequest, "invalid_mfa_policy");
        await Expect.ProblemAsync(await api.PutAsJsonAsync("/api/v1/mfa-policy", Body("all", stepUpMinutes: 0)), HttpStatusCode.BadRequest, "invalid_mfa_policy");
        await Expect.ProblemAsync(await api.PutAsJsonAsync("/api/v1/mfa-policy", Body("all", roles: ["No Such Role"])), HttpStatusCode.BadRequest, "unknown_role");

        using (var manager = await DelegationArrange.ActorAsync(App, api, [Privileges.ManageUsers, Privileges.ViewUsers]))
        {
            await Expect.ProblemAsync(await manager.Client.GetAsync("/api/v1/mfa-policy"), HttpStatusCode.Forbidden, "forbidden");
            await Expect.ProblemAsync(await manager.Client.PutAsJsonAsync("/api/v1/mfa-policy", Body("none")), HttpStatusCode.Forbidden, "forbidden");
        }

        await using (var scope = App.Scope(out var db))
        {
            Assert.False(await db.AuditEvents.AnyAsync(a => a.Action == "mfa_policy.changed"));
        }

        try
        {
            var changed = await Expect.ResponseAsync(await api.PutAsJsonAsync("/api/v1/mfa-policy", Body("all", stepUpMinutes: 5, roles: ["administrator"], trust: false)), HttpStatusCode.OK);
            Assert.Equal(["Administrator"], changed.GetProperty("requiredRoles").EnumerateArray().Select(r => r.GetString()));
            var read = await Expect.ResponseAsync(await api.GetAsync("/api/v1/mfa-policy"), HttpStatusCode.OK);
            Assert.Equal(("all", 5, false), (read.GetProperty("required").GetString(), read.GetProperty("stepUpMinutes").GetInt32(), read.GetProperty("trustProviderMfa").GetBoolean()));

            // Under `all`, a user without privileges now enrols too.
            var plain = await Seed.UserAsync(App, UserType.BackOffice, Password);
            using var browser = App.Client(cookies: true);
            Assert.Equal("/profile/mfa", (await Seed.SignInAsync(browser, plain.Username, Password)).Headers.Location?.OriginalString);
        }
        finally
        {
            await Expect.ResponseAsync(await api.PutAsJsonAsync("/api/v1/mfa-policy", Body("privileged")), HttpStatusCode.OK);
        }

        await using (var scope = App.Scope(out var db))
        {
            Assert.Equal(2, await db.AuditEvents.CountAsync(a => a.Action == "mfa_policy.changed" && a.TargetType == "mfa_policy"));
        }
    }

    private static object Body(string required, int stepUpMinutes = 15, string[]? roles = null, bool trust = true)
        => new { required, requiredRoles = roles ?? [], stepUpMinutes, trustProviderMfa = trust };

    /// <summary>A user (no privileges unless roles are given) who enrolled TOTP from their profile.</summary>
    private async Task<(Tessera.Server.Storage.User User, byte[] Key, IReadOnlyList<string> Codes)> EnrolledUserAsync(params string[] roles)
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password, roles);
        using var browser = App.Client(cookies: true);
        var signedIn = await Seed.SignInAsync(browser, user.Username, Password);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        var (key, codes, _) = await EnrolAsync(App, browser);
        return (user, key, codes);
    }

    private async Task SignInToSecondStepAsync(HttpClient browser, string username)
    {
        var response = await Seed.SignInAsync(browser, username, Password);
        Assert.True(response.StatusCode == HttpStatusCode.Redirect && response.Headers.Location?.OriginalString == "/signin/mfa",
            $"sign-in of {username}: {(int)response.StatusCode} {response.Headers.Location}");
        Assert.False(HasSession(response));
    }

    private static async Task<HttpResponseMessage> SetPasswordAsync(HttpClient browser, Guid id, string password)
    {
        var page = await browser.GetStringAsync($"/admin/users/{id}");
        return await browser.PostAsync($"/admin/users/{id}?handler=Password", Form(page, ("NewPassword", password), ("ConfirmPassword", password)));
    }

    private async Task<JsonElement> TokenClaimsAsync(HttpClient browser)
    {
        var flow = new AuthorizationCodeClient();
        var code = flow.CodeFrom(await browser.GetAsync(flow.AuthorizeUrl()));
        using var client = App.Client();
        var body = await Expect.ResponseAsync(await flow.RedeemAsync(client, code), HttpStatusCode.OK);
        var token = body.GetProperty("access_token").GetString()!;
        return JsonDocument.Parse(WebEncoders.Base64UrlDecode(token.Split('.')[1])).RootElement.Clone();
    }

    /// <summary>A well-formed code that is not this one.</summary>
    private static string Other(string code) => ((int.Parse(code, System.Globalization.CultureInfo.InvariantCulture) + 500_000) % 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
}
