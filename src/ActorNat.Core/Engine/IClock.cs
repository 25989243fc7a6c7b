namespace ActorNat.Core.Engine;

/// <summary>Milliseconds on a monotonic clock. Conntrack timeouts run on it, so a test or a simulation can drive time.</summary>
public interface IClock
{
    long NowMs { get; }
}

/// <summary>The process's monotonic clock.</summary>
public sealed class SystemClock : IClock
{
    public static readonly SystemClock Instance = new();
    public long NowMs => Environment.TickCount64;
}

/// <summary>A clock that moves only when told to: simulations and tests.</summary>
public sealed class ManualClock(long startMs = 0) : IClock
{
    public long NowMs { get; private set; } = startMs;
    public void Advance(long ms) => NowMs += ms;
    public void AdvanceSeconds(double seconds) => NowMs += (long)Math.Round(seconds * 1000);
}
