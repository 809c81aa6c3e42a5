using System.Globalization;

namespace VfioFuzz.Cli;

/// <summary>Durations as users type them: 90, 90s, 10m, 1h.</summary>
static class Duration
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        char unit = char.IsLetter(text[^1]) ? text[^1] : 's';
        string number = char.IsLetter(text[^1]) ? text[..^1] : text;
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || n < 0) return false;
        double? seconds = unit switch { 's' => n, 'm' => n * 60, 'h' => n * 3600, _ => null };
        if (seconds is null) return false;
        value = TimeSpan.FromSeconds(seconds.Value);
        return true;
    }
}
