import Foundation

/// A version's performance on predictions with ground truth, overall and per cohort.
public struct PerformanceSummary: Codable, Sendable, Equatable {
    public struct Segment: Codable, Sendable, Equatable {
        public var segment: String
        public var report: PerformanceReport

        public init(segment: String, report: PerformanceReport) {
            self.segment = segment
            self.report = report
        }
    }

    public var model: String
    public var version: Int
    public var task: ModelTask
    public var overall: PerformanceReport
    /// Feedback (across all models) whose prediction was never logged or has expired.
    public var unmatchedFeedback: Int
    public var segments: [Segment]?
    /// Per period of prediction time, when asked for: the overall scores and each cohort's (cohorts as over the
    /// whole window).
    public var series: [Period]?

    /// One period's scores (`series`).
    public struct Period: Codable, Sendable, Equatable {
        public var start: Date
        public var end: Date
        public var overall: PerformanceReport
        public var segments: [Segment]?

        public init(start: Date, end: Date, overall: PerformanceReport, segments: [Segment]?) {
            self.start = start
            self.end = end
            self.overall = overall
            self.segments = segments
        }
    }

    public init(model: String, version: Int, task: ModelTask, overall: PerformanceReport, unmatchedFeedback: Int, segments: [Segment]?) {
        self.model = model
        self.version = version
        self.task = task
        self.overall = overall
        self.unmatchedFeedback = unmatchedFeedback
        self.segments = segments
    }

    enum CodingKeys: String, CodingKey {
        case model, version, task, overall, segments, series
        case unmatchedFeedback = "unmatched_feedback"
    }
}
