namespace NormalizingFlows.Hep.PhaseSpace;

/// <summary>A Les Houches Event file's content: the init block and the events.</summary>
/// <param name="Init">The init block.</param>
/// <param name="Events">The events in file order.</param>
public sealed record LesHouchesFile(LesHouchesInit Init, IReadOnlyList<LesHouchesEvent> Events);
