using System.Text;

namespace ActorNat.Core.Tests.Conformance;

/// <summary>Python's <c>shlex.split</c> (POSIX mode, no comments) and <c>shlex.quote</c>.</summary>
internal static class Shlex
{
    public static List<string> Split(string line)
    {
        var tokens = new List<string>();
        var cur = new StringBuilder();
        bool inToken = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (char.IsWhiteSpace(c))
            {
                if (inToken) { tokens.Add(cur.ToString()); cur.Clear(); inToken = false; }
                continue;
            }
            inToken = true;
            if (c == '\\')
            {
                if (++i >= line.Length) throw new FormatException("No escaped character");
                cur.Append(line[i]);
            }
            else if (c == '\'')
            {
                int end = line.IndexOf('\'', i + 1);
                if (end < 0) throw new FormatException("No closing quotation");
                cur.Append(line, i + 1, end - i - 1);
                i = end;
            }
            else if (c == '"')
            {
                for (i++; ; i++)
                {
                    if (i >= line.Length) throw new FormatException("No closing quotation");
                    if (line[i] == '"') break;
                    if (line[i] == '\\' && i + 1 < line.Length && line[i + 1] is '"' or '\\') i++;
                    cur.Append(line[i]);
                }
            }
            else cur.Append(c);
        }
        if (inToken) tokens.Add(cur.ToString());
        return tokens;
    }

    public static string Quote(string s)
    {
        if (s.Length == 0) return "''";
        if (s.All(c => char.IsAsciiLetterOrDigit(c) || "_@%+=:,./-".Contains(c))) return s;
        return "'" + s.Replace("'", "'\"'\"'") + "'";
    }

    public static string Join(IEnumerable<string> words) => string.Join(" ", words.Select(Quote));
}
