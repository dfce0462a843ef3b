using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Credentials;

public sealed class HashingAndLimitsTests(SqliteHost host) : IClassFixture<SqliteHost>
{
    [Fact]
    public async Task A_hash_made_with_older_parameters_is_upgraded_at_the_next_successful_sign_in()
    {
        const string password = "Old-Parameters-Password-1";
        var user = await Seed.UserAsync(host.App, UserType.BackOffice, password);
        var weak = new PasswordHasher<User>(Options.Create(new PasswordHasherOptions { IterationCount = 10_000 }));
        var oldHash = "";
        await Seed.UpdateUserAsync(host.App, user.Id, u => u.PasswordHash = oldHash = weak.HashPassword(u, password));

        using var browser = host.App.Client(cookies: true);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(browser, user.Username, password)).StatusCode);

        await using var scope = host.App.Scope(out var db);
        var upgraded = (await db.Users.SingleAsync(u => u.Id == user.Id)).PasswordHash!;
        Assert.NotEqual(oldHash, upgraded);
        Assert.Equal(210_000, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(Convert.FromBase64String(upgraded).AsSpan(5, 4)));
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(host.App.Client(cookies: true), user.Username, password)).StatusCode);
    }

    [Fact]
    public async Task Forgotten_password_requests_are_rate_limited_per_client_address()
    {
        await using var app = new TesseraApp(host.App.Database).Started();
        using var client = app.Client();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 21; i++)
        {
            statuses.Add((await client.PostAsJsonAsync("/api/v1/password/forgot", new { email = $"someone{i}@example.com" })).StatusCode);
        }

        Assert.Equal(20, statuses.Count(s => s == HttpStatusCode.Accepted));
        var limited = await client.PostAsJsonAsync("/api/v1/password/forgot", new { email = "late@example.com" });
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("too_many_requests", (await limited.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("code").GetString());
    }
}
