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
        for (int at = 0; at < line.Length; at++)
        {
            var c = line[at];
            // One line is one command: a NUL, newline or other control character cannot hide a second one (a tab
            // between words is whitespace, as in a shell).
            if (char.IsControl(c) && !(c == '\t' && quote == '\0'))
                throw new ParseException($"control character {ToolSyntax.Printable(c)} at position {at + 1} of the line", ToolSyntax.Printable(c));
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
