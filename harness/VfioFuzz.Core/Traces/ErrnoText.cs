namespace VfioFuzz.Traces;

/// <summary>
/// The errno behind a strerror text as glibc prints it (`%m`, strerror) in QEMU's error lines;
/// 0 when the text is not one of the errnos the DMA paths return.
/// </summary>
public static class ErrnoText
{
    static readonly Dictionary<string, int> Texts = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Operation not permitted"] = 1,
        ["No such file or directory"] = 2,
        ["Bad file descriptor"] = 9,
        ["Cannot allocate memory"] = 12,
        ["Bad address"] = 14,
        ["Device or resource busy"] = 16,
        ["File exists"] = 17,
        ["Invalid argument"] = 22,
        ["Inappropriate ioctl for device"] = 25,
        ["No space left on device"] = 28,
        ["Value too large for defined data type"] = 75,
        ["Operation not supported"] = 95,
        ["Address already in use"] = 98,
    };

    public static int Parse(string text) => Texts.TryGetValue(text.Trim(), out int e) ? e : 0;

    /// <summary>The symbolic name (ENOENT...) of an errno number, or its number.</summary>
    public static string Name(int errno) => errno switch
    {
        1 => "EPERM", 2 => "ENOENT", 9 => "EBADF", 12 => "ENOMEM", 14 => "EFAULT", 16 => "EBUSY", 17 => "EEXIST",
        22 => "EINVAL", 25 => "ENOTTY", 28 => "ENOSPC", 75 => "EOVERFLOW", 95 => "EOPNOTSUPP", 98 => "EADDRINUSE",
        _ => errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
