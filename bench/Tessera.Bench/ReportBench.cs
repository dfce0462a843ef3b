using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tessera.Bench;

/// <summary>
/// The access report against a baseline in the same run: reading the same users through the paged users list
/// (200 a page, by username, following the cursor), then the report as CSV and as JSON, each read to its end.
/// The server's RSS is sampled every 100 ms throughout; the report must not raise it with the number of users.
/// </summary>
internal static class ReportBench
{
    public static async Task<int> RunAsync(Args args)
    {
        var provider = args.Get("provider", "sqlite").ToLowerInvariant();
        var connection = args.Get("connection") ?? throw new ArgumentException("--connection is required (the seeded database).");
        await using var server = await ServerProcess.StartAsync(args.Get("server-dll") ?? ServerProcess.DefaultDll(), provider, connection, Console.Out);
        using var http = new HttpClient { BaseAddress = server.Url, Timeout = TimeSpan.FromHours(1) };
        await Task.Delay(1000);
        var idle = server.RssMegabytes();
        var token = await TokenAsync(http);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"provider {provider}; {Environment.ProcessorCount} cores; server idle RSS {idle:F0} MB"),
            "",
            "| read | users | rows | seconds | rows/s | server peak RSS MB |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        };
        lines.Add(await MeasureAsync(server, "users list, 200 a page (baseline)", () => PagedAsync(http)));
        lines.Add(await MeasureAsync(server, "access report, CSV", () => ReportAsync(http, "csv")));
        lines.Add(await MeasureAsync(server, "access report, JSON", () => ReportAsync(http, "json")));
        var text = string.Join(Environment.NewLine, lines);
        Console.WriteLine(text);
        if (args.Get("out") is { } output)
        {
            await File.WriteAllTextAsync(output, text);
        }

        return 0;
    }

    private static async Task<string> MeasureAsync(ServerProcess server, string name, Func<Task<(int Users, int Rows)>> read)
    {
        using var sampling = new CancellationTokenSource();
        var peak = server.RssMegabytes();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, server.RssMegabytes());
                try { await Task.Delay(100, sampling.Token); } catch (OperationCanceledException) { }
            }
        });
        var watch = Stopwatch.StartNew();
        var (users, rows) = await read();
        var seconds = watch.Elapsed.TotalSeconds;
        await sampling.CancelAsync();
        await sampler;
        return string.Create(CultureInfo.InvariantCulture, $"| {name} | {users:N0} | {rows:N0} | {seconds:F1} | {rows / seconds:N0} | {peak:F0} |");
    }

    private static async Task<(int, int)> PagedAsync(HttpClient http)
    {
        var users = 0;
        string? cursor = null;
        do
        {
            var page = await http.GetFromJsonAsync<JsonElement>($"/api/v1/users?limit=200&sort=username{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}");
            users += page.GetProperty("items").GetArrayLength();
            cursor = page.TryGetProperty("nextCursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
        }
        while (cursor is not null);
        return (users, users);
    }

    private static async Task<(int, int)> ReportAsync(HttpClient http, string format)
    {
        using var response = await http.GetAsync($"/api/v1/access-report?format={format}", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        if (format == "csv")
        {
            using var reader = new StreamReader(body);
            await reader.ReadLineAsync();
            var rows = 0;
            var users = 0;
            var last = "";
            while (await reader.ReadLineAsync() is { } line)
            {
                rows++;
                var id = line[..36];
                if (id != last)
                {
                    users++;
                    last = id;
                }
            }

            return (users, rows);
        }

        // JSON: count the users' objects as they stream, without holding the document.
        var buffer = new byte[64 * 1024];
        var state = new JsonReaderState();
        var (count, grants, depth, leftover) = (0, 0, 0, 0);
        while (true)
        {
            var read = await body.ReadAsync(buffer.AsMemory(leftover));
            var final = read == 0;
            var reader = new Utf8JsonReader(buffer.AsSpan(0, leftover + read), final, state);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    depth++;
                    if (depth == 2)
                    {
                        count++;
                    }
                    else if (depth == 3)
                    {
                        grants++;
                    }
                }
                else if (reader.TokenType == JsonTokenType.EndObject)
                {
                    depth--;
                }
            }

            if (final)
            {
                return (count, grants);
            }

            state = reader.CurrentState;
            leftover = leftover + read - (int)reader.BytesConsumed;
            buffer.AsSpan((int)reader.BytesConsumed, leftover).CopyTo(buffer);
            if (leftover == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }
        }
    }

    private static async Task<string> TokenAsync(HttpClient http)
    {
        using var response = await http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = ServerProcess.AdminClientId,
            ["client_secret"] = ServerProcess.AdminClientSecret,
        }));
        var body = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode
            ? JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!
            : throw new InvalidOperationException($"token: {(int)response.StatusCode} {body}");
    }
}
