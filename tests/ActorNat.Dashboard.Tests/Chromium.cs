using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ActorNat.Dashboard.Tests;

/// <summary>
/// Headless Chromium (Debian's /usr/bin/chromium) driven over the Chrome DevTools Protocol on a WebSocket: navigate,
/// evaluate JavaScript, capture screenshots. Nothing is downloaded; a fresh profile per instance; only loopback.
/// </summary>
public sealed class Chromium : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _ws = new();
    private readonly Dictionary<int, TaskCompletionSource<JsonObject>> _pending = [];
    private readonly CancellationTokenSource _stop = new();
    private int _nextId;
    private Task _reader = Task.CompletedTask;

    private Chromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    public static string? Executable =>
        new[] { Environment.GetEnvironmentVariable("ACTORNAT_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser" }
            .FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p));

    public static async Task<Chromium> StartAsync(int width, int height, TimeSpan timeout)
    {
        var exe = Executable ?? throw new InvalidOperationException("chromium is not installed (bash deploy/install-deps.sh)");
        var profile = Directory.CreateTempSubdirectory("actornat-chromium-").FullName;
        var psi = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[]
                 {
                     "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions", "--mute-audio",
                     "--hide-scrollbars", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", $"--window-size={width},{height}",
                     $"--user-data-dir={profile}", "about:blank",
                 })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var c = new Chromium(p, profile);
        try
        {
            await c.ConnectAsync(timeout);
            await c.SendAsync("Emulation.setDeviceMetricsOverride", new JsonObject { ["width"] = width, ["height"] = height, ["deviceScaleFactor"] = 1, ["mobile"] = false });
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
        return c;
    }

    private async Task ConnectAsync(TimeSpan timeout)
    {
        // Chromium writes the port it chose (and the browser's path) into the profile once it listens.
        var portFile = Path.Combine(_profile, "DevToolsActivePort");
        var deadline = DateTime.UtcNow + timeout;
        int port = 0;
        while (port == 0)
        {
            if (_process.HasExited) throw new InvalidOperationException($"chromium exited with {_process.ExitCode} before it listened");
            if (File.Exists(portFile) && int.TryParse((await File.ReadAllLinesAsync(portFile)).FirstOrDefault(), out var p) && p > 0) port = p;
            else if (DateTime.UtcNow > deadline) throw new TimeoutException("chromium did not open its DevTools port within " + timeout);
            else await Task.Delay(100); // polling for the file chromium writes
        }
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        JsonArray targets;
        do
        {
            targets = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list"))!.AsArray();
            if (targets.Any(t => (string?)t!["type"] == "page")) break;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("chromium opened no page");
            await Task.Delay(100); // polling for the first tab
        } while (true);
        var wsUrl = (string)targets.First(t => (string?)t!["type"] == "page")!["webSocketDebuggerUrl"]!;
        await _ws.ConnectAsync(new Uri(wsUrl), CancellationToken.None);
        _reader = Task.Run(ReadLoop);
    }

    private async Task ReadLoop()
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested && _ws.State == WebSocketState.Open)
            {
                var r = await _ws.ReceiveAsync(buffer, _stop.Token);
                if (r.MessageType == WebSocketMessageType.Close) break;
                message.Write(buffer, 0, r.Count);
                if (!r.EndOfMessage) continue;
                var json = JsonNode.Parse(message.ToArray())!.AsObject();
                message.SetLength(0);
                if (json["id"] is { } id)
                {
                    TaskCompletionSource<JsonObject>? tcs;
                    lock (_pending) _pending.Remove((int)id, out tcs);
                    tcs?.TrySetResult(json);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException) { }
        lock (_pending)
            foreach (var t in _pending.Values) t.TrySetException(new InvalidOperationException("the DevTools connection closed"));
    }

    /// <summary>One DevTools command; its result, or an exception carrying the protocol's error.</summary>
    public async Task<JsonObject> SendAsync(string method, JsonObject? parameters = null, TimeSpan? timeout = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var tcs = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_pending) _pending[id] = tcs;
        var msg = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        await _ws.SendAsync(Encoding.UTF8.GetBytes(msg.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        var reply = await tcs.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(60));
        if (reply["error"] is { } err) throw new InvalidOperationException($"{method}: {err.ToJsonString()}");
        return reply["result"]!.AsObject();
    }

    public Task NavigateAsync(string url) => SendAsync("Page.navigate", new JsonObject { ["url"] = url });

    /// <summary>Evaluates an expression in the page (promises awaited) and returns its value as JSON.</summary>
    public async Task<JsonNode?> EvalAsync(string expression)
    {
        var r = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true });
        if (r["exceptionDetails"] is { } ex) throw new InvalidOperationException($"page script failed: {ex.ToJsonString()}");
        return r["result"]?["value"]?.DeepClone();
    }

    /// <summary>Polls <paramref name="expression"/> until it is true; the last value of <paramref name="explain"/> in the failure.</summary>
    public async Task WaitForAsync(string what, string expression, TimeSpan timeout, string? explain = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                if (await EvalAsync($"!!({expression})") is JsonValue v && v.GetValue<bool>()) return;
            }
            catch (InvalidOperationException) when (DateTime.UtcNow < deadline) { } // a page still loading
            if (DateTime.UtcNow > deadline)
            {
                var state = explain is null ? "" : (await EvalAsync(explain))?.ToJsonString();
                throw new TimeoutException($"the dashboard did not show {what} within {timeout.TotalSeconds:0} s; page state: {state}");
            }
            await Task.Delay(250); // polling the page for the condition
        }
    }

    /// <summary>A PNG of the whole page (beyond the viewport).</summary>
    public async Task ScreenshotAsync(string path)
    {
        var r = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png", ["captureBeyondViewport"] = true });
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await File.WriteAllBytesAsync(path, Convert.FromBase64String((string)r["data"]!));
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { if (_ws.State == WebSocketState.Open) await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None); } catch (WebSocketException) { }
        _ws.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException) { }
        _process.Dispose();
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
