using System.Text;

namespace TodoScale.Application.Data;

/// <summary>
/// One statement written once, with its tables as named placeholders (<c>{todos_active}</c>) and its parameters
/// positional (<c>$1</c>). The application renders it as written (each placeholder becomes its own name); the
/// benchmarks render the very same statement on another table, or with pgbench's <c>:name</c> variables, through
/// <see cref="Render(IReadOnlyDictionary{string, string}?, Func{int, string}?)"/>. This replaces copying statements
/// and rewriting them with string replacement or regular expressions, which let a benchmark keep measuring an
/// older statement after the application's changed.
/// </summary>
public sealed class SqlTemplate
{
    private readonly IReadOnlyList<Segment> _segments;

    public SqlTemplate(string template)
    {
        Template = template;
        _segments = Parse(template);
        Tables = _segments.Where(s => s.Table is not null).Select(s => s.Table!).Distinct(StringComparer.Ordinal).ToArray();
        ParameterCount = _segments.Where(s => s.Parameter > 0).Select(s => s.Parameter).DefaultIfEmpty(0).Max();
        Sql = Render();
    }

    /// <summary>The text as written, placeholders included.</summary>
    public string Template { get; }

    /// <summary>The statement the application sends: every placeholder is its own table.</summary>
    public string Sql { get; }

    /// <summary>The table placeholders the statement names, in order of first use.</summary>
    public IReadOnlyList<string> Tables { get; }

    /// <summary>The highest positional parameter ($n) the statement uses.</summary>
    public int ParameterCount { get; }

    /// <summary>
    /// The statement with some tables replaced (placeholder name → table; the others keep their name) and each
    /// parameter written by <paramref name="parameter"/> (null: <c>$n</c> as written). A replacement for a table the
    /// statement does not read throws: the caller's idea of the statement is out of date.
    /// </summary>
    public string Render(IReadOnlyDictionary<string, string>? tables = null, Func<int, string>? parameter = null)
    {
        foreach (var name in tables?.Keys ?? [])
        {
            if (!Tables.Contains(name, StringComparer.Ordinal))
            {
                throw new InvalidOperationException($"the statement does not read {name} (it reads {string.Join(", ", Tables)}); adapt the caller");
            }
        }

        var sb = new StringBuilder(Template.Length);
        foreach (var s in _segments)
        {
            sb.Append(s switch
            {
                { Table: { } t } => tables?.GetValueOrDefault(t) ?? t,
                { Parameter: > 0 and var n } => parameter?.Invoke(n) ?? "$" + n.ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => s.Text,
            });
        }

        return sb.ToString();
    }

    public override string ToString() => Sql;

    private sealed record Segment(string? Text, string? Table, int Parameter);

    private static List<Segment> Parse(string template)
    {
        var segments = new List<Segment>();
        var text = new StringBuilder();
        for (var i = 0; i < template.Length;)
        {
            var c = template[i];
            if (c == '{')
            {
                var end = template.IndexOf('}', i + 1);
                var name = end > i + 1 ? template[(i + 1)..end] : "";
                if (name.Length == 0 || !name.All(x => char.IsAsciiLetterLower(x) || char.IsAsciiDigit(x) || x == '_'))
                {
                    throw new ArgumentException($"a brace in a SQL template must enclose a table name: {template[i..Math.Min(template.Length, i + 20)]}");
                }

                Flush();
                segments.Add(new Segment(null, name, 0));
                i = end + 1;
            }
            else if (c == '$' && i + 1 < template.Length && char.IsAsciiDigit(template[i + 1]))
            {
                var end = i + 1;
                while (end < template.Length && char.IsAsciiDigit(template[end]))
                {
                    end++;
                }

                Flush();
                segments.Add(new Segment(null, null, int.Parse(template.AsSpan(i + 1, end - i - 1), System.Globalization.CultureInfo.InvariantCulture)));
                i = end;
            }
            else
            {
                text.Append(c);
                i++;
            }
        }

        Flush();
        return segments;

        void Flush()
        {
            if (text.Length > 0)
            {
                segments.Add(new Segment(text.ToString(), null, 0));
                text.Clear();
            }
        }
    }
}
