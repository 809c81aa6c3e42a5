namespace VfioFuzz.Machine;

/// <summary>An op that is not legal in the World's current state (a hand-written or minimized
/// program asked for something QEMU's memory core could never do). Not a finding.</summary>
public sealed class ProgramException(string message) : Exception(message);
