using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Core.Users;
using Tessera.Server.Storage;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>Arranges users directly in the store, for tests of features that do not create them.</summary>
public static partial class Seed
{
    public static string Unique(string prefix) => $"{prefix}.{Guid.NewGuid():N}"[..(prefix.Length + 11)];

    public static async Task<User> UserAsync(TesseraApp app, UserType type, string? password, params string[] roles)
        => await UserAsync(app, type, password, CredentialMode.Password, null, roles);

    public static async Task<User> UserAsync(TesseraApp app, UserType type, string? password, CredentialMode mode, string? email, params string[] roles)
    {
        await using var scope = app.Scope(out var db);
        var now = DateTime.UtcNow;
        var user = new User
        {
            Username = "", NormalizedUsername = "", Email = "", NormalizedEmail = "",
            Type = type, Status = password is null && mode == CredentialMode.Password ? UserStatus.Invited : UserStatus.Active,
            CredentialMode = mode, CreatedAt = now, UpdatedAt = now,
        };
        var username = Unique(type == UserType.Api ? "api" : "bo");
        user.SetUsername(username);
        user.SetEmail(email ?? $"{username}@seed.test");
        user.SetNames("Seed", username);
        if (password is not null)
        {
            var hash = scope.ServiceProvider.GetRequiredService<IPasswordHasher<User>>().HashPassword(user, password);
            if (type == UserType.Api)
            {
                // An API user's secret is its credential named "initial", as POST /users/{id}/password makes it.
                db.ApiCredentials.Add(new ApiCredential
                {
                    UserId = user.Id, Name = "initial", NormalizedName = "INITIAL", Type = Core.Credentials.ApiCredentialType.Secret,
                    SecretHash = hash, CreatedAt = now,
                });
            }
            else
            {
                user.PasswordHash = hash;
            }
        }

        var wanted = roles.Select(r => r.ToUpperInvariant()).ToList();
        foreach (var role in await db.Roles.Where(r => wanted.Contains(r.NormalizedName)).ToListAsync())
        {
            user.Roles.Add(new UserRole { RoleId = role.Id });
        }

        db.Users.Add(user);
        await db.SaveChangesAsync();
        return user;
    }

    public static async Task UpdateUserAsync(TesseraApp app, Guid id, Action<User> change)
    {
        await using var scope = app.Scope(out var db);
        var user = await db.Users.SingleAsync(u => u.Id == id);
        change(user);
        await db.SaveChangesAsync();
    }

    /// <summary>POST /connect/token with client credentials, as client_secret_basic or client_secret_post.</summary>
    public static async Task<HttpResponseMessage> RequestTokenAsync(HttpClient client, string clientId, string secret, bool basic = true)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token");
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };
        if (basic)
        {
            var raw = Uri.EscapeDataString(clientId) + ":" + Uri.EscapeDataString(secret);
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(raw)));
        }
        else
        {
            form["client_id"] = clientId;
            form["client_secret"] = secret;
        }

        request.Content = new FormUrlEncodedContent(form);
        return await client.SendAsync(request);
    }

    public static async Task<string> TokenAsync(HttpClient client, string clientId, string secret, bool basic = true)
    {
        var response = await RequestTokenAsync(client, clientId, secret, basic);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"token request for {clientId}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>A client that sends the bootstrap API administrator's bearer token.</summary>
    public static async Task<HttpClient> AdminApiAsync(TesseraApp app)
    {
        var client = app.Client();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret));
        return client;
    }

    public static HttpClient WithBearer(TesseraApp app, string token)
    {
        var client = app.Client();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>The antiforgery token of the first form on a page.</summary>
    public static string AntiforgeryToken(string html)
        => AntiforgeryPattern().Match(html) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException("No antiforgery token in:\n" + html);

    /// <summary>Signs in through the Back Office sign-in page; returns the response of the POST.</summary>
    public static async Task<HttpResponseMessage> SignInAsync(HttpClient client, string login, string password)
    {
        var page = await client.GetStringAsync("/signin");
        return await client.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Login"] = login,
            ["Password"] = password,
            ["returnUrl"] = "/",
            ["__RequestVerificationToken"] = AntiforgeryToken(page),
        }));
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryPattern();
}
