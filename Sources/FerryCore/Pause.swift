/// Sleeps for `interval` or less: it returns once `stop()` holds (checked every `step`) or the task is cancelled.
/// Loops that run on a schedule pause with it, so a shutdown or a doorbell is acted on at once, not at the next tick
/// (a retraining loop's 5 s sleep held up every `ferry serve` shutdown for as long).
public func pause(for interval: Duration, step: Duration = .milliseconds(50), unless stop: () -> Bool) async {
    let wake = ContinuousClock.now + interval
    while ContinuousClock.now < wake, !stop(), !Task.isCancelled {
        try? await Task.sleep(for: min(step, wake - ContinuousClock.now))
    }
}
