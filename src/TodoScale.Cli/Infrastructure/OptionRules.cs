using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;
using System.Text.RegularExpressions;
using TodoScale.Application.Todos;

namespace TodoScale.Cli.Infrastructure;

/// <summary>
/// What an option accepts, checked while the command line is parsed: a bad value is then exit 2 with one line naming
/// the option, before the command connects anywhere or works for minutes (a bad demo --urls used to surface only after
/// the whole demo). Validators reading a number with GetValueOrDefault threw on "abc" and aborted the process (exit 134);
/// these parse the token themselves.
/// </summary>
public static partial class OptionRules
{
    /// <summary>A number from <paramref name="min"/> to <paramref name="max"/>: finite, in range, in invariant notation.</summary>
    public static Option<T> Between<T>(this Option<T> option, T min, T max, string unit = "") where T : struct, INumber<T>
    {
        option.CustomParser = result => ParseNumber(result, option.Name, min, max, unit) ?? default;
        return option;
    }

    /// <summary>
    /// A finite number of at most <paramref name="max"/>, for an option whose lower bound the command already checks with
    /// its own message: this refuses what that check cannot see (not a number, NaN, 1e300 overflowing a TimeSpan).
    /// </summary>
    public static Option<T> AtMost<T>(this Option<T> option, T max, string unit = "") where T : struct, INumber<T>
    {
        option.CustomParser = result => ParseNumber(result, option.Name, null, max, unit) ?? default;
        return option;
    }

    /// <summary>An optional number: absent means the command's default; given, it must be from <paramref name="min"/> to <paramref name="max"/>.</summary>
    public static Option<T?> Between<T>(this Option<T?> option, T min, T max, string unit = "") where T : struct, INumber<T>
    {
        option.CustomParser = result => ParseNumber(result, option.Name, min, max, unit);
        return option;
    }

    /// <summary>Refuses a given value for which <paramref name="problem"/> returns a message (said after the option's name).</summary>
    public static TOption Refusing<TOption>(this TOption option, Func<string, string?> problem) where TOption : Option
    {
        option.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (problem(token.Value) is { } message)
                {
                    result.AddError($"{option.Name} {message} (got {Quoted(token.Value)}).");
                    return;
                }
            }
        });
        return option;
    }

    /// <summary>One line of text of at most <paramref name="maxLength"/> characters, which the database can store.</summary>
    public static Func<string, string?> PlainText(int maxLength) => value =>
        value.Length > maxLength ? $"must be at most {maxLength} characters" : InputRules.CharacterProblem(value, TextShape.SingleLine);

    /// <summary>A folder: any path the file system takes, but no control characters, which are a paste gone wrong rather than a name.</summary>
    public static string? Folder(string value) => InputRules.CharacterProblem(value, TextShape.SingleLine) is null ? null : "must be a folder name without control characters";

    public static string? Email(string value) => InputRules.EmailProblem(value);

    /// <summary>
    /// A database name the command creates and drops: an unquoted PostgreSQL identifier of at most <paramref name="maxLength"/>
    /// characters. Longer names are truncated by the server, so the command would drop or connect to a different name.
    /// </summary>
    public static Func<string, string?> DatabaseName(int maxLength) => value =>
        value.Length <= maxLength && IdentifierPattern().IsMatch(value)
            ? null
            : $"must be lower-case letters, digits and underscores, not starting with a digit, at most {maxLength} characters";

    /// <summary>Addresses to listen on, separated by ';': each an absolute http or https URL with a valid port.</summary>
    public static string? HttpUrls(string value)
    {
        var urls = value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return urls.Length > 0 && urls.All(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && InputRules.CharacterProblem(u, TextShape.SingleLine) is null)
            ? null
            : "must be one or more http(s) addresses separated by ';', e.g. http://127.0.0.1:5080";
    }

    /// <summary>Counts of concurrent clients separated by commas, at least one, each from 1 to <paramref name="max"/>.</summary>
    public static Func<string, string?> ClientCounts(int max) => value =>
    {
        var items = value.Split(',', StringSplitOptions.TrimEntries);
        var numbers = items.Select(i => int.TryParse(i, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : (int?)null).ToList();
        return numbers.Any(n => n is null) ? "must be numbers separated by commas, e.g. 1,16"
            : numbers.All(n => n is >= 1 && n <= max) ? null
            : $"must list 1 to {max} clients, e.g. 1,16";
    };

    /// <summary>Names of <paramref name="what"/> from <paramref name="allowed"/> separated by commas (any case), at least one.</summary>
    public static Func<string, string?> NamesFrom(string what, IReadOnlyList<string> allowed) => value =>
    {
        var items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var unknown = items.FirstOrDefault(i => !allowed.Contains(i, StringComparer.OrdinalIgnoreCase));
        return items.Length == 0 ? $"must name at least one {what} of {string.Join(", ", allowed)}"
            : unknown is not null ? $"names an unknown {what} {Quoted(unknown)}; use {string.Join(", ", allowed)}"
            : null;
    };

    /// <summary>
    /// A value as an error message quotes it: control characters as \uXXXX, so an ESC sequence shows instead of rewriting
    /// the terminal, and at most 40 characters.
    /// </summary>
    public static string Quoted(string? value)
    {
        if (value is null)
        {
            return "nothing";
        }

        var shown = ControlCharacter().Replace(value.Length > 40 ? value[..40] : value, m => $"\\u{(int)m.Value[0]:X4}");
        return value.Length > 40 ? $"'{shown}...' ({value.Length} characters)" : $"'{shown}'";
    }

    /// <summary><paramref name="message"/> with its control characters but line breaks shown as \uXXXX, for stderr.</summary>
    public static string Printable(string message) => ControlCharacter().Replace(message, m => m.Value is "\n" ? "\n" : $"\\u{(int)m.Value[0]:X4}");

    private static T? ParseNumber<T>(ArgumentResult result, string name, T? min, T max, string unit) where T : struct, INumber<T>
    {
        var whole = typeof(T) == typeof(int) || typeof(T) == typeof(long);
        var styles = whole ? NumberStyles.AllowLeadingSign : NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;
        var token = result.Tokens.Count == 1 ? result.Tokens[0].Value : null;
        // .NET's number parsing ignores trailing NULs ("5\0" is 5); double.Parse reads "1e400" as infinity and accepts
        // "NaN": all three parse, none is what the user meant.
        if (token is not null && InputRules.CharacterProblem(token, TextShape.SingleLine) is null && T.TryParse(token, styles, CultureInfo.InvariantCulture, out var value) && T.IsFinite(value) && (min is null || value >= min) && value <= max)
        {
            return value;
        }

        var range = min is { } low ? $"between {low} and {max}{unit}" : $"at most {max}{unit}";
        result.AddError(string.Create(CultureInfo.InvariantCulture, $"{name} must be {range} ({(whole ? "a whole number" : "a number")}; got {Quoted(token)})."));
        return null;
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]*$")]
    private static partial Regex IdentifierPattern();

    [GeneratedRegex(@"\p{Cc}")]
    private static partial Regex ControlCharacter();
}
