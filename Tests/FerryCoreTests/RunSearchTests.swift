import FerryCore
import Testing

/// MLflow's run filter language, as `search_runs` sends it.
struct RunSearchTests {
    typealias S = RunSearch

    @Test(arguments: [
        ("metrics.loss < 0.5", [S.Clause(.metric("loss"), .less, .number(0.5))]),
        ("metric.`my loss` >= -1e-3", [S.Clause(.metric("my loss"), .greaterOrEqual, .number(-0.001))]),
        ("params.depth = '3' AND tags.team != \"risk\"", [S.Clause(.param("depth"), .equal, .string("3")), S.Clause(.tag("team"), .notEqual, .string("risk"))]),
        ("tags.\"mlflow.user\" LIKE 'an%'", [S.Clause(.tag("mlflow.user"), .like, .string("an%"))]),
        ("tags.mlflow.source.type = 'LOCAL'", [S.Clause(.tag("mlflow.source.type"), .equal, .string("LOCAL"))]),
        ("attributes.status ilike 'fin%'", [S.Clause(.attribute(.status), .ilike, .string("fin%"))]),
        ("attribute.run_id IN ('a', \"b\")", [S.Clause(.attribute(.runID), .in, .list(["a", "b"]))]),
        ("run_name NOT IN ('x')", [S.Clause(.attribute(.runName), .notIn, .list(["x"]))]),
        ("attributes.start_time > 1700000000000", [S.Clause(.attribute(.startTime), .greater, .number(1_700_000_000_000))]),
        ("tags.team is not null and params.x IS NULL", [S.Clause(.tag("team"), .isNotNull, .list([])), S.Clause(.param("x"), .isNull, .list([]))]),
        ("", []),
    ])
    func parses(_ text: String, _ expected: [S.Clause]) throws {
        #expect(try S.parseFilter(text) == expected)
    }

    @Test(arguments: [
        ("metrics.loss = 'a'", "is numeric; compare it with a number"),
        ("metrics.loss LIKE 1", "is numeric; compare it with =, !=, <, <=, > or >="),
        ("params.depth = 3", "is a string; quote the value"),
        ("params.depth > '3'", "is a string; compare it with =, !=, LIKE, ILIKE, IN or NOT IN"),
        ("params.depth = '3' or params.x = 'y'", "expected 'and' between clauses"),
        ("attributes.color = 'red'", "'color' is not a run attribute"),
        ("datasets.name = 'x'", "'datasets' is not a field kind"),
        ("params.depth = '3", "quote is not closed"),
        ("attributes.start_time > 1.5", "compare it with a whole number"),
        ("metrics.loss <", "needs a value"),
        ("metrics.loss IS NULL", "apply to params and tags only"),
    ])
    func refuses(_ text: String, _ message: String) {
        #expect {
            try S.parseFilter(text)
        } throws: { error in
            (error as? FerryError)?.code == .invalidArgument && (error as? FerryError)?.message.contains(message) == true
        }
    }

    @Test func ordersAndPages() throws {
        #expect(try S.parseOrder(["metrics.loss DESC", "params.depth", "start_time asc"]) == [
            S.Order(.metric("loss"), ascending: false), S.Order(.param("depth"), ascending: true), S.Order(.attribute(.startTime), ascending: true),
        ])
        #expect(throws: FerryError.self) { try S.parseOrder(["metrics.loss sideways"]) }
        #expect(try S.offset(pageToken: S.pageToken(offset: 1000)) == 1000)
        #expect(try S.offset(pageToken: nil) == 0 && S.offset(pageToken: "") == 0)
        #expect(throws: FerryError.self) { try S.offset(pageToken: "not a token") }
    }
}
