namespace VfioFuzz.Traces;

/// <summary>
/// The errno behind a strerror text as glibc prints it (`%m`, strerror) in QEMU's error lines,
/// and its symbolic name: one table of the errnos the DMA paths return.
/// </summary>
public static class ErrnoText
{
    static readonly (int Errno, string Name, string Text)[] Table =
    [
        (1, "EPERM", "Operation not permitted"),
        (2, "ENOENT", "No such file or directory"),
        (9, "EBADF", "Bad file descriptor"),
        (12, "ENOMEM", "Cannot allocate memory"),
        (14, "EFAULT", "Bad address"),
        (16, "EBUSY", "Device or resource busy"),
        (17, "EEXIST", "File exists"),
        (22, "EINVAL", "Invalid argument"),
        (25, "ENOTTY", "Inappropriate ioctl for device"),
        (28, "ENOSPC", "No space left on device"),
        (75, "EOVERFLOW", "Value too large for defined data type"),
        (95, "EOPNOTSUPP", "Operation not supported"),
        (98, "EADDRINUSE", "Address already in use"),
    ];

    /// <summary>The errno of a strerror text; 0 when it is not one of the table's.</summary>
    public static int Parse(string text) =>
        Array.Find(Table, t => string.Equals(t.Text, text.Trim(), StringComparison.OrdinalIgnoreCase)).Errno;

    /// <summary>strerror's text for an errno, as QEMU prints it (`%s` of strerror, `%m`), or
    /// glibc's "Unknown error N".</summary>
    public static string Describe(int errno) =>
        Array.Find(Table, t => t.Errno == errno).Text ?? $"Unknown error {errno.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>The symbolic name (ENOENT...) of an errno number, or its number.</summary>
    public static string Name(int errno) =>
        Array.Find(Table, t => t.Errno == errno).Name ?? errno.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
