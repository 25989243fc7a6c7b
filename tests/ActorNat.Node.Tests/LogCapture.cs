using System.Collections.Concurrent;

namespace ActorNat.Node.Tests;

/// <summary>Every log record of a node (category, level, text), to wait for a line instead of sleeping.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, LogLevel Level, string Text)> _records = new();
    private readonly SemaphoreSlim _arrived = new(0);

    public IReadOnlyCollection<(string Category, LogLevel Level, string Text)> Records => _records;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    /// <summary>Waits until a record matches, or fails at the deadline with what was logged.</summary>
    public async Task<(string Category, LogLevel Level, string Text)> WaitForAsync(Func<(string Category, LogLevel Level, string Text), bool> match, TimeSpan deadline, string what)
    {
        using var cts = new CancellationTokenSource(deadline);
        while (true)
        {
            foreach (var r in _records) if (match(r)) return r;
            try
            {
                await _arrived.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"no log record {what} within {deadline}; logged:\n" +
                    string.Join("\n", _records.TakeLast(40).Select(r => $"{r.Level} {r.Category}: {r.Text}")));
            }
        }
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            owner._records.Enqueue((category, logLevel, formatter(state, exception) + (exception is null ? "" : " " + exception.GetType().Name + ": " + exception.Message)));
            owner._arrived.Release();
        }
    }
}
