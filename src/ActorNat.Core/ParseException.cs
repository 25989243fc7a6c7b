namespace ActorNat.Core;

/// <summary>A configuration line that could not be read. <see cref="Token"/> is the word that is wrong, so a user sees where.</summary>
public sealed class ParseException(string message, string token) : FormatException(message)
{
    public string Token { get; } = token;
}
