using System.Globalization;

namespace VfioFuzz.Cli;

/// <summary>Durations as users type them: 90, 90s, 10m, 1h, 2d; at most <see cref="Max"/>.</summary>
static class Duration
{
    /// <summary>A year: longer than any campaign, and far from where DateTime arithmetic overflows.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromDays(365);

    /// <summary>The duration, or the one-line reason the text is not one.</summary>
    public static bool TryParse(string text, out TimeSpan value, out string? problem)
    {
        value = default;
        problem = $"'{text}' is not a duration (e.g. 90, 90s, 10m, 1h, 2d)";
        if (string.IsNullOrWhiteSpace(text)) return false;
        char unit = char.IsLetter(text[^1]) ? text[^1] : 's';
        string number = char.IsLetter(text[^1]) ? text[..^1] : text;
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || n < 0 || !double.IsFinite(n)) return false;
        double? seconds = unit switch { 's' => n, 'm' => n * 60, 'h' => n * 3600, 'd' => n * 86400, _ => null };
        if (seconds is null) return false;
        if (seconds > Max.TotalSeconds)
        {
            problem = $"'{text}' is longer than the longest budget ({Max.TotalDays:0} days)";
            return false;
        }
        value = TimeSpan.FromSeconds(seconds.Value);
        problem = null;
        return true;
    }
}
