using System.Text;

namespace ActorNat.Core.Rules;

/// <summary>Splits a command line into words the way a POSIX shell does for plain words, '…' and "…".</summary>
public static class CommandLine
{
    public static List<string> Split(string line)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        foreach (var c in line)
        {
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else current.Append(c);
                continue;
            }
            if (c is '\'' or '"') { quote = c; inWord = true; continue; }
            if (char.IsWhiteSpace(c))
            {
                if (inWord) { words.Add(current.ToString()); current.Clear(); inWord = false; }
                continue;
            }
            current.Append(c);
            inWord = true;
        }
        if (quote != '\0') throw new ParseException($"unterminated quote {quote}", quote.ToString());
        if (inWord) words.Add(current.ToString());
        return words;
    }
}
