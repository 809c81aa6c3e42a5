namespace VfioFuzz.Conformance;

/// <summary>A recorded session held against the simulator's, call by call: a request that
/// differs ends the comparison (what follows would not line up); an answer that differs is
/// noted and the comparison goes on. Both conformance suites (IOAS and type1) use it.</summary>
static class CallByCall
{
    public static void Compare<T>(string name, IReadOnlyList<T> real, IReadOnlyList<T> ours, Func<T, T, bool> sameRequest,
        Func<T, string> request, Func<T, string> answer, List<ConformanceDifference> differences) where T : class
    {
        for (int i = 0; i < Math.Max(real.Count, ours.Count); i++)
        {
            var r = i < real.Count ? real[i] : null;
            var s = i < ours.Count ? ours[i] : null;
            if (r is null || s is null || !sameRequest(r, s))
            {
                differences.Add(new(name, $"call {i + 1}: the recording has {(r is null ? "nothing" : request(r))}, the suite asks {(s is null ? "nothing" : request(s))}"));
                return;
            }
            if (!r.Equals(s)) differences.Add(new(name, $"call {i + 1} {request(r)}: kernel {answer(r)}, simulator {answer(s)}"));
        }
    }
}
