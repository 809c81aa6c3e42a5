namespace VfioFuzz;

/// <summary>
/// Bad input from the user: a file that is not what it should be, an option that makes no
/// sense, a run that cannot start. The CLI prints its message as one line (`file:line:
/// message` when a file is involved) and exits 2; every other exception is the harness's own
/// failure (exit 3, stack trace in a log file).
/// </summary>
public class InputException(string message) : Exception(message);
