using System.Net;
using System.Text.RegularExpressions;
using OtpNet;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Mfa;

/// <summary>A host under the product's MFA policy (`privileged`), per provider.</summary>
public sealed class SqliteMfaHost() : HostFixture("sqlite")
{
    protected override bool ProductMfaPolicy => true;
}

public sealed class PostgresMfaHost() : HostFixture("postgres")
{
    protected override bool ProductMfaPolicy => true;
}

/// <summary>What a person with an authenticator app does, over HTTP: enrol from the key on the page, then type codes.</summary>
public static partial class MfaSteps
{
    /// <summary>The key the enrolment page shows, as an authenticator app would take it.</summary>
    public static byte[] KeyFrom(string html)
        => KeyPattern().Match(html) is { Success: true } m
            ? Base32Encoding.ToBytes(m.Groups[1].Value.Replace(" ", "", StringComparison.Ordinal))
            : throw new InvalidOperationException("No TOTP key on the page:\n" + html);

    /// <summary>The code an authenticator app shows at the host's (test) time, shifted by whole steps.</summary>
    public static string Code(TesseraApp app, byte[] key, int steps = 0)
        => new Totp(key).ComputeTotp(app.Clock.GetUtcNow().UtcDateTime.AddSeconds(30 * steps));

    /// <summary>
    /// Moves the host's clock to 2 seconds into the next 30-second step, so that a code computed now is checked within
    /// the same step (real time still passes): without it, a step boundary between computing and checking would turn
    /// "two steps off" into one, now and then.
    /// </summary>
    public static void StartOfStep(TesseraApp app)
    {
        var intoStep = app.Clock.GetUtcNow().ToUnixTimeMilliseconds() % 30_000;
        app.Clock.Advance(TimeSpan.FromMilliseconds(30_000 - intoStep + 2_000));
    }

    public static IReadOnlyList<string> RecoveryCodesFrom(string html)
        => [.. RecoveryCodePattern().Matches(html).Select(m => m.Groups[1].Value)];

    /// <summary>
    /// On /profile/mfa (with a session or a pending enrolment): reads the key and confirms it with a valid code.
    /// Returns the key and the recovery codes shown once.
    /// </summary>
    public static async Task<(byte[] Key, IReadOnlyList<string> RecoveryCodes, HttpResponseMessage Confirmed)> EnrolAsync(TesseraApp app, HttpClient browser)
    {
        var page = await browser.GetAsync("/profile/mfa");
        var html = await page.Content.ReadAsStringAsync();
        Assert.True(page.StatusCode == HttpStatusCode.OK, $"GET /profile/mfa: {(int)page.StatusCode} {page.Headers.Location}\n{html}");
        var key = KeyFrom(html);
        StartOfStep(app);
        var confirmed = await browser.PostAsync("/profile/mfa?handler=Confirm", Form(html, ("code", Code(app, key))));
        var body = await confirmed.Content.ReadAsStringAsync();
        Assert.True(confirmed.StatusCode == HttpStatusCode.OK, $"confirming the enrolment: {(int)confirmed.StatusCode}\n{body}");
        var codes = RecoveryCodesFrom(body);
        Assert.Equal(10, codes.Count);
        return (key, codes, confirmed);
    }

    /// <summary>The second step: GET /signin/mfa, then POST the code.</summary>
    public static async Task<HttpResponseMessage> SecondStepAsync(HttpClient browser, string code)
    {
        var page = await browser.GetStringAsync("/signin/mfa");
        return await browser.PostAsync("/signin/mfa", Form(page, ("code", code)));
    }

    /// <summary>A form post with the page's antiforgery token.</summary>
    public static FormUrlEncodedContent Form(string page, params (string Name, string Value)[] fields)
        => new(fields.Select(f => KeyValuePair.Create(f.Name, f.Value)).Append(KeyValuePair.Create("__RequestVerificationToken", Seed.AntiforgeryToken(page))));

    public static bool HasSession(HttpResponseMessage response)
        => response.Headers.TryGetValues("Set-Cookie", out var cookies)
            && cookies.Any(c => c.StartsWith("tessera.session=", StringComparison.Ordinal) && !c.StartsWith("tessera.session=;", StringComparison.Ordinal));

    [GeneratedRegex("id=\"totp-key\">([A-Z2-7 ]+)<")]
    private static partial Regex KeyPattern();

    [GeneratedRegex("<li>([23456789A-Z]{5}-[23456789A-Z]{5})</li>")]
    private static partial Regex RecoveryCodePattern();
}
